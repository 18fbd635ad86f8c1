"""What the signatures in a PDF prove, as a small report people and the API can read.

The report is deliberately flat (strings, booleans, UTC datetimes): it is stored, rendered as
JSON and printed by the CLI, and must not leak pyHanko types past this room.

The verdict follows ETSI EN 319 102-1 and agrees with the EU reference validator (DSS) on
PAdES baseline documents; :mod:`~archive_service.signing.evidence_time` says at which moment
each piece of evidence is judged. In short, for a validation time ``T``:

1. the signed bytes and the cryptographic signature are checked (``HASH_FAILURE``,
   ``SIG_CRYPTO_FAILURE``); changes after signing that the signature does not permit are a
   ``SIG_CONSTRAINTS_FAILURE`` (stricter than DSS, which only warns);
2. archive (document) timestamps, newest first, move the proof of existence back in time as
   long as each one's TSA chain was valid and not revoked at its own time and had not expired
   when the next-newer proof (or ``T``) covered it;
3. the signature timestamp, judged the same way, gives the *best signature time*;
4. the signer's chain is judged at the best signature time, with revocation data from the
   document (any data saying whether it was revoked *then* counts, whenever it was issued).

So once valid, a signature stays valid until the newest timestamp's TSA chain expires: a stale
OCSP response in the DSS does not turn it invalid a day later. Signatures without revocation
data (B-B, B-T) are ``INDETERMINATE``: nothing says the signer was not revoked.

The PAdES level is read from the document's structure (signature timestamp, DSS with
revocation data, archive timestamp), as DSS reports it, so it stays filled in when the
signature fails.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from io import BytesIO
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError, SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import (
    EmbeddedPdfSignature,
    async_validate_pdf_timestamp,
)
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator.fetchers.api import FetcherBackend

from archive_service.signing._sync import run_sync
from archive_service.signing.certificates import (
    CertificateLike,
    issuer_text,
    serial_hex,
    subject_text,
    to_asn1_certificates,
)
from archive_service.signing.errors import UnreadablePdf
from archive_service.signing.evidence_time import (
    EvidenceSources,
    TokenCheck,
    not_after,
    not_before,
    path_expiry,
    proof_before,
    rolling_proofs,
    token_time,
)

#: ``/SubFilter`` of PAdES baseline signatures; ``adbe.pkcs7.detached`` ones get no level.
PADES_SUBFILTER = "/ETSI.CAdES.detached"

#: ETSI main indications (EN 319 102-1 section 5.1.2), as DSS spells them.
TOTAL_PASSED = "TOTAL_PASSED"
TOTAL_FAILED = "TOTAL_FAILED"
INDETERMINATE = "INDETERMINATE"

_UNREADABLE_SIGNATURE = (PdfError, SignatureValidationError, ValueError, KeyError, TypeError)


@dataclass(frozen=True)
class TimestampReport:
    """A document (archive) timestamp over the file as it was at :attr:`time`."""

    field_name: str
    time: dt.datetime | None
    authority: str | None
    #: The timestamped bytes are unchanged and the token's signature verifies.
    intact: bool
    #: The token is evidence at the validation moment: its TSA chain was valid and not revoked
    #: at its time, and had not expired when a newer timestamp (or the validator) covered it.
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
    #: ``B-B`` … ``B-LTA`` as the document's structure shows it (``None`` for a signature that
    #: is not a PAdES baseline signature).
    level: str | None
    #: The signed bytes are unchanged.
    intact: bool
    #: The cryptographic signature verifies.
    valid: bool
    #: The signer's certificate chains to one of the trust roots at the best signature time
    #: (revocation aside: see :attr:`revocation`).
    trusted: bool
    #: The signature timestamp is intact and its TSA was trusted then; ``None`` when there is
    #: none.
    timestamp_valid: bool | None
    #: Changes after signing (if any) are of a kind the signature permits.
    modifications_ok: bool
    #: ``entire_file``, ``entire_revision`` (more was appended), ``contiguous_block_from_start``
    #: or ``unclear``.
    coverage: str
    #: ``none``, ``lta_updates``, ``form_filling``, ``annotations``, ``other`` or ``unknown``.
    modification_level: str
    summary: str
    #: ``good`` (revocation data says so at the best signature time), ``revoked``, or
    #: ``not_checked`` (no usable revocation data).
    revocation: str = "not_checked"
    #: ETSI main indication: ``TOTAL_PASSED``, ``INDETERMINATE`` or ``TOTAL_FAILED``.
    indication: str = INDETERMINATE
    #: ETSI sub-indication (``HASH_FAILURE``, ``TRY_LATER``, ``OUT_OF_BOUNDS_NO_POE`` …), or
    #: ``None`` when passed.
    sub_indication: str | None = None
    #: The moment the signer's certificate was judged at: the earliest proof of existence of
    #: the signature (signature timestamp, else archive timestamp, else the validation time).
    best_signature_time: dt.datetime | None = None
    #: Document timestamps appended after this signature, oldest first.
    archive_timestamps: tuple[TimestampReport, ...] = ()
    #: The moment the verdict applies to.
    validated_at: dt.datetime | None = None
    #: Every revision after the signature (and its archive timestamps) changes only the DSS
    #: (and the catalog's pointer to it), and pyHanko's difference analysis agrees
    #: (``lta_updates``).
    only_validation_data_after: bool = False

    @property
    def passed(self) -> bool:
        """ETSI ``TOTAL_PASSED``: the signature is valid at the validation moment."""
        return self.indication == TOTAL_PASSED

    @property
    def acceptable(self) -> bool:
        """Intact, valid, from a trusted signer, with a good timestamp if it has one, not
        revoked, and no illegal changes — what a signer can confirm right after signing,
        whatever revocation data the level carries (a fresh B-B is sound but indeterminate).
        """
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
        """At least one signature, all passed, and the last one covers the whole file.

        "Covers" includes a document timestamp appended after it (B-LTA): bytes after the final
        signature *and* its archive timestamps are covered by no one, whatever they contain.
        """
        return self._every_and_covered(lambda signature: signature.passed)

    @property
    def all_acceptable(self) -> bool:
        """At least one signature, all :attr:`SignatureReport.acceptable`, the last covering
        the whole file: signed correctly, whatever revocation data the level carries."""
        return self._every_and_covered(lambda signature: signature.acceptable)

    def _every_and_covered(self, holds: Callable[[SignatureReport], bool]) -> bool:
        return (
            bool(self.signatures)
            and all(holds(signature) for signature in self.signatures)
            and self.signatures[-1].end_covered
        )

    @property
    def any_failed(self) -> bool:
        """A signature is proven wrong (``TOTAL_FAILED``), not merely undecided."""
        return any(signature.indication == TOTAL_FAILED for signature in self.signatures)

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

    :param at: validate as of this moment (default: now, as the machine's clock says).
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
    moment = _utc(at) or dt.datetime.now(dt.UTC)
    with _quiet("pyhanko", "pyhanko_certvalidator"):
        try:
            reader = PdfFileReader(BytesIO(pdf))
            embedded = reader.embedded_regular_signatures
            timestamps = reader.embedded_timestamp_signatures
        except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
            raise UnreadablePdf(f"The file is not a readable PDF: {exc}") from exc
        sources = EvidenceSources.from_dss(
            to_asn1_certificates(trust_roots), _read_dss(reader),
            allow_fetching=allow_fetching, fetcher_backend=fetcher_backend,
        )
        document = _DocumentTimestamps(
            timestamps, [await _check_document_timestamp(ts, sources) for ts in timestamps],
            moment,
        )
        reports = []
        for signature in embedded:
            report = await _SignatureValidation(
                signature, sources, document, moment, analyse_modifications
            ).run()
            harmless = report.modification_level == "lta_updates" or not analyse_modifications
            if harmless and _only_dss_after(reader, document.last_revision_covering(signature)):
                report = replace(report, only_validation_data_after=True)
            reports.append(report)
    return ValidationReport(signatures=tuple(reports), validated_at=moment)


@dataclass(frozen=True)
class _CheckedTimestamp:
    check: TokenCheck
    authority: str | None
    coverage: str


class _DocumentTimestamps:
    """The document's archive timestamps, each judged at its own time, and the proofs they
    give (see :func:`~archive_service.signing.evidence_time.rolling_proofs`)."""

    def __init__(
        self,
        embedded: Sequence[EmbeddedPdfSignature],
        checked: Sequence[_CheckedTimestamp],
        moment: dt.datetime,
    ) -> None:
        self._embedded = list(embedded)
        self._checked = list(checked)
        self._moment = moment
        self._proofs = rolling_proofs([c.check for c in checked], moment)

    def after(self, signature: EmbeddedPdfSignature) -> list[int]:
        return [
            index
            for index, timestamp in enumerate(self._embedded)
            if timestamp.signed_revision > signature.signed_revision
        ]

    def proof_for(self, signature: EmbeddedPdfSignature) -> dt.datetime:
        """The earliest moment the archive timestamps prove the signature existed at."""
        later = self.after(signature)
        return self._proofs[later[0]] if later else self._moment

    def reports(self, signature: EmbeddedPdfSignature) -> tuple[TimestampReport, ...]:
        return tuple(self._report(index) for index in self.after(signature))

    def last_revision_covering(self, signature: EmbeddedPdfSignature) -> int:
        return max(
            [signature.signed_revision]
            + [self._embedded[index].signed_revision for index in self.after(signature)]
        )

    def _report(self, index: int) -> TimestampReport:
        checked = self._checked[index]
        holds_until = proof_before(checked.check, self._proofs, index, self._moment)
        return TimestampReport(
            field_name=self._embedded[index].field_name,
            time=checked.check.time,
            authority=checked.authority,
            intact=checked.check.intact,
            trusted=checked.check.holds_at(holds_until),
            coverage=checked.coverage,
        )


async def _check_document_timestamp(
    embedded: EmbeddedPdfSignature, sources: EvidenceSources
) -> _CheckedTimestamp:
    """A document timestamp judged at its own time (its TSA chain, with revocation)."""
    try:
        time = token_time(embedded.signed_data)
        if time is None:
            raise ValueError("the timestamp token has no time")
        status = await async_validate_pdf_timestamp(
            embedded, validation_context=sources.context(time, revocation=True), skip_diff=True
        )
    except _UNREADABLE_SIGNATURE:
        return _CheckedTimestamp(TokenCheck(None, False, False, None), None, "unclear")
    return _CheckedTimestamp(
        TokenCheck(
            time=time,
            intact=bool(status.intact and status.valid),
            trusted_then=bool(status.trusted),
            chain_expires=path_expiry(status.validation_path),
        ),
        authority=subject_text(status.signing_cert),
        coverage=status.coverage.name.lower() if status.coverage else "unclear",
    )


class _SignatureValidation:
    """EN 319 102-1 validation of one signature at one moment (see the module docstring)."""

    def __init__(
        self,
        embedded: EmbeddedPdfSignature,
        sources: EvidenceSources,
        document: _DocumentTimestamps,
        moment: dt.datetime,
        analyse_modifications: bool,
    ) -> None:
        self._embedded = embedded
        self._sources = sources
        self._document = document
        self._moment = moment
        self._analyse = analyse_modifications

    async def run(self) -> SignatureReport:
        try:
            return await self._validate()
        except _UNREADABLE_SIGNATURE as exc:
            return _unreadable_report(self._embedded, exc)

    async def _validate(self) -> SignatureReport:
        # The bytes, the signature value, the modifications: independent of any moment.
        basic, diff_readable = await self._basic_status()
        level = self._structural_level(basic)
        if not (basic.intact and basic.valid and diff_readable):
            report = self._report(basic, basic, basic, level, None, self._moment)
            if not diff_readable:
                report = _with_summary(replace(
                    report, modifications_ok=False, modification_level="unknown",
                    indication=TOTAL_FAILED,
                    sub_indication="HASH_FAILURE" if not report.intact else "FORMAT_FAILURE",
                ))
            return report
        proof = self._document.proof_for(self._embedded)
        best_time, at_best, timestamp_ok = await self._best_signature_time(basic, proof)
        signer = at_best or await self._status(best_time, revocation=True)
        chain = signer
        if not signer.trusted and not signer.revoked:
            # Tell "nothing says it was not revoked" from "no valid chain at all".
            chain = await self._status(best_time, revocation=False)
        return self._report(basic, signer, chain, level, timestamp_ok, best_time)

    async def _basic_status(self) -> tuple[PdfSignatureStatus, bool]:
        """The check at the validation moment, chain only, and whether the revisions after
        the signature could be analysed at all (a damaged later revision cannot be)."""
        try:
            return await self._status(
                self._moment, revocation=False, skip_diff=not self._analyse
            ), True
        except _UNREADABLE_SIGNATURE:
            if not self._analyse:
                raise
        return await self._status(self._moment, revocation=False), False

    async def _best_signature_time(
        self, basic: PdfSignatureStatus, proof: dt.datetime
    ) -> tuple[dt.datetime, PdfSignatureStatus | None, bool | None]:
        """The signature timestamp's time if it holds at ``proof``, else ``proof`` itself.

        Also returns the status judged at the timestamp's time (the signer's verdict then, so
        it is not computed twice) and whether the timestamp held (``None``: no timestamp).
        """
        token = basic.timestamp_validity
        if token is None:
            return proof, None, None
        if not (token.intact and token.valid) or token.timestamp is None:
            return proof, None, False
        stamped_at = _utc(token.timestamp)
        assert stamped_at is not None
        status = await self._status(stamped_at, revocation=True)
        if _token_check(status, stamped_at).holds_at(proof):
            return stamped_at, status, True
        # No POE from it; still say whether the token itself is sound (its TSA chained to a
        # trusted root then, revocation aside), as a signer confirming a fresh B-T needs.
        chain_only = await self._status(stamped_at, revocation=False)
        return proof, None, _token_check(chain_only, stamped_at).holds_at(proof)

    async def _status(
        self, moment: dt.datetime, *, revocation: bool, skip_diff: bool = True
    ) -> PdfSignatureStatus:
        context = self._sources.context(moment, revocation=revocation)
        return await async_validate_pdf_signature(
            self._embedded,
            signer_validation_context=context,
            ts_validation_context=self._sources.context(moment, revocation=revocation),
            skip_diff=skip_diff,
        )

    def _problem(
        self, signer: PdfSignatureStatus, chain: PdfSignatureStatus, best_time: dt.datetime
    ) -> str:
        """Why the signer's certificate does not hold at ``best_time``, named as DSS does.

        In DSS's order: no chain to a trust root; no revocation data at all (DSS says
        ``CERTIFICATE_CHAIN_GENERAL_FAILURE`` whatever the dates); revoked before the best
        signature time (``REVOKED_NO_POE``, even once the certificate has expired); expired
        then (``OUT_OF_BOUNDS_NOT_REVOKED`` while the chain's CAs still hold, else
        ``OUT_OF_BOUNDS_NO_POE``); otherwise revocation data that does not cover that moment
        (``TRY_LATER``).
        """
        cert = self._embedded.signer_cert
        names = self._sources.chain_by_name(cert, self._embedded.other_embedded_certs)
        if names is None:
            return "NO_CERTIFICATE_CHAIN_FOUND"
        if not self._sources.has_revocation_data_for(cert):
            return "CERTIFICATE_CHAIN_GENERAL_FAILURE"
        revoked_at = self._sources.revocation_time(cert)
        if signer.revoked or (revoked_at is not None and revoked_at <= best_time):
            return "REVOKED_NO_POE"
        if best_time > not_after(cert) or best_time < not_before(cert):
            cas_hold = all(not_before(ca) <= best_time <= not_after(ca) for ca in names[1:])
            return "OUT_OF_BOUNDS_NOT_REVOKED" if cas_hold else "OUT_OF_BOUNDS_NO_POE"
        if not chain.trusted:
            indic = chain.trust_problem_indic
            # every AdESSubIndic is an enum member; its standard name is the ETSI one
            return str(indic.standard_name) if indic is not None else (
                "CERTIFICATE_CHAIN_GENERAL_FAILURE"
            )
        return "TRY_LATER"

    def _structural_level(self, basic: PdfSignatureStatus) -> str | None:
        """The PAdES baseline level the document's structure shows (as DSS reports it)."""
        if self._embedded.sig_object.get("/SubFilter") != PADES_SUBFILTER:
            return None
        archive = self._document.after(self._embedded)
        if basic.timestamp_validity is None and not archive:
            return "B-B"
        if not self._sources.has_revocation_data:
            return "B-T"
        return "B-LTA" if archive else "B-LT"

    def _report(
        self,
        basic: PdfSignatureStatus,
        signer: PdfSignatureStatus,
        chain: PdfSignatureStatus,
        level: str | None,
        timestamp_ok: bool | None,
        best_time: dt.datetime,
    ) -> SignatureReport:
        """``signer`` is the verdict with revocation at ``best_time``, ``chain`` without."""
        timestamp = basic.timestamp_validity
        trusted = bool(chain.trusted)
        revocation = "not_checked"
        if signer.revoked:
            revocation = "revoked"
        elif signer.trusted:
            revocation = "good"
        modification = basic.modification_level
        cert = basic.signing_cert
        report = SignatureReport(
            field_name=self._embedded.field_name,
            signer_subject=subject_text(cert),
            signer_issuer=issuer_text(cert),
            signer_serial=serial_hex(cert),
            signing_time=_utc(basic.signer_reported_dt),
            timestamp_time=_utc(timestamp.timestamp) if timestamp is not None else None,
            timestamp_authority=subject_text(timestamp.signing_cert) if timestamp else None,
            level=level,
            intact=basic.intact,
            valid=basic.valid,
            trusted=trusted,
            timestamp_valid=timestamp_ok,
            modifications_ok=basic.docmdp_ok is not False,
            coverage=basic.coverage.name.lower() if basic.coverage else "unclear",
            modification_level=modification.name.lower() if modification else "unknown",
            summary="",
            revocation=revocation,
            best_signature_time=best_time if basic.intact and basic.valid else None,
            archive_timestamps=self._document.reports(self._embedded),
            validated_at=self._moment,
        )
        main, sub = _indication(report, signer, self._problem(signer, chain, best_time))
        return _with_summary(replace(report, indication=main, sub_indication=sub))


def _token_check(status: PdfSignatureStatus, stamped_at: dt.datetime) -> TokenCheck:
    """The signature timestamp of ``status``, judged in the context ``status`` was built with."""
    judged = status.timestamp_validity
    return TokenCheck(
        time=stamped_at,
        intact=True,
        trusted_then=bool(judged is not None and judged.trusted),
        chain_expires=path_expiry(judged.validation_path) if judged is not None else None,
    )


def _indication(
    report: SignatureReport, signer: PdfSignatureStatus, problem: str
) -> tuple[str, str | None]:
    """ETSI main and sub-indication of one signature (EN 319 102-1 section 5.1.3)."""
    if not report.intact:
        return TOTAL_FAILED, "HASH_FAILURE"
    if not report.valid:
        return TOTAL_FAILED, "SIG_CRYPTO_FAILURE"
    if not report.modifications_ok:
        return TOTAL_FAILED, "SIG_CONSTRAINTS_FAILURE"
    if signer.trusted and not signer.revoked:
        return TOTAL_PASSED, None
    return INDETERMINATE, problem


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


def _read_dss(reader: PdfFileReader) -> DocumentSecurityStore | None:
    try:
        return DocumentSecurityStore.read_dss(reader)
    except (NoDSSFoundError, *_UNREADABLE_SIGNATURE):
        return None


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
        indication=TOTAL_FAILED,
        sub_indication="FORMAT_FAILURE",
    )


def _with_summary(report: SignatureReport) -> SignatureReport:
    return replace(report, summary=_summary(report))


#: What each sub-indication means for a reader, when the signature did not pass.
_REASONS = {
    "TRY_LATER": "no revocation data shows the signer's certificate was not revoked at "
    "{when}",
    "OUT_OF_BOUNDS_NO_POE": "the signer's certificate was not valid at {when} and nothing "
    "proves the signature existed while it was",
    "OUT_OF_BOUNDS_NOT_REVOKED": "the signer's certificate was not valid at {when} and nothing "
    "proves the signature existed while it was",
    "REVOKED_NO_POE": "the signer's certificate was REVOKED before {when}, the earliest proof "
    "that the signature existed",
    "REVOKED_CA_NO_POE": "a CA certificate in the signer's chain was REVOKED before {when}",
    "NO_CERTIFICATE_CHAIN_FOUND": "the signer's certificate does not chain to a trusted root",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "the signer's certificate chain could not be "
    "validated at {when} (the file carries no revocation data for it, or a certificate in "
    "the chain does not hold then)",
    "NO_POE": "no proof of existence in time for the signature",
}


def _summary(report: SignatureReport) -> str:
    if not report.intact:
        return "Invalid: the signed bytes were changed after signing."
    if not report.valid:
        return "Invalid: the cryptographic signature does not verify."
    kind = f"PAdES {report.level}" if report.level else "non-PAdES"
    opening = {TOTAL_PASSED: "Valid", TOTAL_FAILED: "Invalid"}.get(
        report.indication, "Indeterminate"
    )
    parts = [f"{opening} {kind} signature by {report.signer_subject}"]
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
            + ("" if newest.trusted else " (NOT trusted at the validation time)")
        )
    if not report.modifications_ok:
        parts.append("changes after signing that the signature does not permit")
    elif report.sub_indication in _REASONS:
        when = _jsonable(report.best_signature_time or report.validated_at)
        parts.append(_REASONS[report.sub_indication].format(when=when))
    elif report.sub_indication is not None:
        parts.append(f"{report.indication}/{report.sub_indication}")
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
    if isinstance(value, tuple | list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    return value
