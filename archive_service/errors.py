"""The error family every room raises, so the HTTP layer and the CLI translate errors in one place.

Each error carries a stable machine-readable ``code``, a sentence a person can act on, and
optionally ``details``: a list of (path, message) pairs pointing into the offending input
(a JSON pointer for JSON, an XPath for XML, a field name for query parameters).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorDetail:
    """One problem at one place in the input."""

    #: JSON pointer (``/pupils/3/id``), XPath (``/journal/pupils/pupil[4]/@id``) or field name.
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class ArchiveError(Exception):
    """Root of every error the service raises on purpose.

    :param message: what went wrong and, where possible, what to do about it.
    :param details: per-field problems, most useful for rejected input.
    """

    #: HTTP status the API answers with.
    status: int = 500
    #: Stable identifier clients can switch on.
    code: str = "internal_error"

    def __init__(self, message: str, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: list[ErrorDetail] = list(details or [])

    def as_dict(self) -> dict[str, object]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": [d.as_dict() for d in self.details],
            }
        }


class InvalidInput(ArchiveError):
    """The input is malformed or breaks a rule; nothing was changed."""

    status = 422
    code = "invalid_input"


class MalformedInput(InvalidInput):
    """The input cannot even be parsed (bad JSON/XML syntax, hostile XML constructs)."""

    status = 400
    code = "malformed_input"


class PayloadTooLarge(InvalidInput):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(InvalidInput):
    status = 415
    code = "unsupported_media_type"


class Unauthorized(ArchiveError):
    status = 401
    code = "unauthorized"


class Forbidden(ArchiveError):
    status = 403
    code = "forbidden"


class NotFound(ArchiveError):
    status = 404
    code = "not_found"


class Conflict(ArchiveError):
    status = 409
    code = "conflict"


class ServiceUnavailable(ArchiveError):
    """A dependency (store, database, TSA, key) is unavailable; retrying later may succeed."""

    status = 503
    code = "service_unavailable"


class IntegrityFailure(ArchiveError):
    """Stored bytes do not match the recorded hash: never serve them."""

    status = 500
    code = "integrity_failure"
