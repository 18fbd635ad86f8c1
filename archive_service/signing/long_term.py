"""Long-term validation material: revocation data gathered in hard-fail mode, DSS, archive stamps.

Used by :class:`~archive_service.signing.pades.PadesSigner` for B-LT/B-LTA and by
:func:`add_archive_timestamp` to renew an archived document's timestamp chain. Every revision it
writes goes through :func:`~archive_service.signing.pdf_writer.open_for_signing`, so the
document's PDF/A metadata, version and widget appearances survive (pyHanko's own
``add_validation_info`` / ``update_archival_timestamp_chain`` open a plain incremental writer).
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO

from asn1crypto import x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields
from pyhanko.sign.signers import PdfTimeStamper, Signer
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation.dss import DocumentSecurityStore
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
from archive_service.signing.pdf_writer import open_for_signing

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
    stamper = PdfTimeStamper(archive_timestamper, field_name=_next_timestamp_field(writer.prev))
    try:
        await stamper.async_timestamp_pdf(writer, "sha256", output=output)
    except Exception as exc:
        raise SigningError(
            f"The archive timestamp failed ({type(exc).__name__}: {exc})."
        ) from exc
    return output.getvalue()


def _next_timestamp_field(reader: PdfFileReader) -> str:
    taken = {name for name, _, _ in enumerate_sig_fields(reader)}
    number = 1
    while f"{TIMESTAMP_FIELD_PREFIX}{number}" in taken:
        number += 1
    return f"{TIMESTAMP_FIELD_PREFIX}{number}"


async def async_add_archive_timestamp(
    pdf: bytes,
    timestamper: TimeStamper,
    *,
    trust_roots: Sequence[CertificateLike],
    fetcher_backend: FetcherBackend | None = None,
) -> bytes:
    """:func:`add_archive_timestamp` for callers that already run an event loop."""
    from archive_service.signing.validation import async_validate_pdf

    roots = to_asn1_certificates(trust_roots)
    try:
        reader = PdfFileReader(BytesIO(pdf))
        timestamps = reader.embedded_timestamp_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise UnreadablePdf(f"The document to renew is not a readable PDF: {exc}") from exc
    if not timestamps:
        raise SigningError("The document has no archive timestamp to renew; it is not B-LTA.")
    newest = timestamps[-1]
    context = revocation_context(roots, fetcher_backend)
    validator = CertificateValidator(
        newest.signer_cert,
        intermediate_certs=list(newest.other_embedded_certs),
        validation_context=context,
    )
    paths = [
        await _validate(
            validator.async_validate_usage(set(), {"time_stamping"}),
            "newest archive timestamp's TSA",
            newest.signer_cert,
        ),
        *await validated_tsa_paths(timestamper, context),
    ]
    renewed = await add_validation_data(pdf, paths, context, archive_timestamper=timestamper)
    report = await async_validate_pdf(renewed, roots, analyse_modifications=False)
    weaker = [s.summary for s in report.signatures if s.level != "B-LTA"]
    if not report.all_valid or weaker:
        raise SigningError(
            "The renewed document could not be confirmed as B-LTA: " + " ".join(weaker)
        )
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
    :raises SigningError: the document has no archive timestamp, a responder or the TSA did not
        answer, a certificate is revoked, or the result is not confirmed as B-LTA.
    """
    return run_sync(
        async_add_archive_timestamp(
            pdf, timestamper, trust_roots=trust_roots, fetcher_backend=fetcher_backend
        )
    )
