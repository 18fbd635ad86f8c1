"""What the signatures in a PDF prove, as a small report people and the API can read.

The report is deliberately flat (strings, booleans, UTC datetimes): it is stored, rendered as
JSON and printed by the CLI, and must not leak pyHanko types past this room.

Levels are told apart by what validation confirms, not by what the file contains:

* **B-B / B-T** — the classic check (:func:`pyhanko.sign.validation.async_validate_pdf_signature`)
  at the validation moment: intact, valid, trusted; B-T adds a valid signature timestamp.
  Revocation is checked when revocation data is available (embedded, or fetched if allowed) and
  reported as ``not_checked`` otherwise.
* **B-LT** — the same check in hard-fail mode with the DSS as the only source of revocation data
  (or also fetched data, if allowed): the DSS must cover the signer's and the TSA's chains.
* **B-LTA** — ETSI EN 319 102-1 long-term validation (pyHanko's ``ades_lta_validation``) passes,
  using the document timestamp chain after the signature as evidence record, with fetching
  disabled unless allowed.

Validating "as of" a later moment (``at``): certificates expire, so B-B … B-LT no longer hold
once the seal certificate has expired; B-LTA holds while the newest archive timestamp's TSA
certificate is valid. Nobody can hold revocation data issued in the future, so for a moment
after now the validator *assumes* the newest archive timestamp's TSA chain is not revoked then
(the same assumption pyHanko's ``simulate_future_ades_lta_validation`` makes); a validator that
really runs then fetches that data instead (``allow_fetching=True``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from io import BytesIO
from typing import Any

from asn1crypto import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESStatus
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError, SignatureValidationError
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko.sign.validation.pdf_embedded import (
    EmbeddedPdfSignature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.policy_decl import (
    CertificateFetchingRule,
    LocalKnowledge,
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.fetchers.api import FetcherBackend
from pyhanko_certvalidator.ltv.types import ValidationTimingInfo
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    NonRevokedStatusAssertion,
    RevocationCheckingPolicy,
)
from pyhanko_certvalidator.registry import SimpleTrustManager

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
_CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class TimestampReport:
    """A document (archive) timestamp over the file as it was at :attr:`time`."""

    field_name: str
    time: dt.datetime | None
    authority: str | None
    #: The timestamped bytes are unchanged and the token's signature verifies.
    intact: bool
    #: The TSA's chain is trusted at the validation moment (older ones may have expired: the
    #: chain of later timestamps is what keeps them meaningful).
    trusted: bool
    coverage: str


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
    #: ``B-B`` … ``B-LTA``: the highest level validation confirms, else ``None``.
    level: str | None
    #: The signed bytes are unchanged.
    intact: bool
    #: The cryptographic signature verifies.
    valid: bool
    #: The signer's certificate chains to one of the trust roots (at the validation moment, or
    #: — for B-LTA — at the time the archive timestamps prove).
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
    #: ``good`` (revocation data says so), ``revoked``, or ``not_checked`` (none available).
    revocation: str = "not_checked"
    #: ETSI long-term validation indication (``PASSED``, ``INDETERMINATE/NO_POE``, …), or
    #: ``None`` when the signature has no embedded validation data to try it on.
    long_term_indication: str | None = None
    #: Document timestamps appended after this signature, oldest first.
    archive_timestamps: tuple[TimestampReport, ...] = ()
    #: The moment the verdict applies to.
    validated_at: dt.datetime | None = None
    #: Every revision after the signature (and its archive timestamps) changes only the DSS
    #: (and the catalog's pointer to it), and pyHanko's difference analysis agrees
    #: (``lta_updates``).
    only_validation_data_after: bool = False

    @property
    def acceptable(self) -> bool:
        """Intact, valid, trusted, with a good timestamp if it has one and no illegal changes."""
        return (
            self.intact
            and self.valid
            and self.trusted
            and self.timestamp_valid is not False
            and self.modifications_ok
            and self.revocation != "revoked"
        )

    @property
    def end_covered(self) -> bool:
        """Nothing but validation data was added after the signature, or it was signed over.

        A B-LT document ends with an unsigned DSS revision, which is harmless: see
        :attr:`only_validation_data_after`.
        """
        if self.coverage == "entire_file" or self.only_validation_data_after:
            return True
        newest = self.archive_timestamps[-1] if self.archive_timestamps else None
        return newest is not None and newest.intact and newest.coverage == "entire_file"

    def as_dict(self) -> dict[str, Any]:
        return {key: _jsonable(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class ValidationReport:
    signatures: tuple[SignatureReport, ...]
    validated_at: dt.datetime | None = field(default=None)

    @property
    def all_valid(self) -> bool:
        """At least one signature, all acceptable, and the last one covers the whole file.

        "Covers" includes a document timestamp appended after it (B-LTA): bytes after the final
        signature *and* its archive timestamps are covered by no one, whatever they contain.
        """
        return (
            bool(self.signatures)
            and all(signature.acceptable for signature in self.signatures)
            and self.signatures[-1].end_covered
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "all_valid": self.all_valid,
            "validated_at": _jsonable(self.validated_at),
            "signatures": [signature.as_dict() for signature in self.signatures],
        }


def validate_pdf(
    pdf: bytes,
    trust_roots: Sequence[CertificateLike],
    *,
    at: dt.datetime | None = None,
    allow_fetching: bool = False,
    fetcher_backend: FetcherBackend | None = None,
) -> ValidationReport:
    """Validate every signature in ``pdf`` against ``trust_roots``.

    :param at: validate as of this moment (default: now); see the module docstring.
    :param allow_fetching: fetch missing revocation data and certificates online. Off by
        default: archived documents must validate from their embedded data alone.
    :param fetcher_backend: how to fetch when allowed (default: pyHanko's HTTP fetchers).
    :raises UnreadablePdf: the bytes are not a PDF (a PDF without signatures is fine and gives
        an empty report).
    """
    return run_sync(
        async_validate_pdf(
            pdf, trust_roots, at=at, allow_fetching=allow_fetching,
            fetcher_backend=fetcher_backend,
        )
    )


async def async_validate_pdf(
    pdf: bytes,
    trust_roots: Sequence[CertificateLike],
    *,
    at: dt.datetime | None = None,
    allow_fetching: bool = False,
    fetcher_backend: FetcherBackend | None = None,
    analyse_modifications: bool = True,
) -> ValidationReport:
    """:func:`validate_pdf` for callers that already run an event loop.

    :param analyse_modifications: run pyHanko's difference analysis of the revisions after each
        signature. It reads every object of the file (seconds for a large journal), so the
        signer's self-check turns it off: the only revisions after its fresh signature are its
        own DSS/timestamp revisions, which :func:`_only_dss_after` still checks at xref level.
        Reports then say ``modification_level="unknown"``.
    """
    # pyHanko logs every failed path (expired, no POE, …) with a traceback at WARNING; the
    # verdict is in the report, so keep the service's log readable.
    with _quiet("pyhanko", "pyhanko_certvalidator"):
        return await _validate_all(
            pdf, trust_roots, at, allow_fetching, fetcher_backend, analyse_modifications
        )


async def _validate_all(
    pdf: bytes,
    trust_roots: Sequence[CertificateLike],
    at: dt.datetime | None,
    allow_fetching: bool,
    fetcher_backend: FetcherBackend | None,
    analyse_modifications: bool,
) -> ValidationReport:
    roots = to_asn1_certificates(trust_roots)
    moment = _utc(at) or dt.datetime.now(dt.UTC)
    try:
        reader = PdfFileReader(BytesIO(pdf))
        embedded = reader.embedded_regular_signatures
        timestamps = reader.embedded_timestamp_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise UnreadablePdf(f"The file is not a readable PDF: {exc}") from exc
    settings = _Settings(roots, moment, at is not None and moment > _now() + _CLOCK_SKEW,
                         allow_fetching, fetcher_backend, _read_dss(reader))
    archive = [await _timestamp_report(ts, settings) for ts in timestamps]
    reports = []
    for signature in embedded:
        later = tuple(
            report
            for ts, report in zip(timestamps, archive, strict=True)
            if ts.signed_revision > signature.signed_revision
        )
        report = await _validate_signature(
            signature, settings, later, timestamps, skip_diff=not analyse_modifications
        )
        covered_from = signature.signed_revision
        covered_until = max(
            [signature.signed_revision]
            + [ts.signed_revision for ts in timestamps if ts.signed_revision > covered_from]
        )
        harmless = report.modification_level == "lta_updates" or not analyse_modifications
        if harmless and _only_dss_after(reader, covered_until):
            report = replace(report, only_validation_data_after=True)
        reports.append(report)
    return ValidationReport(signatures=tuple(reports), validated_at=moment)


def _only_dss_after(reader: PdfFileReader, revision: int) -> bool:
    """Whether the revisions after ``revision`` touch nothing but the DSS and the catalog."""
    allowed = {reader.root_ref, *_dss_references(reader)}
    return all(
        reader.xrefs.explicit_refs_in_revision(later) <= allowed
        for later in range(revision + 1, reader.xrefs.total_revisions)
    )


def _dss_references(reader: PdfFileReader) -> set[generic.Reference]:
    found: set[generic.Reference] = set()

    def walk(obj: generic.PdfObject, depth: int) -> None:
        if isinstance(obj, generic.IndirectObject):
            found.add(obj.reference)
            obj = obj.get_object()
        if depth == 0:
            return
        if isinstance(obj, generic.DictionaryObject) and not isinstance(
            obj, generic.StreamObject
        ):
            for key in obj:
                walk(obj.raw_get(key), depth - 1)
        elif isinstance(obj, generic.ArrayObject):
            for item in obj:
                walk(item, depth - 1)

    if "/DSS" in reader.root:
        walk(reader.root.raw_get("/DSS"), 4)
    return found


@dataclass(frozen=True)
class _Settings:
    roots: list[x509.Certificate]
    moment: dt.datetime
    future: bool
    allow_fetching: bool
    fetcher_backend: FetcherBackend | None
    dss: DocumentSecurityStore | None

    def context(self, *, hard_fail: bool) -> ValidationContext:
        kwargs: dict[str, Any] = {
            "trust_roots": self.roots,
            "allow_fetching": self.allow_fetching,
            "revocation_mode": "hard-fail" if hard_fail else "soft-fail",
            "moment": self.moment,
        }
        if self.allow_fetching and self.fetcher_backend is not None:
            kwargs["fetcher_backend"] = self.fetcher_backend
        if self.dss is not None:
            kwargs["other_certs"] = list(self.dss.load_certs())
            return self.dss.as_validation_context(kwargs)
        return ValidationContext(**kwargs)


def _read_dss(reader: PdfFileReader) -> DocumentSecurityStore | None:
    try:
        return DocumentSecurityStore.read_dss(reader)
    except (NoDSSFoundError, *_UNREADABLE_SIGNATURE):
        return None


async def _validate_signature(
    embedded: EmbeddedPdfSignature,
    settings: _Settings,
    archive: tuple[TimestampReport, ...],
    timestamps: Sequence[EmbeddedPdfSignature],
    *,
    skip_diff: bool,
) -> SignatureReport:
    try:
        status = await async_validate_pdf_signature(
            embedded,
            signer_validation_context=settings.context(hard_fail=False),
            ts_validation_context=settings.context(hard_fail=False),
            skip_diff=skip_diff,
        )
        long_term = None
        if settings.dss is not None:
            long_term = await _long_term_checks(embedded, settings, bool(archive), timestamps)
    except _UNREADABLE_SIGNATURE as exc:
        return _unreadable_report(embedded, exc)
    return _report_from_status(embedded, status, long_term, archive, settings.moment)


@dataclass(frozen=True)
class _LongTerm:
    #: Hard-fail validation with the DSS (signer and signature timestamp) holds.
    lt_ok: bool
    revoked: bool
    #: The ETSI LTA verdict, or ``None`` when there is no archive timestamp to try it with.
    indication: str | None
    lta_ok: bool


async def _long_term_checks(
    embedded: EmbeddedPdfSignature,
    settings: _Settings,
    has_archive_timestamp: bool,
    timestamps: Sequence[EmbeddedPdfSignature],
) -> _LongTerm:
    strict = await async_validate_pdf_signature(
        embedded,
        signer_validation_context=settings.context(hard_fail=True),
        ts_validation_context=settings.context(hard_fail=True),
        skip_diff=True,  # the first pass analysed the modifications already
    )
    timestamp = strict.timestamp_validity
    lt_ok = bool(
        strict.intact and strict.valid and strict.trusted and timestamp is not None
        and timestamp.intact and timestamp.valid and timestamp.trusted
    )
    indication = None
    if has_archive_timestamp:
        indication = await _lta_indication(embedded, settings, timestamps)
    return _LongTerm(
        lt_ok=lt_ok,
        revoked=bool(strict.revoked),
        indication=indication,
        lta_ok=indication == AdESStatus.PASSED.name,
    )


async def _lta_indication(
    embedded: EmbeddedPdfSignature,
    settings: _Settings,
    timestamps: Sequence[EmbeddedPdfSignature],
) -> str:
    assumptions = []
    if settings.future and not settings.allow_fetching:
        # No one holds revocation data from the future: assume the TSA chains still valid then
        # are not revoked then (see the module docstring).
        assumptions = [
            NonRevokedStatusAssertion(cert.sha256, settings.moment)
            for cert in _timestamp_certificates(embedded, timestamps)
            if _valid_at(cert, settings.moment)
        ]
    rule = (
        RevinfoOnlineFetchingRule.NO_HISTORICAL_FETCH
        if settings.allow_fetching
        else RevinfoOnlineFetchingRule.LOCAL_ONLY
    )
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=settings.roots),
        revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy.from_legacy("hard-fail")),
    )
    spec = PdfSignatureValidationSpec(
        diff_policy=None,  # analysed once, by the classic pass
        signature_validation_spec=SignatureValidationSpec(
            cert_validation_policy=policy,
            local_knowledge=LocalKnowledge(nonrevoked_assertions=assumptions),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=rule,
                fetcher_backend=settings.fetcher_backend if settings.allow_fetching else None,
                certificate_fetching_rule=(
                    CertificateFetchingRule.FOLLOW_ONLINE_RULE
                    if settings.allow_fetching
                    else CertificateFetchingRule.NEVER_FETCH
                ),
            ),
        )
    )
    timing = ValidationTimingInfo(
        validation_time=settings.moment,
        best_signature_time=settings.moment,
        point_in_time_validation=settings.future,
    )
    result = await ades_lta_validation(embedded, spec, timing_info=timing)
    subindication = result.ades_subindic
    if subindication.status is AdESStatus.PASSED:
        return AdESStatus.PASSED.name
    return f"{subindication.status.name}/{subindication.standard_name}"


def _timestamp_certificates(
    embedded: EmbeddedPdfSignature, timestamps: Sequence[EmbeddedPdfSignature]
) -> list[x509.Certificate]:
    """Certificates carried by the signature timestamp and the document timestamps."""
    certs = []
    for token in extract_tst_data_iter(embedded.signer_info, signed=False):
        certs.extend(c.chosen for c in token["certificates"] if c.name == "certificate")
    for timestamp in timestamps:
        certs.extend([timestamp.signer_cert, *timestamp.other_embedded_certs])
    return certs


def _valid_at(cert: x509.Certificate, moment: dt.datetime) -> bool:
    validity = cert["tbs_certificate"]["validity"]
    return bool(validity["not_before"].native <= moment <= validity["not_after"].native)


class _quiet:
    def __init__(self, *names: str) -> None:
        self._loggers = [logging.getLogger(name) for name in names]
        self._levels: list[int] = []

    def __enter__(self) -> None:
        self._levels = [logger.level for logger in self._loggers]
        for logger in self._loggers:
            logger.setLevel(logging.CRITICAL)

    def __exit__(self, *exc: object) -> None:
        for logger, level in zip(self._loggers, self._levels, strict=True):
            logger.setLevel(level)


async def _timestamp_report(
    embedded: EmbeddedPdfSignature, settings: _Settings
) -> TimestampReport:
    try:
        status = await async_validate_pdf_timestamp(
            embedded, validation_context=settings.context(hard_fail=False), skip_diff=True
        )
    except _UNREADABLE_SIGNATURE:
        return TimestampReport(embedded.field_name, None, None, False, False, "unclear")
    return TimestampReport(
        field_name=embedded.field_name,
        time=_utc(status.timestamp),
        authority=subject_text(status.signing_cert),
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        coverage=status.coverage.name.lower() if status.coverage else "unclear",
    )


def _report_from_status(
    embedded: EmbeddedPdfSignature,
    status: PdfSignatureStatus,
    long_term: _LongTerm | None,
    archive: tuple[TimestampReport, ...],
    moment: dt.datetime,
) -> SignatureReport:
    timestamp = status.timestamp_validity
    timestamp_valid = (
        None if timestamp is None else timestamp.intact and timestamp.valid and timestamp.trusted
    )
    trusted = status.trusted
    is_pades = embedded.sig_object.get("/SubFilter") == PADES_SUBFILTER
    level: str | None = None
    if is_pades and status.intact and status.valid:
        if long_term is not None and long_term.lta_ok:
            level, trusted, timestamp_valid = "B-LTA", True, True
        elif long_term is not None and long_term.lt_ok:
            level = "B-LT"
        elif trusted:
            level = "B-T" if timestamp_valid else "B-B"
    revocation = "not_checked"
    if status.revoked or (long_term is not None and long_term.revoked):
        revocation = "revoked"
    elif long_term is not None and (long_term.lt_ok or long_term.lta_ok):
        revocation = "good"
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
        trusted=trusted,
        timestamp_valid=timestamp_valid,
        modifications_ok=status.docmdp_ok is not False,
        coverage=status.coverage.name.lower() if status.coverage else "unclear",
        modification_level=modification.name.lower() if modification else "unknown",
        summary="",
        revocation=revocation,
        long_term_indication=long_term.indication if long_term is not None else None,
        archive_timestamps=archive,
        validated_at=moment,
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
    if report.level is None and report.timestamp_time is not None:
        kind = "PAdES"
    parts = [f"{'Valid' if report.acceptable and report.level else 'Problem with'} {kind} "
             f"signature by {report.signer_subject}"]
    if report.timestamp_time is not None:
        parts.append(
            f"timestamped {_jsonable(report.timestamp_time)} by {report.timestamp_authority}"
            + ("" if report.timestamp_valid else " (timestamp NOT valid or not trusted)")
        )
    if report.archive_timestamps:
        newest = report.archive_timestamps[-1]
        parts.append(
            f"{len(report.archive_timestamps)} archive timestamp(s), newest "
            f"{_jsonable(newest.time)} by {newest.authority}"
        )
    if report.revocation == "revoked":
        parts.append("a certificate in its chain is REVOKED")
    if not report.trusted:
        parts.append(
            "the signer's certificate does not chain to a trusted root at "
            f"{_jsonable(report.validated_at)}"
        )
    if report.long_term_indication not in (None, "PASSED"):
        parts.append(f"long-term validation: {report.long_term_indication}")
    if report.coverage == "entire_file":
        parts.append("covers the entire file")
    else:
        verdict = "permitted" if report.modifications_ok else "NOT permitted"
        parts.append(
            f"the file was extended after signing ({report.modification_level}, {verdict})"
        )
    return "; ".join(parts) + "."


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _jsonable(value: object) -> object:
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value
