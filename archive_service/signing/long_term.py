"""Long-term validation material: revocation data gathered in hard-fail mode, DSS, archive stamps.

Used by :class:`~archive_service.signing.pades.PadesSigner` for B-LT/B-LTA, by
:func:`add_archive_timestamp` to renew an archived document's timestamp chain, and by
:func:`extend_or_renew` to keep *any* archived signature alive (B-B, B-T and B-LT documents are
extended to B-LTA first). Every revision it writes goes through
:func:`~archive_service.signing.pdf_writer.open_for_signing`, so the document's PDF/A metadata,
version and widget appearances survive (pyHanko's own ``add_validation_info`` /
``update_archival_timestamp_chain`` open a plain incremental writer).

When to renew: :func:`timestamp_expiry` reads the newest timestamp's TSA certificate; once it
has expired, nothing can be added that an offline validator will trust, so renewal must happen
before. Documents below B-LTA have a closer deadline — their signer's certificate: without
revocation data embedded while it was valid, they can no longer be extended once it expires.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO

from asn1crypto import x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers import PdfTimeStamper, Signer
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.generic_cms import extract_certificate_info, extract_tst_data_iter
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, RevokedError
from pyhanko_certvalidator.fetchers.api import FetcherBackend
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend
from pyhanko_certvalidator.path import ValidationPath

from archive_service.signing._sync import run_sync
from archive_service.signing.certificates import (
    CertificateLike,
    subject_text,
    to_asn1_certificates,
)
from archive_service.signing.errors import SigningError, UnreadablePdf
from archive_service.signing.pdf_writer import next_field_name, open_for_signing

#: Levels that embed revocation data.
LONG_TERM_LEVELS = ("B-LT", "B-LTA")
#: Document timestamp fields are named ``ArchiveTimestamp1``, ``ArchiveTimestamp2``, …
TIMESTAMP_FIELD_PREFIX = "ArchiveTimestamp"
#: Seconds a network OCSP/CRL request may take before the signature fails (and is retried).
FETCH_TIMEOUT = 10


def revocation_context(
    trust_roots: Sequence[x509.Certificate], fetcher_backend: FetcherBackend | None
) -> ValidationContext:
    """A context that fetches revocation data and fails when it cannot get it (hard-fail).

    Soft-fail would quietly collect incomplete revocation data (NOTES.md), and a B-LT without
    it is a B-T in disguise.
    """
    return ValidationContext(
        trust_roots=list(trust_roots),
        allow_fetching=True,
        revocation_mode="hard-fail",
        fetcher_backend=fetcher_backend or RequestsFetcherBackend(FETCH_TIMEOUT),
    )


async def validated_signer_paths(signer: Signer, context: ValidationContext) -> ValidationPath:
    """The signer's validated chain; fetches its revocation data into ``context``."""
    cert = signer.signing_cert
    validator = CertificateValidator(
        cert, intermediate_certs=list(signer.cert_registry), validation_context=context
    )
    return await _validate(validator.async_validate_usage(set()), "signing", cert)


async def validated_tsa_paths(
    timestamper: TimeStamper, context: ValidationContext
) -> list[ValidationPath]:
    """The TSA's validated chains (one dummy request, cached by pyHanko for the signature)."""
    try:
        return [path async for path in timestamper.validation_paths(context)]
    except RevokedError as exc:
        raise SigningError(f"The TSA certificate is revoked: {exc}") from exc
    except (PathBuildingError, PathValidationError) as exc:
        raise SigningError(
            f"The TSA certificate could not be validated with revocation data: {exc}"
        ) from exc
    except Exception as exc:  # the TSA itself did not answer
        raise SigningError(f"The TSA is not available ({type(exc).__name__}: {exc}).") from exc


async def _validate(job, role: str, cert: x509.Certificate) -> ValidationPath:  # type: ignore[no-untyped-def]
    try:
        return await job
    except RevokedError as exc:
        raise SigningError(
            f"The {role} certificate {subject_text(cert)} is revoked: {exc}"
        ) from exc
    except (PathBuildingError, PathValidationError) as exc:
        raise SigningError(
            f"The {role} certificate {subject_text(cert)} could not be validated with "
            f"revocation data (OCSP/CRL unreachable or incomplete?): {exc}"
        ) from exc


async def add_validation_data(
    pdf: bytes,
    paths: Sequence[ValidationPath],
    context: ValidationContext,
    *,
    archive_timestamper: TimeStamper | None,
) -> bytes:
    """Append a DSS revision with ``paths`` and the revocation data in ``context``.

    With ``archive_timestamper`` the same revision also gets a document timestamp over it (one
    revision rather than two: smaller and faster, and the timestamp still covers the DSS).
    """
    writer = open_for_signing(pdf)
    DocumentSecurityStore.supply_dss_in_writer(
        writer, None, paths=list(paths), validation_context=context, embed_roots=True
    )
    output = BytesIO()
    if archive_timestamper is None:
        writer.write(output)
        return output.getvalue()
    field_name = next_field_name(writer.prev, TIMESTAMP_FIELD_PREFIX)
    stamper = PdfTimeStamper(archive_timestamper, field_name=field_name)
    try:
        await stamper.async_timestamp_pdf(writer, "sha256", output=output)
    except Exception as exc:
        raise SigningError(
            f"The archive timestamp failed ({type(exc).__name__}: {exc})."
        ) from exc
    return output.getvalue()


class NotRenewable(SigningError):
    """The document's signatures can no longer be kept alive; retrying will not help.

    The reason is in the message: the newest timestamp's TSA certificate (or, below B-LTA, the
    signer's certificate) has expired or been revoked, or there is no signature at all. Such a
    document stays as it is: its evidence ends where the message says.
    """

    status = 409
    code = "not_renewable"


@dataclass(frozen=True)
class TimestampExpiry:
    """When the evidence of a PDF's newest timestamp runs out.

    The newest timestamp is the newest document (archive) timestamp, else the newest signature's
    signature timestamp. A B-B document has none: every field but :attr:`signer_expires_at` is
    then ``None``.
    """

    #: ``notAfter`` of the newest timestamp's TSA certificate (UTC).
    expires_at: dt.datetime | None
    #: ``document`` (an archive timestamp), ``signature`` (a signature timestamp) or ``None``.
    kind: str | None
    #: The TSA certificate's subject.
    authority: str | None
    #: The time the newest timestamp certifies.
    time: dt.datetime | None
    #: ``notAfter`` of the newest signature's signer certificate: the deadline for extending a
    #: document without archive timestamp (``None`` without any signature).
    signer_expires_at: dt.datetime | None


@dataclass(frozen=True)
class RenewedDocument:
    """A document after :func:`extend_or_renew`, with what validation confirmed."""

    pdf: bytes
    #: Always ``B-LTA``: anything less raises instead.
    level: str
    #: When the new archive timestamp's TSA certificate expires: renew again before then.
    timestamp_expires_at: dt.datetime
    #: True when the document had no archive timestamp before (B-B/B-T/B-LT → B-LTA).
    extended: bool


def timestamp_expiry(pdf: bytes) -> TimestampExpiry:
    """When ``pdf``'s newest timestamp's TSA certificate expires (see :class:`TimestampExpiry`).

    Reads the embedded tokens only; nothing is validated (validation says whether they hold).

    :raises UnreadablePdf: ``pdf`` is not a PDF.
    """
    reader = _read(pdf, "The document")
    timestamps = _embedded(reader, "embedded_timestamp_signatures")
    signatures = _embedded(reader, "embedded_regular_signatures")
    signer_expires_at = _not_after(signatures[-1].signer_cert) if signatures else None
    if timestamps:
        newest = timestamps[-1]
        return TimestampExpiry(
            expires_at=_not_after(newest.signer_cert),
            kind="document",
            authority=subject_text(newest.signer_cert),
            time=_token_time(newest.signed_data),
            signer_expires_at=signer_expires_at,
        )
    stamped = [token for s in signatures if (token := _signature_timestamp(s)) is not None]
    if not stamped:
        return TimestampExpiry(None, None, None, None, signer_expires_at)
    token = stamped[-1]
    tsa_cert = extract_certificate_info(token).signer_cert
    return TimestampExpiry(
        expires_at=_not_after(tsa_cert),
        kind="signature",
        authority=subject_text(tsa_cert),
        time=_token_time(token),
        signer_expires_at=signer_expires_at,
    )


def _read(pdf: bytes, what: str) -> PdfFileReader:
    try:
        return PdfFileReader(BytesIO(pdf))
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise UnreadablePdf(f"{what} is not a readable PDF: {exc}") from exc


def _embedded(reader: PdfFileReader, attribute: str) -> list[EmbeddedPdfSignature]:
    try:
        return list(getattr(reader, attribute))
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise UnreadablePdf(f"The document's signatures cannot be read: {exc}") from exc


def _signature_timestamp(signature: EmbeddedPdfSignature) -> object | None:
    """The signature timestamp token's ``SignedData``, if the signature has one."""
    tokens = list(extract_tst_data_iter(signature.signer_info, signed=False))
    return tokens[-1] if tokens else None


def _token_time(signed_data: object) -> dt.datetime | None:
    tst_info = signed_data["encap_content_info"]["content"].parsed  # type: ignore[index]
    moment = tst_info["gen_time"].native
    return moment.astimezone(dt.UTC) if moment is not None else None


def _not_after(cert: x509.Certificate) -> dt.datetime:
    return cert["tbs_certificate"]["validity"]["not_after"].native.astimezone(dt.UTC)


def _require_current(cert: x509.Certificate, role: str) -> None:
    """Refuse with the real reason rather than the path error validation would give."""
    validity = cert["tbs_certificate"]["validity"]
    now = dt.datetime.now(dt.UTC)
    if now > validity["not_after"].native:
        raise NotRenewable(
            f"The {role} certificate {subject_text(cert)} expired on "
            f"{validity['not_after'].native.date().isoformat()}; nothing added now can be "
            "trusted for it, so the document can no longer be kept alive."
        )
    if now < validity["not_before"].native:
        raise SigningError(f"The {role} certificate {subject_text(cert)} is not valid yet.")


async def _validated_path(
    cert: x509.Certificate,
    others: Sequence[x509.Certificate],
    context: ValidationContext,
    role: str,
    *,
    time_stamping: bool,
) -> ValidationPath:
    """``cert``'s chain with fresh revocation data in ``context``; revoked is final."""
    _require_current(cert, role)
    validator = CertificateValidator(
        cert, intermediate_certs=list(others), validation_context=context
    )
    usage = validator.async_validate_usage(set(), {"time_stamping"} if time_stamping else None)
    try:
        return await _validate(usage, role, cert)
    except SigningError as exc:
        if isinstance(exc.__cause__, RevokedError):
            raise NotRenewable(exc.message) from exc
        raise


async def _confirm_lta(pdf: bytes, roots: Sequence[x509.Certificate], what: str) -> None:
    from archive_service.signing.validation import async_validate_pdf

    report = await async_validate_pdf(pdf, roots, analyse_modifications=False)
    weaker = [s.summary for s in report.signatures if s.level != "B-LTA"]
    if not report.all_valid or weaker:
        raise SigningError(
            f"The {what} document could not be confirmed as B-LTA: " + " ".join(weaker)
        )


async def async_add_archive_timestamp(
    pdf: bytes,
    timestamper: TimeStamper,
    *,
    trust_roots: Sequence[CertificateLike],
    fetcher_backend: FetcherBackend | None = None,
) -> bytes:
    """:func:`add_archive_timestamp` for callers that already run an event loop."""
    roots = to_asn1_certificates(trust_roots)
    timestamps = _embedded(_read(pdf, "The document to renew"), "embedded_timestamp_signatures")
    if not timestamps:
        raise SigningError("The document has no archive timestamp to renew; it is not B-LTA.")
    newest = timestamps[-1]
    context = revocation_context(roots, fetcher_backend)
    paths = [
        await _validated_path(
            newest.signer_cert,
            newest.other_embedded_certs,
            context,
            "newest archive timestamp's TSA",
            time_stamping=True,
        ),
        *await validated_tsa_paths(timestamper, context),
    ]
    renewed = await add_validation_data(pdf, paths, context, archive_timestamper=timestamper)
    await _confirm_lta(renewed, roots, "renewed")
    return renewed


def add_archive_timestamp(
    pdf: bytes,
    timestamper: TimeStamper,
    *,
    trust_roots: Sequence[CertificateLike],
    fetcher_backend: FetcherBackend | None = None,
) -> bytes:
    """Renew a B-LTA document: fresh validation data plus a new document timestamp.

    The newest archive timestamp's TSA chain gets fresh revocation data (fetched in hard-fail
    mode), the new TSA's chain too, and a new document timestamp from ``timestamper`` covers
    both — one incremental revision, PDF/A kept. Renew before the newest timestamp's TSA
    certificate expires (or its algorithms weaken); the result validates, offline, until the
    *new* TSA's certificate expires.

    :raises UnreadablePdf: ``pdf`` is not a PDF.
    :raises NotRenewable: the newest archive timestamp's TSA certificate has expired or is
        revoked.
    :raises SigningError: the document has no archive timestamp, a responder or the TSA did not
        answer, or the result is not confirmed as B-LTA.
    """
    return run_sync(
        async_add_archive_timestamp(
            pdf, timestamper, trust_roots=trust_roots, fetcher_backend=fetcher_backend
        )
    )


async def async_extend_to_lta(
    pdf: bytes,
    timestamper: TimeStamper,
    *,
    trust_roots: Sequence[CertificateLike],
    fetcher_backend: FetcherBackend | None = None,
) -> bytes:
    """Turn a B-T or B-LT document into B-LTA: DSS for every chain + a document timestamp.

    Each signature's signer chain and signature-timestamp TSA chain get fresh revocation data
    (hard-fail); the new TSA's chain too; a document timestamp covers it all. A signer
    certificate that has expired is acceptable only for a B-LT signature: its DSS already holds
    the revocation data of the time it signed. Everything else that has expired or been revoked
    makes the document :class:`NotRenewable`.

    B-B cannot be extended: long-term validation (ETSI EN 319 102-1 as pyHanko implements it)
    starts from the signature timestamp, which is an unsigned attribute *inside* the signature's
    CMS; a document timestamp appended later does not stand in for it (validation answers
    ``SIG_CONSTRAINTS_FAILURE``), and adding the attribute would rewrite the signed revision.
    """
    roots = to_asn1_certificates(trust_roots)
    reader = _read(pdf, "The document to extend")
    if _embedded(reader, "embedded_timestamp_signatures"):
        raise SigningError("The document already has an archive timestamp; renew it instead.")
    signatures = _embedded(reader, "embedded_regular_signatures")
    if not signatures:
        raise NotRenewable("The document has no signature to keep alive.")
    tokens = [_signature_timestamp(signature) for signature in signatures]
    if None in tokens:
        raise NotRenewable(
            "The document is B-B: its signature has no signature timestamp, which B-LTA needs "
            "and which cannot be added afterwards without rewriting the signature; archive the "
            "export again at B-T or higher while the signer's certificate is valid."
        )
    has_dss = "/DSS" in reader.root
    context = revocation_context(roots, fetcher_backend)
    paths: list[ValidationPath] = []
    for signature, token in zip(signatures, tokens, strict=True):
        signer_cert = signature.signer_cert
        if not has_dss or dt.datetime.now(dt.UTC) <= _not_after(signer_cert):
            paths.append(
                await _validated_path(
                    signer_cert, signature.other_embedded_certs, context, "signer's",
                    time_stamping=False,
                )
            )
        info = extract_certificate_info(token)
        paths.append(
            await _validated_path(
                info.signer_cert, info.other_certs, context,
                "signature timestamp's TSA", time_stamping=True,
            )
        )
    paths.extend(await validated_tsa_paths(timestamper, context))
    extended = await add_validation_data(pdf, paths, context, archive_timestamper=timestamper)
    await _confirm_lta(extended, roots, "extended")
    return extended


async def async_extend_or_renew(
    pdf: bytes,
    timestamper: TimeStamper,
    *,
    trust_roots: Sequence[CertificateLike],
    fetcher_backend: FetcherBackend | None = None,
) -> RenewedDocument:
    """:func:`extend_or_renew` for callers that already run an event loop."""
    has_archive_timestamp = timestamp_expiry(pdf).kind == "document"
    job = async_add_archive_timestamp if has_archive_timestamp else async_extend_to_lta
    result = await job(
        pdf, timestamper, trust_roots=trust_roots, fetcher_backend=fetcher_backend
    )
    expiry = timestamp_expiry(result)
    assert expiry.expires_at is not None  # confirmed B-LTA: it ends with a document timestamp
    return RenewedDocument(
        pdf=result,
        level="B-LTA",
        timestamp_expires_at=expiry.expires_at,
        extended=not has_archive_timestamp,
    )


def extend_or_renew(
    pdf: bytes,
    timestamper: TimeStamper,
    *,
    trust_roots: Sequence[CertificateLike],
    fetcher_backend: FetcherBackend | None = None,
) -> RenewedDocument:
    """Keep a signed document verifiable: renew a B-LTA, extend anything weaker to B-LTA.

    The one call the archive's renewal job needs: whatever level a version was archived at, the
    result ends with a fresh document timestamp from ``timestamper`` over fresh revocation data
    and is confirmed as B-LTA by validation before it is returned.

    :raises UnreadablePdf: ``pdf`` is not a PDF.
    :raises NotRenewable: too late — a certificate the evidence depends on has expired or was
        revoked (the message names it); retrying will not help.
    :raises SigningError: a responder or the TSA did not answer (retry later), or the result
        could not be confirmed as B-LTA.
    """
    return run_sync(
        async_extend_or_renew(
            pdf, timestamper, trust_roots=trust_roots, fetcher_backend=fetcher_backend
        )
    )
