"""The raw objects behind each signature that the ETSI report names, read from the PDF.

:class:`~archive_service.signing.SignatureReport` carries verdicts and names, not bytes; the
ETSI report must identify each signature by the digest of its value, reference the signer's
certificate and the signed bytes, and list the validation objects (certificates, revocation
data, timestamps) the file carries. Until the signing room reports those, they are read here,
read-only, from the same PDF:

* per signature: the signer's certificate, the signature value, ``/ByteRange`` and the digest of
  the bytes it covers, the certificates and revocation data of its CMS (``certificates``,
  ``crls`` and Adobe's ``adbe-revocationInfoArchival`` attribute), and its signature timestamp
  token with the TSA's certificates;
* for the whole document (shared by every signature): the DSS's ``/Certs``, ``/OCSPs`` and
  ``/CRLs`` and the document (archive) timestamps.

Each object records the PDF revision whose bytes hold it and the field whose ``/Contents`` hold
it (``None`` for the DSS), so the report can say which timestamp covers which object.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from io import BytesIO
from typing import Any, Literal, TypeVar

from asn1crypto import cms
from asn1crypto import pdf as asn1_pdf  # noqa: F401 (registers adbe-revocationInfoArchival)
from pyhanko.pdf_utils.generic import DictionaryObject, IndirectObject
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.dss import DocumentSecurityStore, NoDSSFoundError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

_UNREADABLE = (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError)

T = TypeVar("T")
Part = TypeVar("Part")

#: The ETSI TS 119 102-2 object type (``urn:etsi:019102:validationObject:<kind>``).
ObjectKind = Literal["certificate", "OCSPResponse", "CRL"]


@dataclass(frozen=True)
class RawObject:
    """A certificate, OCSP response or CRL found in the PDF, as DER."""

    kind: ObjectKind
    der: bytes
    #: The PDF revision (0-based, as pyHanko counts) whose bytes hold it, if known.
    revision: int | None
    #: The signature or document timestamp field whose ``/Contents`` hold it; ``None``: the DSS.
    carrier: str | None

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.der).digest()


@dataclass(frozen=True)
class TimestampEvidence:
    """An RFC 3161 timestamp token: a signature timestamp or a document timestamp."""

    kind: Literal["signature", "document"]
    #: DER of the token (a CMS ``ContentInfo``).
    token: bytes
    #: ``genTime`` of the token's ``TSTInfo``.
    gen_time: dt.datetime | None
    #: The TSA's certificate (the token's signer), when the token carries it.
    tsa_certificate: bytes | None
    #: Certificates and revocation data inside the token.
    objects: tuple[RawObject, ...]
    revision: int | None
    #: The signature (signature timestamp) or document timestamp field holding the token.
    carrier: str

    @property
    def sha256(self) -> bytes:
        return hashlib.sha256(self.token).digest()


@dataclass(frozen=True)
class DocumentEvidence:
    """What belongs to the file rather than to one signature."""

    #: ``/DSS`` ``/Certs``, ``/OCSPs`` and ``/CRLs``, in that order.
    dss: tuple[RawObject, ...] = ()
    #: Document timestamps (``/DocTimeStamp``), oldest first.
    timestamps: tuple[TimestampEvidence, ...] = ()


@dataclass(frozen=True)
class SignatureEvidence:
    field_name: str
    #: DER of the signer's certificate as embedded in the CMS, if it could be read.
    signer_certificate: bytes | None
    #: The CMS ``SignerInfo.signature`` octets (the signature value).
    signature_value: bytes | None
    #: ``/ByteRange``: offset, length pairs of the signed bytes.
    byte_range: tuple[int, ...]
    #: SHA-256 of the bytes the ``/ByteRange`` covers (the signed revision minus /Contents).
    signed_bytes_sha256: bytes | None
    #: The revision the signature signs (its ``/Contents`` are in that revision's bytes).
    revision: int | None = None
    #: Certificates and revocation data in the signature's CMS.
    objects: tuple[RawObject, ...] = ()
    #: The signature timestamp token (B-T and above).
    signature_timestamp: TimestampEvidence | None = None
    #: The DSS and document timestamps of the file (the same object for every signature).
    document: DocumentEvidence = field(default_factory=DocumentEvidence)


def signature_evidence(pdf: bytes) -> dict[str, SignatureEvidence]:
    """Evidence per signature field name; empty for an unreadable or unsigned PDF."""
    try:
        reader = PdfFileReader(BytesIO(pdf))
        embedded = reader.embedded_regular_signatures
    except _UNREADABLE:
        return {}
    if not embedded:
        return {}
    document = DocumentEvidence(
        dss=_dss_objects(reader),
        timestamps=tuple(_document_timestamps(reader)),
    )
    found: dict[str, SignatureEvidence] = {}
    for signature in embedded:
        try:
            found[signature.field_name] = SignatureEvidence(
                field_name=signature.field_name,
                signer_certificate=_maybe_of(lambda s: s.signer_cert.dump(), signature),
                signature_value=_maybe_of(
                    lambda s: bytes(s.signer_info["signature"].native), signature
                ),
                byte_range=(byte_range := _byte_range(signature.sig_object)),
                signed_bytes_sha256=_signed_bytes_digest(pdf, byte_range),
                revision=(revision := _maybe_of(lambda s: s.signed_revision, signature)),
                objects=tuple(_cms_objects(signature.signed_data, revision, signature.field_name)),
                signature_timestamp=_maybe(partial(_signature_timestamp, signature, revision)),
                document=document,
            )
        except _UNREADABLE:
            continue
    return found


def _maybe(read: Callable[[], T]) -> T | None:
    """A part that cannot be read is left out of the report, not a reason to fail it."""
    try:
        return read()
    except _UNREADABLE:
        return None


def _maybe_of(read: Callable[[Part], T], part: Part) -> T | None:
    """:func:`_maybe` reading ``part`` (a loop's current value, bound by this call)."""
    return _maybe(lambda: read(part))


def _byte_range(sig_object: DictionaryObject) -> tuple[int, ...]:
    return tuple(int(value) for value in sig_object.get("/ByteRange", ()))


def _signed_bytes_digest(pdf: bytes, byte_range: tuple[int, ...]) -> bytes | None:
    if not byte_range or len(byte_range) % 2:
        return None
    digest = hashlib.sha256()
    for offset, length in zip(byte_range[::2], byte_range[1::2], strict=True):
        if offset < 0 or length < 0 or offset + length > len(pdf):
            return None
        digest.update(pdf[offset : offset + length])
    return digest.digest()


# ------------------------------------------------------------------------------------ the DSS


def _dss_objects(reader: PdfFileReader) -> tuple[RawObject, ...]:
    """``/Certs``, ``/OCSPs`` and ``/CRLs`` of the DSS (pyHanko's reading of it), as DER."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except (NoDSSFoundError, *_UNREADABLE):
        return ()
    groups: tuple[tuple[ObjectKind, Iterable[IndirectObject]], ...] = (
        ("certificate", dss.certs.values()),
        ("OCSPResponse", dss.ocsps),
        ("CRL", dss.crls),
    )
    found: list[RawObject] = []
    for kind, references in groups:
        for reference in references:
            der = _maybe_of(lambda r: r.get_object().data, reference)
            if der:
                revision = _maybe_of(lambda r: reader.xrefs.get_last_change(r.reference), reference)
                found.append(RawObject(kind, der, revision, None))
    return tuple(found)


# ------------------------------------------------------------------------------- CMS content


def _cms_objects(
    signed_data: cms.SignedData, revision: int | None, carrier: str
) -> Iterator[RawObject]:
    """The certificates and revocation data a CMS ``SignedData`` carries."""
    for choice in signed_data["certificates"] or ():
        if choice.name == "certificate":
            yield RawObject("certificate", choice.chosen.dump(), revision, carrier)
    for choice in signed_data["crls"] or ():
        if choice.name == "crl":
            yield RawObject("CRL", choice.chosen.dump(), revision, carrier)
        elif choice.chosen["other_rev_info_format"].native == "ocsp_response":
            yield RawObject(
                "OCSPResponse", choice.chosen["other_rev_info"].dump(), revision, carrier
            )
    for signer_info in signed_data["signer_infos"]:
        for archival in _attribute_values(
            signer_info["signed_attrs"], "adobe_revocation_info_archival"
        ):
            for crl in archival["crl"] or ():
                yield RawObject("CRL", crl.dump(), revision, carrier)
            for response in archival["ocsp"] or ():
                yield RawObject("OCSPResponse", response.dump(), revision, carrier)


def _attribute_values(attributes: cms.CMSAttributes | None, name: str) -> list[Any]:
    found: list[Any] = []
    for attribute in attributes or ():
        if attribute["type"].native == name:
            found.extend(attribute["values"])
    return found


# -------------------------------------------------------------------------------- timestamps


def _signature_timestamp(
    signature: EmbeddedPdfSignature, revision: int | None
) -> TimestampEvidence | None:
    tokens = _attribute_values(
        signature.signer_info["unsigned_attrs"], "signature_time_stamp_token"
    )
    if not tokens:
        return None
    return _timestamp("signature", tokens[0], revision, signature.field_name)


def _document_timestamps(reader: PdfFileReader) -> Iterator[TimestampEvidence]:
    try:
        embedded = reader.embedded_timestamp_signatures
    except _UNREADABLE:
        return
    for stamp in embedded:
        evidence = _maybe_of(
            lambda s: _timestamp(
                "document",
                cms.ContentInfo.load(bytes(s.pkcs7_content)),
                s.signed_revision,
                s.field_name,
            ),
            stamp,
        )
        if evidence is not None:
            yield evidence


def _timestamp(
    kind: Literal["signature", "document"],
    token: cms.ContentInfo,
    revision: int | None,
    carrier: str,
) -> TimestampEvidence:
    signed_data = token["content"]
    return TimestampEvidence(
        kind=kind,
        token=token.dump(),
        gen_time=_maybe(
            lambda: signed_data["encap_content_info"]["content"].parsed["gen_time"].native
        ),
        tsa_certificate=_maybe(lambda: _signer_certificate(signed_data)),
        objects=tuple(_cms_objects(signed_data, revision, carrier)),
        revision=revision,
        carrier=carrier,
    )


def _signer_certificate(signed_data: cms.SignedData) -> bytes | None:
    """The certificate the (first) ``SignerInfo`` names, among those the CMS carries."""
    identifier = signed_data["signer_infos"][0]["sid"]
    for choice in signed_data["certificates"] or ():
        if choice.name != "certificate":
            continue
        certificate = choice.chosen
        if identifier.name == "issuer_and_serial_number":
            wanted = identifier.chosen
            if (
                certificate.issuer == wanted["issuer"]
                and certificate.serial_number == wanted["serial_number"].native
            ):
                return certificate.dump()
        elif certificate.key_identifier == identifier.chosen.native:
            return certificate.dump()
    return None
