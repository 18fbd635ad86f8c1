"""Errors of the signing room, placed in the service-wide family of `archive_service.errors`."""

from __future__ import annotations

from archive_service.errors import ArchiveError, Conflict, MalformedInput, ServiceUnavailable


class SigningError(ServiceUnavailable):
    """No signature of the requested level could be made (key, TSA or self-check failed).

    It derives from :class:`ServiceUnavailable` because the usual causes (an HSM or TSA that does
    not answer) are temporary: the job fails or is retried, and a weaker signature is never
    stored in its place (invariant 6).
    """

    code = "signing_failed"


class UnreadablePdf(MalformedInput):
    """The bytes given to sign or validate are not a PDF pyHanko can read."""

    code = "malformed_pdf"


# A prepared document (:class:`~archive_service.signing.sealing.PreparedDocument`) waits for
# one answer; these say why an answer cannot be taken any more.


class SigningRequestExpired(ArchiveError):
    """Too late: the prepared document is no longer accepted; upload the export again."""

    status = 410
    code = "signing_request_expired"


class SigningRequestFinished(Conflict):
    """The request was already answered and its document archived."""

    code = "signing_request_finished"


class SigningRequestBusy(Conflict):
    """Another answer to this request is being processed right now."""

    code = "signing_request_busy"
