"""PAdES baseline signatures (B-B, B-T, B-LT, B-LTA) with pyHanko, checked before handed out.

Invariant 6 lives here: :meth:`PadesSigner.sign` validates its own output and returns the level
that validation *confirmed*. If the key, TSA, OCSP or CRL fails, or the result falls short of the
level the signer is configured for, it raises :class:`SigningError`; it never returns a weaker
signature.

B-LT and B-LTA: before signing, the signer's and the TSA's chains are validated with revocation
checking in hard-fail mode (a responder that does not answer fails the signature, a revoked
certificate never signs). The revocation data gathered there goes into the DSS in a revision of
its own (B-LT) or together with a document timestamp over it (B-LTA). pyHanko's own post-signing
step is not used because it opens a plain incremental writer, which would break PDF/A; every
revision here goes through :func:`~archive_service.signing.pdf_writer.open_for_signing`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.keys.internal import translate_pyca_cryptography_cert_to_asn1
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import RevokedError
from pyhanko_certvalidator.fetchers.api import FetcherBackend
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from archive_service.signing._sync import run_sync
from archive_service.signing.certificates import (
    CertificateLike,
    issuer_text,
    serial_hex,
    subject_text,
    to_asn1_certificates,
)
from archive_service.signing.errors import SigningError, UnreadablePdf
from archive_service.signing.key_signer import ParsedKeySigner
from archive_service.signing.long_term import (
    FETCH_TIMEOUT,
    LONG_TERM_LEVELS,
    add_validation_data,
    revocation_context,
    validated_signer_paths,
    validated_tsa_paths,
)
from archive_service.signing.pdf_writer import next_field_name, open_for_signing
from archive_service.signing.validation import SignatureReport, async_validate_pdf

#: Levels this signer can produce, weakest first.
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
#: Signature fields are named ``ArchiveSeal1``, ``ArchiveSeal2``, … in signing order.
FIELD_PREFIX = "ArchiveSeal"


@dataclass(frozen=True)
class SignedDocument:
    """A signed PDF and what validation confirmed about its (newest) signature."""

    pdf: bytes
    #: ``B-B`` … ``B-LTA``: the level confirmed by validating :attr:`pdf`.
    level: str
    #: The signature timestamp's time from B-T up; the signer's claimed time for B-B. UTC.
    signed_at: dt.datetime
    #: Where the key lives: ``pkcs12``, ``test-pki``, …
    signer_kind: str
    signer_subject: str
    signer_serial: str
    signer_issuer: str
    #: Whether this is a qualified seal/signature (never for the test PKI or a key file).
    qualified: bool


class PadesSigner:
    """Signs PDFs as PAdES baseline B-B … B-LTA with a pyHanko :class:`Signer`.

    :param signer: holds the key and certificate chain to embed.
    :param timestamper: the TSA; required from B-T up, ignored for B-B. For B-LTA it also makes
        the document timestamp.
    :param trust_roots: roots the result must validate against before it is returned.
    :param level: one of :data:`LEVELS`.
    :param signer_kind: recorded with each document (``pkcs12``, ``test-pki``, …).
    :param qualified: whether the key and certificate make a qualified seal.
    :param fetcher_backend: how B-LT/B-LTA reach OCSP responders and CRLs; ``None`` means
        pyHanko's ordinary HTTP fetchers (``requests``). The test PKI passes its in-process one.
    """

    def __init__(
        self,
        signer: Signer,
        *,
        timestamper: TimeStamper | None,
        trust_roots: Sequence[CertificateLike],
        level: str = "B-T",
        signer_kind: str,
        qualified: bool,
        fetcher_backend: FetcherBackend | None = None,
    ) -> None:
        if level not in LEVELS:
            raise ValueError(f"unsupported PAdES level {level!r}; choose one of {LEVELS}")
        if level != "B-B" and timestamper is None:
            raise ValueError(f"a {level} signer needs a timestamper")
        if not trust_roots:
            raise ValueError("a signer needs trust roots to check its own signatures")
        self.level = level
        self.signer_kind = signer_kind
        self.qualified = qualified
        self._signer = signer
        self._timestamper = timestamper if level != "B-B" else None
        self._trust_roots = to_asn1_certificates(trust_roots)
        self._fetcher_backend = fetcher_backend

    @property
    def certificate(self) -> x509.Certificate:
        """The signing certificate every signature embeds."""
        cert = self._signer.signing_cert
        if cert is None:
            raise SigningError("The signer has no signing certificate.")
        return cert

    @classmethod
    def from_pkcs12(
        cls,
        path: str | os.PathLike[str],
        passphrase: bytes | None,
        *,
        timestamper: TimeStamper | None,
        trust_roots: Sequence[CertificateLike],
        level: str = "B-T",
        fetcher_backend: FetcherBackend | None = None,
    ) -> PadesSigner:
        """A signer for a PKCS#12 file (key, certificate and the chain it carries).

        Never ``qualified``: a key in a file is not held in a QSCD, whatever its certificate says.

        :raises SigningError: the file is missing, unreadable or the passphrase is wrong.
        """
        try:
            key, cert, chain = pkcs12.load_key_and_certificates(Path(path).read_bytes(), passphrase)
        except (OSError, ValueError) as exc:
            raise SigningError(f"The signing key {path} could not be loaded: {exc}") from exc
        if key is None or cert is None:
            raise SigningError(f"The PKCS#12 file {path} holds no key and certificate.")
        signer = ParsedKeySigner(
            translate_pyca_cryptography_cert_to_asn1(cert),
            key,
            [translate_pyca_cryptography_cert_to_asn1(extra) for extra in chain],
        )
        return cls(
            signer,
            timestamper=timestamper,
            trust_roots=trust_roots,
            level=level,
            signer_kind="pkcs12",
            qualified=False,
            fetcher_backend=fetcher_backend,
        )

    def sign(self, pdf: bytes, *, reason: str, location: str | None = None) -> SignedDocument:
        """Sign ``pdf`` and confirm the result; see the module docstring for the guarantees.

        :raises UnreadablePdf: ``pdf`` is not a PDF.
        :raises SigningError: no signature of :attr:`level` could be made.
        """
        return run_sync(self.async_sign(pdf, reason=reason, location=location))

    async def async_sign(
        self, pdf: bytes, *, reason: str, location: str | None = None
    ) -> SignedDocument:
        """:meth:`sign` for callers that already run an event loop."""
        self._require_current_certificate()
        writer = open_for_signing(pdf)
        field_name = next_field_name(writer.prev, FIELD_PREFIX)
        long_term = self.level in LONG_TERM_LEVELS
        if long_term:
            assert self._timestamper is not None
            context = revocation_context(self._trust_roots, self._fetcher_backend)
            # Before the key is used: a revoked certificate or a silent responder stops here.
            paths = [
                await validated_signer_paths(self._signer, context),
                *await validated_tsa_paths(self._timestamper, context),
            ]
        else:
            await self._refuse_if_revoked()
        metadata = PdfSignatureMetadata(
            field_name=field_name,
            subfilter=SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            reason=reason,
            location=location,
            use_pades_lta=False,
        )
        pdf_signer = PdfSigner(metadata, signer=self._signer, timestamper=self._timestamper)
        try:
            output = await pdf_signer.async_sign_pdf(writer)
        except Exception as exc:  # key, HSM, TSA, network: whatever failed, nothing is signed
            raise SigningError(f"Signing failed ({type(exc).__name__}: {exc}).") from exc
        signed = output.getvalue()
        if long_term:
            assert self._timestamper is not None
            signed = await add_validation_data(
                signed,
                paths,
                context,
                archive_timestamper=self._timestamper if self.level == "B-LTA" else None,
            )
        return self._confirm(signed, await self._own_signature(signed, field_name))

    async def _refuse_if_revoked(self) -> None:
        """B-B and B-T embed no revocation data, so no validator (EU DSS included) could tell
        that the seal was revoked when it signed: ask its responder first. A responder that
        does not answer does not stop a level that makes no revocation claim (soft-fail); one
        that says "revoked" does."""
        context = ValidationContext(
            trust_roots=list(self._trust_roots),
            allow_fetching=True,
            revocation_mode="soft-fail",
            fetcher_backend=self._fetcher_backend or RequestsFetcherBackend(FETCH_TIMEOUT),
        )
        try:
            await validated_signer_paths(self._signer, context)
        except SigningError as exc:
            if isinstance(exc.__cause__, RevokedError):
                raise
            # Anything else (no chain, no answer) is for the confirmation after signing.

    def _require_current_certificate(self) -> None:
        """Fail with the real reason, not with the untrusted chain validation would report."""
        validity = self.certificate["tbs_certificate"]["validity"]
        not_before = validity["not_before"].native
        not_after = validity["not_after"].native
        if not not_before <= dt.datetime.now(dt.UTC) <= not_after:
            raise SigningError(
                f"The signing certificate {subject_text(self._signer.signing_cert)} is valid "
                f"only from {not_before.isoformat()} to {not_after.isoformat()}; renew it."
            )

    async def _own_signature(self, signed: bytes, field_name: str) -> SignatureReport:
        try:
            report = await async_validate_pdf(
                signed, self._trust_roots, analyse_modifications=False
            )
        except UnreadablePdf as exc:
            raise SigningError(f"The signed document cannot be read back: {exc.message}") from exc
        for signature in report.signatures:
            if signature.field_name == field_name:
                return signature
        raise SigningError(f"The signed document has no signature in field {field_name}.")

    def _confirm(self, signed: bytes, own: SignatureReport) -> SignedDocument:
        problems = []
        if not own.acceptable:
            problems.append(own.summary)
        if not own.end_covered:
            problems.append("the signature does not cover the whole file")
        if own.level != self.level:
            problems.append(f"validation confirms level {own.level or 'none'}")
        if problems:
            raise SigningError(
                f"The {self.level} signature could not be confirmed: " + " ".join(problems)
            )
        signed_at = own.signing_time if own.level == "B-B" else own.timestamp_time
        cert = self._signer.signing_cert
        return SignedDocument(
            pdf=signed,
            level=self.level,
            signed_at=signed_at or dt.datetime.now(dt.UTC),
            signer_kind=self.signer_kind,
            signer_subject=subject_text(cert),
            signer_serial=serial_hex(cert),
            signer_issuer=issuer_text(cert),
            qualified=self.qualified,
        )
