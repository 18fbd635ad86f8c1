"""Storage URL → backend: the one place configuration picks the object store.

Accepted today::

    /abs/path  or  relative/path             filesystem store
    file:///abs/path[?immutable_attr=true]   filesystem store (optionally with chattr +i)

``s3://…`` (S3/MinIO with Object Lock) is reserved for the backend a later release adds; until
then it is refused at startup rather than silently replaced by something weaker.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from archive_service.storage.errors import StorageConfigurationError
from archive_service.storage.filesystem import FilesystemObjectStore
from archive_service.storage.protocol import ObjectStore

S3_SCHEMES = frozenset({"s3", "s3+http", "s3+https", "minio"})
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def open_object_store(url: str) -> ObjectStore:
    """The store a storage URL names; nothing is touched until :meth:`ObjectStore.check`.

    A filesystem store opened here may create its root folder (not the parents) on first
    ``check()``, which is what the embedded default in ``./var/objects`` needs.

    :raises StorageConfigurationError: empty, unknown or not-yet-supported URL.
    """
    if not url or not url.strip():
        raise StorageConfigurationError("The storage URL is empty; set a path or file:/// URL.")
    if "://" not in url:
        return FilesystemObjectStore(Path(url), create_root=True)
    # Only the scheme is ever echoed back: the rest of an S3 URL may carry credentials.
    scheme = url.split("://", 1)[0].lower()
    if scheme == "file":
        return _open_file_url(url)
    if scheme in S3_SCHEMES:
        raise StorageConfigurationError(
            f"The {scheme}:// storage backend (S3/MinIO with Object Lock) is not available in "
            "this version yet; a later release adds it. Use a filesystem path or a file:/// URL."
        )
    raise StorageConfigurationError(
        f"Unknown storage URL scheme {scheme!r}; use a filesystem path or file:///absolute/path."
    )


def _open_file_url(url: str) -> FilesystemObjectStore:
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise StorageConfigurationError(
            f"A file:// storage URL cannot name a host ({parts.netloc!r}); use file:///abs/path."
        )
    path = unquote(parts.path)
    if not path.startswith("/"):
        raise StorageConfigurationError("A file:// storage URL needs an absolute path.")
    options = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(options) - {"immutable_attr"})
    if unknown:
        raise StorageConfigurationError(
            f"Unknown option(s) {', '.join(unknown)} in the file:// storage URL; "
            "the only option is immutable_attr=true|false."
        )
    return FilesystemObjectStore(
        Path(path),
        immutable_attr=_flag(options.get("immutable_attr", ["false"])[-1]),
        create_root=True,
    )


def _flag(value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise StorageConfigurationError(
        f"immutable_attr must be true or false in the storage URL, not {value!r}."
    )
