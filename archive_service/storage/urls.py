"""Storage URL → backend: the one place configuration picks the object store.

Accepted today::

    /abs/path  or  relative/path             filesystem store
    file:///abs/path[?immutable_attr=true]   filesystem store (optionally with chattr +i)

    s3://ACCESS:SECRET@host:port/bucket[?secure=false&region=eu-central-1]
                                             S3 with Object Lock (MinIO, SeaweedFS, AWS)

``s3+http://`` and ``s3+https://`` fix ``secure``; plain ``s3://`` is HTTPS unless
``secure=false``. Credentials left out of the URL come from ``ARCHIVE_S3_ACCESS_KEY`` and
``ARCHIVE_S3_SECRET_KEY``. No error message ever repeats the part of the URL before the host.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from archive_service.storage.errors import StorageConfigurationError
from archive_service.storage.filesystem import FilesystemObjectStore
from archive_service.storage.protocol import ObjectStore
from archive_service.storage.s3 import (
    S3Location,
    S3ObjectStore,
    create_bucket_with_object_lock,
)

S3_SCHEMES = frozenset({"s3", "s3+http", "s3+https"})
ACCESS_KEY_ENV = "ARCHIVE_S3_ACCESS_KEY"
SECRET_KEY_ENV = "ARCHIVE_S3_SECRET_KEY"
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
        return S3ObjectStore(parse_s3_url(url))
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
        immutable_attr=_flag("immutable_attr", options.get("immutable_attr", ["false"])[-1]),
        create_root=True,
    )


def initialize_storage(url: str, default_retention_days: int) -> str:
    """Prepare the store a URL names, once, before the service first starts.

    An S3 bucket gets Object Lock, versioning and a default COMPLIANCE retention (a backstop;
    every PUT sends its own); a filesystem store gets its folders. Returns one line to print.
    """
    if "://" in url and url.split("://", 1)[0].lower() in S3_SCHEMES:
        return create_bucket_with_object_lock(parse_s3_url(url), default_retention_days)
    store = open_object_store(url)
    store.check()
    return f"ready: {store.description}"


def parse_s3_url(url: str) -> S3Location:
    """Where an ``s3://`` URL points, with credentials from the URL or the environment.

    :raises StorageConfigurationError: without ever quoting the credentials.
    """
    scheme = url.split("://", 1)[0].lower()
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
        user, password = parts.username, parts.password
    except ValueError:
        raise StorageConfigurationError(
            f"The {scheme}:// storage URL has an unreadable host or port."
        ) from None
    if not host:
        raise StorageConfigurationError(f"The {scheme}:// storage URL names no host.")
    bucket = parts.path.strip("/")
    if not bucket or "/" in bucket:
        raise StorageConfigurationError(
            f"The {scheme}:// storage URL must name exactly one bucket: {scheme}://host:port/bucket."
        )
    options = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    unknown = sorted(set(options) - {"secure", "region"})
    if unknown:
        raise StorageConfigurationError(
            f"Unknown option(s) {', '.join(unknown)} in the {scheme}:// storage URL; "
            "the options are secure=true|false and region=NAME."
        )
    secure = {"s3+http": False, "s3+https": True}.get(scheme)
    if secure is None:
        secure = _flag("secure", options.get("secure", "true"))
    elif "secure" in options and _flag("secure", options["secure"]) != secure:
        raise StorageConfigurationError(f"secure= contradicts the {scheme}:// scheme.")
    access_key = unquote(user) if user else os.environ.get(ACCESS_KEY_ENV, "")
    secret_key = unquote(password) if password else os.environ.get(SECRET_KEY_ENV, "")
    if not access_key or not secret_key:
        raise StorageConfigurationError(
            f"The {scheme}:// storage URL needs credentials: put them in the URL or set "
            f"{ACCESS_KEY_ENV} and {SECRET_KEY_ENV}."
        )
    return S3Location(
        endpoint=f"{host}:{port}" if port else host,
        bucket=bucket,
        access_key=access_key,
        secret_key=secret_key,
        secure=secure,
        region=options.get("region") or None,
    )


def _flag(name: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise StorageConfigurationError(
        f"{name} must be true or false in the storage URL, not {value!r}."
    )
