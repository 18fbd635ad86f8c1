"""The storage room's errors, each also one of the shared kinds so callers need not know this room.

Every error here is a :class:`StorageError`, so a caller can catch "anything the store refused";
each is also the shared kind (not found, conflict, unavailable, bad input) the HTTP layer already
translates, so no new status mapping is needed anywhere else.
"""

from __future__ import annotations

from archive_service.errors import (
    ArchiveError,
    Conflict,
    ErrorDetail,
    IntegrityFailure,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)


class StorageError(ArchiveError):
    """Root of the storage room's errors."""

    code = "storage_error"


class StorageUnavailable(StorageError, ServiceUnavailable):
    """The store cannot be used right now (missing or read-only root, full disk, server down)."""

    code = "storage_unavailable"


class StorageConfigurationError(StorageError):
    """The storage URL names no usable backend; fixing the configuration is the only remedy."""

    code = "storage_misconfigured"


class ObjectNotFoundError(StorageError, NotFound):
    """No complete object under this key (and version)."""

    code = "object_not_found"


class ObjectExistsError(StorageError, Conflict):
    """The key is taken: write-once stores never replace an object."""

    code = "object_exists"


class KeyCollisionError(StorageError, Conflict):
    """The key cannot coexist with another key in this backend (``a`` and ``a/b`` on a filesystem).

    Deliberately not an :class:`ObjectExistsError`: no object exists under *this* key, so
    "accept the identical object already there" logic must not try to read it.
    """

    code = "object_key_collision"


class InvalidObjectArgument(StorageError, InvalidInput):
    """A key, prefix, hash, content type or retention date breaks the storage rules."""

    code = "invalid_storage_argument"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, [ErrorDetail(field, message)])


class IdentityMismatch(StorageError, IntegrityFailure):
    """The object's write-once identity names something other than the record the caller read.

    An :class:`~archive_service.errors.IntegrityFailure` like a hash mismatch (same code, same
    status): the bytes are intact but belong to another record, so they are not used.
    """

    code = "integrity_failure"
