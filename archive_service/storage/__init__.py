"""The storage room: one write-once :class:`ObjectStore` protocol and its backends.

Knows nothing of journals or the database. The pipeline receives an ``ObjectStore`` from
:func:`open_object_store` and never asks which backend it got.
"""

from archive_service.storage.errors import (
    InvalidObjectArgument,
    KeyCollisionError,
    ObjectExistsError,
    ObjectNotFoundError,
    StorageConfigurationError,
    StorageError,
    StorageUnavailable,
)
from archive_service.storage.filesystem import FilesystemObjectStore
from archive_service.storage.keys import validate_key, validate_prefix
from archive_service.storage.protocol import (
    IncompleteObject,
    ObjectStore,
    ObjectVersion,
    StoredObject,
)
from archive_service.storage.s3 import S3Location, S3ObjectStore
from archive_service.storage.urls import initialize_storage, open_object_store

__all__ = [
    "FilesystemObjectStore",
    "IncompleteObject",
    "InvalidObjectArgument",
    "KeyCollisionError",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "ObjectStore",
    "ObjectVersion",
    "S3Location",
    "S3ObjectStore",
    "StorageConfigurationError",
    "StorageError",
    "StorageUnavailable",
    "StoredObject",
    "initialize_storage",
    "open_object_store",
    "validate_key",
    "validate_prefix",
]
