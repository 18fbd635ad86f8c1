"""The sealing seam: what the archive asks of whatever seals its documents.

Like :class:`~archive_service.storage.ObjectStore` for bytes at rest, :class:`Sealer` is the one
contract for making a PDF provable, whichever backend stands behind it (``signing/backends/``:
a key file, a PKCS#11 token, the local test PKI, or an outside party). Configuration picks the
backends once (:mod:`archive_service.signers`) and hands the archive a :class:`Sealing`: the
sealer for each institution plus what keeps seals provable later (trust roots, the renewal and
audit TSAs, where revocation data comes from).

:meth:`Sealer.seal` returns one of two results, and callers branch on the *result*, never on the
backend:

* a :class:`~archive_service.signing.pades.SignedDocument` — sealed here and now, confirmed by
  validation at the level asked for (invariant 6);
* a :class:`PreparedDocument` — the signature's place is reserved and the data to be signed is
  computed, but the key is an outside party's: the caller keeps the prepared document (plain
  bytes and numbers) until the party answers, then calls :meth:`Sealer.finish`.

What can be known *before* sealing — who seals, and whether the answer comes later — is the
sealer's :class:`Signatory`, so a document can name its signatory on its title page.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from asn1crypto import x509

from archive_service.signing.certificates import issuer_text, serial_hex, subject_text
from archive_service.signing.pades import SignedDocument

if TYPE_CHECKING:
    from pyhanko.sign.timestamps import TimeStamper
    from pyhanko_certvalidator.fetchers.api import FetcherBackend


@dataclass(frozen=True)
class Signatory:
    """Who seals an institution's documents, known before any document is sealed."""

    #: Where the key lives, recorded with each document: ``test-pki``, ``pkcs12``, ``pkcs11``,
    #: ``external``.
    kind: str
    #: The signing certificate the seals are made with.
    certificate: x509.Certificate
    #: Whether the seals are qualified (never for the test PKI or a key file).
    qualified: bool
    #: Whether an outside party holds the key: :meth:`Sealer.seal` then returns a
    #: :class:`PreparedDocument` and the document is finished when the party answers.
    outside: bool = False

    @property
    def subject(self) -> str:
        return subject_text(self.certificate)

    @property
    def serial(self) -> str:
        return serial_hex(self.certificate)

    @property
    def issuer(self) -> str:
        return issuer_text(self.certificate)


# ------------------------------------------------------------- outside signatures


@dataclass(frozen=True)
class PreparedSignature:
    """A PDF with a reserved, empty signature, and what the outside party must sign.

    Only bytes, numbers and names, so that it can be stored and finished by another process
    days later.
    """

    #: The PDF with the signature dictionary in place and ``/Contents`` still zeros.
    pdf: bytes
    #: The hex string ``<…>`` left out of the byte range (start and end offsets in :attr:`pdf`).
    reserved_start: int
    reserved_end: int
    #: SHA-256 over the byte range: what a whole CMS's messageDigest must be.
    document_digest: bytes
    #: DER of the CMS signed attributes (a SET OF): the data a raw signature is computed over.
    signed_attributes: bytes
    #: asn1crypto name of the signature algorithm a raw signature must use
    #: (``sha256_ecdsa``, ``sha256_rsa``).
    signature_algorithm: str
    #: DER of the signer's certificate and of its intermediates.
    certificate: bytes
    chain: tuple[bytes, ...]
    #: The PAdES level the finished document must reach.
    level: str
    #: The signature field reserved in :attr:`pdf`.
    field_name: str

    @property
    def signed_attributes_digest(self) -> bytes:
        """SHA-256 of :attr:`signed_attributes`: what "sign this hash" interfaces take."""
        return hashlib.sha256(self.signed_attributes).digest()

    @property
    def signer_certificate(self) -> x509.Certificate:
        return x509.Certificate.load(self.certificate)


@dataclass(frozen=True)
class PreparedDocument:
    """What :meth:`Sealer.seal` returns when an outside party is to sign: keep it until then."""

    prepared: PreparedSignature
    #: How long the prepared document may wait for its answer (the caller enforces it).
    valid_for: dt.timedelta


@dataclass(frozen=True)
class RawSignature:
    """A signature value over :attr:`PreparedSignature.signed_attributes`.

    :param certificate: optionally, the certificate the signer used (DER); it must be the
        prepared one, which lets a party that holds several keys find out it used the wrong one.
    """

    value: bytes
    certificate: bytes | None = None


@dataclass(frozen=True)
class CmsSignature:
    """A DER ``ContentInfo`` with a detached ``SignedData`` over the document's byte range."""

    der: bytes


SignatureAnswer = RawSignature | CmsSignature
#: Sealed now, or prepared for an outside signature.
SealResult = SignedDocument | PreparedDocument


# ---------------------------------------------------------------------- the seam


class Sealer(Protocol):
    """One way of sealing PDFs at one PAdES level."""

    @property
    def level(self) -> str:
        """``B-B`` … ``B-LTA``: the level every seal is confirmed at."""
        ...

    @property
    def signatory(self) -> Signatory:
        ...

    def seal(self, pdf: bytes, *, reason: str, location: str | None = None) -> SealResult:
        """Seal ``pdf``, or prepare it for the outside party's signature.

        :raises UnreadablePdf: ``pdf`` is not a PDF.
        :raises SigningError: no seal of :attr:`level` could be made (key, TSA, revocation);
            nothing weaker is ever returned.
        """
        ...

    def finish(self, prepared: PreparedSignature, answer: SignatureAnswer) -> SignedDocument:
        """Finish a document :meth:`seal` prepared with the outside party's answer.

        :raises SignatureRejected: the answer cannot finish it (nothing changed; answer again).
        :raises ServiceUnavailable: this sealer prepares nothing (its key is held here).
        """
        ...


@dataclass(frozen=True)
class Sealing:
    """How the archive seals each institution's documents and keeps the seals provable.

    Built by configuration (:func:`archive_service.signers.build_sealing`); the archive only
    asks it for a :class:`Sealer` and never which backend it got.
    """

    #: The sealer of institutions without one of their own.
    default: Sealer
    #: The roots validation trusts (the test PKI's root with the test PKI).
    trust_roots: Sequence[x509.Certificate]
    #: Sealers of the institutions (EDRPOU) that differ from :attr:`default` (another level, or
    #: an outside party).
    by_institution: Mapping[str, Sealer] = field(default_factory=dict)
    #: The TSA that renews archive timestamps; ``None``: no renewals.
    renewal_timestamper: TimeStamper | None = None
    #: The TSA that timestamps the audit log's chain head; ``None`` when none is configured.
    audit_timestamper: TimeStamper | None = None
    #: Where renewals fetch OCSP/CRL data; ``None`` means plain HTTP to the certificates' URLs.
    fetcher_backend: FetcherBackend | None = None
    #: Whether the local TEST PKI seals (documents then say so on their title page).
    test_pki: bool = False

    def sealer_for(self, edrpou: str) -> Sealer:
        """The sealer for an institution's journals: key and level are configuration."""
        return self.by_institution.get(edrpou, self.default)
