"""What the signatures in a PDF prove, as a small report people and the API can read.

The report is deliberately flat (strings, booleans, UTC datetimes): it is stored, rendered as
JSON and printed by the CLI, and must not leak pyHanko types past this room.

Revocation is not checked yet: the validation context uses ``revocation_mode="soft-fail"`` and
never fetches (no OCSP/CRL in this issue; the test PKI publishes none). A revoked certificate is
therefore only caught once revocation data is embedded (B-LT) or a responder is configured.
Document timestamps (B-LTA) are not reported yet; only regular signatures are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from io import BytesIO
from typing import Any

from asn1crypto import x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext

from archive_service.signing._sync import run_sync
from archive_service.signing.certificates import (
    CertificateLike,
    issuer_text,
    serial_hex,
    subject_text,
    to_asn1_certificates,
)
from archive_service.signing.errors import UnreadablePdf

#: ``/SubFilter`` of PAdES baseline signatures; ``adbe.pkcs7.detached`` ones get no level.
PADES_SUBFILTER = "/ETSI.CAdES.detached"

_UNREADABLE_SIGNATURE = (PdfError, SignatureValidationError, ValueError, KeyError, TypeError)


@dataclass(frozen=True)
class SignatureReport:
    """The verdict on one embedded signature."""

    field_name: str
    signer_subject: str
    signer_issuer: str
    signer_serial: str
    #: Time the signer claims (``/M``); not proof of anything.
    signing_time: dt.datetime | None
    #: Time certified by the signature timestamp (B-T and above).
    timestamp_time: dt.datetime | None
    timestamp_authority: str | None
    #: ``B-B`` / ``B-T`` for an intact, cryptographically valid PAdES signature, else ``None``.
    level: str | None
    #: The signed bytes are unchanged.
    intact: bool
    #: The cryptographic signature verifies.
    valid: bool
    #: The signer's certificate chains to one of the trust roots.
    trusted: bool
    #: The timestamp token is intact, valid and trusted; ``None`` when there is none.
    timestamp_valid: bool | None
    #: Changes after signing (if any) are of a kind the signature permits.
    modifications_ok: bool
    #: ``entire_file``, ``entire_revision`` (more was appended), ``contiguous_block_from_start``
    #: or ``unclear``.
    coverage: str
    #: ``none``, ``lta_updates``, ``form_filling``, ``annotations``, ``other`` or ``unknown``.
    modification_level: str
    summary: str

    @property
    def acceptable(self) -> bool:
        """Intact, valid, trusted, with a good timestamp if it has one and no illegal changes."""
        return (
            self.intact
            and self.valid
            and self.trusted
            and self.timestamp_valid is not False
            and self.modifications_ok
        )

    def as_dict(self) -> dict[str, Any]:
        return {key: _jsonable(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class ValidationReport:
    signatures: tuple[SignatureReport, ...]

    @property
    def all_valid(self) -> bool:
        """At least one signature, all acceptable, and the last one signs the whole file.

        The last condition matters: bytes appended after the final signature are covered by no
        signature at all, whatever they contain.
        """
        return (
            bool(self.signatures)
            and all(signature.acceptable for signature in self.signatures)
            and self.signatures[-1].coverage == "entire_file"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "all_valid": self.all_valid,
            "signatures": [signature.as_dict() for signature in self.signatures],
        }


def validate_pdf(pdf: bytes, trust_roots: Sequence[CertificateLike]) -> ValidationReport:
    """Validate every signature in ``pdf`` against ``trust_roots``, without network access.

    :raises UnreadablePdf: the bytes are not a PDF (a PDF without signatures is fine and gives
        an empty report).
    """
    return run_sync(async_validate_pdf(pdf, trust_roots))


async def async_validate_pdf(
    pdf: bytes, trust_roots: Sequence[CertificateLike]
) -> ValidationReport:
    roots = to_asn1_certificates(trust_roots)
    try:
        reader = PdfFileReader(BytesIO(pdf))
        embedded = reader.embedded_regular_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise UnreadablePdf(f"The file is not a readable PDF: {exc}") from exc
    reports = [await _validate_signature(signature, roots) for signature in embedded]
    return ValidationReport(signatures=tuple(reports))


def _offline_context(roots: list[x509.Certificate]) -> ValidationContext:
    return ValidationContext(
        trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail"
    )


async def _validate_signature(
    embedded: EmbeddedPdfSignature, roots: list[x509.Certificate]
) -> SignatureReport:
    try:
        status = await async_validate_pdf_signature(
            embedded,
            signer_validation_context=_offline_context(roots),
            ts_validation_context=_offline_context(roots),
        )
    except _UNREADABLE_SIGNATURE as exc:
        return _unreadable_report(embedded, exc)
    return _report_from_status(embedded, status)


def _report_from_status(
    embedded: EmbeddedPdfSignature, status: PdfSignatureStatus
) -> SignatureReport:
    timestamp = status.timestamp_validity
    timestamp_valid = (
        None if timestamp is None else timestamp.intact and timestamp.valid and timestamp.trusted
    )
    is_pades = embedded.sig_object.get("/SubFilter") == PADES_SUBFILTER
    level: str | None = None
    if is_pades and status.intact and status.valid:
        level = "B-T" if timestamp_valid else "B-B"
    modification = status.modification_level
    cert = status.signing_cert
    report = SignatureReport(
        field_name=embedded.field_name,
        signer_subject=subject_text(cert),
        signer_issuer=issuer_text(cert),
        signer_serial=serial_hex(cert),
        signing_time=_utc(status.signer_reported_dt),
        timestamp_time=_utc(timestamp.timestamp) if timestamp is not None else None,
        timestamp_authority=subject_text(timestamp.signing_cert) if timestamp else None,
        level=level,
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        timestamp_valid=timestamp_valid,
        modifications_ok=status.docmdp_ok is not False,
        coverage=status.coverage.name.lower() if status.coverage else "unclear",
        modification_level=modification.name.lower() if modification else "unknown",
        summary="",
    )
    return _with_summary(report)


def _unreadable_report(embedded: EmbeddedPdfSignature, exc: Exception) -> SignatureReport:
    try:
        cert = embedded.signer_cert
        subject, issuer, serial = subject_text(cert), issuer_text(cert), serial_hex(cert)
    except _UNREADABLE_SIGNATURE:
        subject = issuer = serial = ""
    return SignatureReport(
        field_name=embedded.field_name,
        signer_subject=subject,
        signer_issuer=issuer,
        signer_serial=serial,
        signing_time=None,
        timestamp_time=None,
        timestamp_authority=None,
        level=None,
        intact=False,
        valid=False,
        trusted=False,
        timestamp_valid=None,
        modifications_ok=False,
        coverage="unclear",
        modification_level="unknown",
        summary=f"Invalid: the signature could not be checked ({exc}).",
    )


def _with_summary(report: SignatureReport) -> SignatureReport:
    return replace(report, summary=_summary(report))


def _summary(report: SignatureReport) -> str:
    if not report.intact:
        return "Invalid: the signed bytes were changed after signing."
    if not report.valid:
        return "Invalid: the cryptographic signature does not verify."
    kind = f"PAdES {report.level}" if report.level else "non-PAdES"
    parts = [f"{'Valid' if report.acceptable else 'Problem with'} {kind} signature by "
             f"{report.signer_subject}"]
    if report.timestamp_time is not None:
        parts.append(
            f"timestamped {_jsonable(report.timestamp_time)} by {report.timestamp_authority}"
            + ("" if report.timestamp_valid else " (timestamp NOT valid or not trusted)")
        )
    if not report.trusted:
        parts.append("the signer's certificate does not chain to a trusted root")
    if report.coverage == "entire_file":
        parts.append("covers the entire file")
    else:
        verdict = "permitted" if report.modifications_ok else "NOT permitted"
        parts.append(
            f"the file was extended after signing ({report.modification_level}, {verdict})"
        )
    return "; ".join(parts) + "."


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _jsonable(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value
