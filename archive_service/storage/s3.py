"""The S3 Object Lock backend: a bucket whose *server* refuses to forget, not just this code.

The only module that imports minio-py, so S3 errors never leak past this file. Every object is
written as one single-part PUT carrying

* an explicit ``Retention(COMPLIANCE, retain_until)`` — never the bucket default alone, because
  MinIO skips the default when a legal-hold header travels with the PUT;
* ``x-amz-checksum-sha256`` with the caller's hash, so the server itself refuses bytes damaged on
  the way (minio-py has no checksum parameter; raw ``x-amz-`` metadata headers are sent as-is);
* ``If-None-Match: *``, so the server refuses to add a version to a key that already has one;
* the object's identity (what the caller says it is) as user metadata
  ``x-amz-meta-archive-identity-<name>``. S3 never changes a version's metadata in place (a
  "change" is a copy, i.e. a new version with a new id), and COMPLIANCE retention keeps the
  original version, so the identity is as write-once as the bytes; readers name the version id
  they recorded and get the metadata it was written with.

The bucket must have been created with Object Lock (see :func:`create_bucket_with_object_lock`);
:meth:`S3ObjectStore.check` refuses to run on a bucket without it.

A server that cannot be reached must become a quick, clear 503, never a hung request: the HTTP
client gives up after a few seconds and at most :data:`ATTEMPTS` attempts, and ignores a server's
``Retry-After`` (which could otherwise stall a request for as long as the server asks).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE, ENABLED
from minio.datatypes import Object
from minio.error import MinioException, S3Error
from minio.helpers import genheaders
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.retention import Retention
from minio.versioningconfig import VersioningConfig

from archive_service.errors import ArchiveError, IntegrityFailure
from archive_service.storage.arguments import (
    normalize_retain_until,
    normalize_sha256,
    require_digest,
    require_identity,
    sha256_hex,
    validate_content_type,
    validate_identity,
)
from archive_service.storage.errors import (
    ObjectExistsError,
    ObjectNotFoundError,
    StorageConfigurationError,
    StorageError,
    StorageUnavailable,
)
from archive_service.storage.keys import validate_key, validate_prefix
from archive_service.storage.protocol import IncompleteObject, ObjectVersion, StoredObject

#: User metadata holding the hex SHA-256, so ``stat`` needs no checksum-mode request.
SHA256_METADATA = "x-amz-meta-archive-sha256"
#: User metadata repeating the content type: SeaweedFS 4.48 resets the Content-Type of a version
#: to application/octet-stream when its legal hold changes, but leaves user metadata alone.
CONTENT_TYPE_METADATA = "x-amz-meta-archive-content-type"
#: User metadata with the moment of the write (UTC, ISO 8601): SeaweedFS 4.48 also moves a
#: version's Last-Modified when its legal hold changes. Versions written without it (older
#: writes) fall back to Last-Modified.
STORED_AT_METADATA = "x-amz-meta-archive-stored-at"
#: User metadata prefix of the object's identity entries (one header per entry).
IDENTITY_METADATA_PREFIX = "x-amz-meta-archive-identity-"
_INIT_HINT = "Run `archive-service storage init` to create the bucket with Object Lock."
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchObject"})
_EXISTS_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
_INTEGRITY_CODES = frozenset({"BadDigest", "XAmzContentChecksumMismatch", "InvalidDigest"})
#: Answer headers (as minio-py reports them in ``Object.metadata``) stat relies on.
_LEGAL_HOLD_HEADER = "x-amz-object-lock-legal-hold"
_CHECKSUM_HEADER = "x-amz-checksum-sha256"
#: Ask HEAD for the checksum the server verified and stored with the object.
_CHECKSUM_MODE: dict[str, str | list[str] | tuple[str]] = {"x-amz-checksum-mode": "ENABLED"}
#: Every request is tried at most this often (one try and two retries), with short pauses.
ATTEMPTS = 3
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class S3Location:
    """Where the store lives and who it is; ``repr`` never shows the secret."""

    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    secure: bool = True
    region: str | None = None

    def __repr__(self) -> str:
        scheme = "https" if self.secure else "http"
        return f"S3Location({scheme}://{self.endpoint}/{self.bucket})"

    def client(self) -> Minio:
        # Few retries and short timeouts: a dead server must become a 503, not a hung request.
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_SECONDS, read=READ_TIMEOUT_SECONDS),
            retries=urllib3.Retry(
                total=ATTEMPTS - 1,
                backoff_factor=0.2,
                backoff_max=1.0,
                status_forcelist=(502, 503, 504),
                respect_retry_after_header=False,
            ),
            maxsize=16,
        )
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=self.secure,
            region=self.region,
            http_client=http,
        )


class S3ObjectStore:
    """A write-once store on an S3 bucket with versioning and Object Lock in COMPLIANCE mode.

    Write-once is enforced twice: a listing of the key's versions before the PUT (which also
    catches a key hidden behind a delete marker) and ``If-None-Match: *`` on the PUT itself.
    Against concurrent writers this is weaker than the filesystem store's atomic link: it holds
    only where the server honours conditional writes (MinIO and SeaweedFS do); a server that
    ignores the header lets two racing PUTs both land as versions. Even then COMPLIANCE keeps
    both versions, and every reader names the version id it recorded, so no stored document
    can be replaced — only an extra version can appear.
    """

    def __init__(self, location: S3Location) -> None:
        self.location = location
        self._client = location.client()

    @property
    def description(self) -> str:
        scheme = "https" if self.location.secure else "http"
        return (
            f"S3 bucket {self.location.bucket} at {scheme}://{self.location.endpoint} "
            "(versioning + Object Lock COMPLIANCE per object, server-verified SHA-256)"
        )

    def put(
        self,
        key: str,
        data: bytes,
        *,
        sha256: str,
        content_type: str,
        retain_until: dt.datetime,
        identity: Mapping[str, str] | None = None,
    ) -> StoredObject:
        validate_key(key)
        expected = normalize_sha256(sha256)
        validate_content_type(content_type)
        names = validate_identity(identity)
        now = dt.datetime.now(dt.UTC)
        until = normalize_retain_until(retain_until, now)
        require_digest(key, sha256_hex(data), expected, "the data to store")
        if self.exists(key):
            raise ObjectExistsError(f"An object is already stored under key {key}.")
        headers = genheaders(
            {
                SHA256_METADATA: expected,
                CONTENT_TYPE_METADATA: content_type,
                STORED_AT_METADATA: now.isoformat(),
                **{f"{IDENTITY_METADATA_PREFIX}{name}": value for name, value in names.items()},
                "x-amz-sdk-checksum-algorithm": "SHA256",
                "x-amz-checksum-sha256": base64.b64encode(bytes.fromhex(expected)).decode(),
            },
            None,
            None,
            Retention(COMPLIANCE, until),
            False,
        )
        headers["Content-Type"] = content_type
        headers["If-None-Match"] = "*"
        with self._translated(key):
            # One plain PutObject (minio-py's put_object would switch to multipart above
            # 5 MiB, where a whole-object checksum header no longer applies).
            written = self._client._put_object(self.location.bucket, key, data, headers)
        if not written.version_id:
            raise StorageUnavailable(
                f"The S3 server stored {key} without a version id: versioning is off. " + _INIT_HINT
            )
        stored = self.stat(key, written.version_id)
        if (
            stored.sha256 != expected
            or stored.size != len(data)
            or stored.retain_until < until
            or dict(stored.identity) != names
        ):
            raise StorageUnavailable(
                f"The S3 server did not confirm {key} as written (hash, size, retention or "
                "identity differ); the object must not be relied on."
            )
        return stored

    def get(
        self,
        key: str,
        *,
        sha256: str,
        version_id: str | None = None,
        identity: Mapping[str, str] | None = None,
    ) -> bytes:
        validate_key(key)
        expected = normalize_sha256(sha256)
        with self._translated(key):
            response = self._client.get_object(self.location.bucket, key, version_id=version_id)
            try:
                # The answer's headers carry the version's metadata: checked before the body.
                require_identity(_identity(response.headers), identity)
                data = response.read()
            finally:
                response.close()
                response.release_conn()
        require_digest(key, sha256_hex(data), expected, "the stored object")
        return data

    def stat(self, key: str, version_id: str | None = None) -> StoredObject:
        validate_key(key)
        return _stored_object(key, self._head(key, version_id))

    def exists(self, key: str) -> bool:
        """Any version of the key counts, even one hidden behind a delete marker."""
        validate_key(key)
        return bool(self._version_ids(key, include_delete_markers=True))

    def set_legal_hold(self, key: str, version_id: str, *, on: bool) -> StoredObject:
        """The server's own legal hold: while on, not even root can delete the version.

        The version is looked at first, so no hold is ever placed on (or released from) an
        object this service did not write; the answer is what the server reports afterwards.
        """
        self.stat(key, version_id)
        with self._translated(key, version_id):
            if on:
                self._client.enable_object_legal_hold(self.location.bucket, key, version_id)
            else:
                self._client.disable_object_legal_hold(self.location.bucket, key, version_id)
        stored = self.stat(key, version_id)
        if stored.legal_hold != on:
            raise StorageUnavailable(
                f"The S3 server did not confirm the legal hold on {key} (version {version_id}) "
                f"as {'placed' if on else 'released'}; it must not be relied on."
            )
        return stored

    def find(self, key: str, *, sha256: str) -> StoredObject | None:
        """Newest first, past delete markers; only versions whose hash the *server* verified.

        Our metadata alone is not enough: anyone with write access could add a version carrying
        a copied ``archive-sha256`` header over other bytes. The checksum the server computed
        and checked at upload (``x-amz-checksum-sha256``) cannot be forged that way, so a
        version without it, or with another one, is never returned.
        """
        validate_key(key)
        expected = normalize_sha256(sha256)
        server_checksum = base64.b64encode(bytes.fromhex(expected)).decode()
        for version_id in self._version_ids(key, include_delete_markers=False):
            try:
                found = self._head(key, version_id, checksum=True)
                stored = _stored_object(key, found)
            except (ObjectNotFoundError, IntegrityFailure):
                continue  # gone meanwhile, or not written by this service
            if stored.sha256 == expected and _header(found, _CHECKSUM_HEADER) == server_checksum:
                return stored
        return None

    def iter_objects(self, prefix: str = "") -> Iterator[StoredObject]:
        validate_prefix(prefix)
        with self._translated(prefix):
            names = [
                item.object_name
                for item in self._client.list_objects(
                    self.location.bucket, prefix=prefix or None, recursive=True
                )
                if item.object_name and not item.is_dir
            ]
        for name in sorted(names):
            yield self.stat(name)

    def iter_versions(self, prefix: str = "") -> Iterator[ObjectVersion]:
        """ListObjectVersions: versions and delete markers, by key, newest first within a key."""
        validate_prefix(prefix)
        with self._translated(prefix):
            listed = [
                ObjectVersion(
                    key=item.object_name,
                    version_id=item.version_id or "null",
                    delete_marker=bool(item.is_delete_marker),
                    latest=str(item.is_latest).lower() == "true",
                    modified=item.last_modified.astimezone(dt.UTC) if item.last_modified else None,
                )
                for item in self._client.list_objects(
                    self.location.bucket,
                    prefix=prefix or None,
                    recursive=True,
                    include_version=True,
                )
                if item.object_name and not item.is_dir
            ]
        # minio-py lists a page's versions first and its delete markers after them: order by
        # key, then the latest entry, then newest to oldest.
        yield from sorted(listed, key=_version_order)

    def iter_incomplete(self) -> Iterator[IncompleteObject]:
        """Unfinished multipart uploads; this store never starts one, so any is foreign."""
        key_marker: str | None = None
        upload_marker: str | None = None
        while True:
            with self._translated(""):
                page = self._client._list_multipart_uploads(
                    self.location.bucket, key_marker=key_marker, upload_id_marker=upload_marker
                )
            for upload in page.uploads:
                yield IncompleteObject(
                    location=str(upload.upload_id),
                    reason="unfinished multipart upload",
                    key=upload.object_name,
                )
            if not page.is_truncated:
                return
            key_marker, upload_marker = page.next_key_marker, page.next_upload_id_marker

    def check(self) -> list[str]:
        """Usable means: the bucket exists, keeps versions and has Object Lock, since every PUT
        sends its own COMPLIANCE retention. The bucket's *default* retention is only a backstop
        for objects written without one (never by this service): a changed or removed default
        is a warning, not a reason to refuse service."""
        bucket = self.location.bucket
        with self._translated(""):
            if not self._client.bucket_exists(bucket):
                raise StorageUnavailable(f"The S3 bucket {bucket} does not exist. {_INIT_HINT}")
            versioning = self._client.get_bucket_versioning(bucket).status
            lock = self._lock_config()
        if versioning != ENABLED:
            raise StorageUnavailable(
                f"The S3 bucket {bucket} does not have versioning enabled ({versioning}). "
                + _INIT_HINT
            )
        if lock is None:
            raise StorageUnavailable(
                f"The S3 bucket {bucket} has no Object Lock (it can only be enabled when a bucket "
                f"is created). {_INIT_HINT}"
            )
        return _default_retention_warnings(bucket, lock)

    def _head(self, key: str, version_id: str | None, *, checksum: bool = False) -> Object:
        with self._translated(key, version_id):
            return self._client.stat_object(
                self.location.bucket,
                key,
                version_id=version_id,
                extra_headers=_CHECKSUM_MODE if checksum else None,
            )

    def _version_ids(self, key: str, *, include_delete_markers: bool) -> list[str]:
        """Version ids of exactly ``key`` (not of keys it is a prefix of), newest first."""
        with self._translated(key):
            return [
                item.version_id or "null"
                for item in self._client.list_objects(
                    self.location.bucket, prefix=key, include_version=True
                )
                if item.object_name == key
                and (include_delete_markers or not item.is_delete_marker)
            ]

    def _lock_config(self) -> ObjectLockConfig | None:
        try:
            return self._client.get_object_lock_config(self.location.bucket)
        except S3Error as exc:
            if exc.code in ("ObjectLockConfigurationNotFoundError", "InvalidRequest"):
                return None
            raise

    @contextmanager
    def _translated(self, key: str, version_id: str | None = None) -> Iterator[None]:
        """minio-py and urllib3 errors become the storage room's errors, with no credentials."""
        try:
            yield
        except StorageError:
            raise
        except S3Error as exc:
            if version_id is not None and _is_status(exc, 400):
                # A malformed version id (MinIO answers HEAD with a bare 400): no such version.
                raise ObjectNotFoundError(
                    f"Object {key} has no version {version_id}."
                ) from None
            raise _translate(exc, key) from None
        except IntegrityFailure:
            raise
        except ValueError as exc:
            # minio-py validates names (bucket, key) itself before any request.
            raise StorageConfigurationError(f"The S3 client refused the request: {exc}.") from None
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            gave_up = isinstance(exc, urllib3.exceptions.MaxRetryError)
            tried = f", {ATTEMPTS} attempts" if gave_up else ""
            raise StorageUnavailable(
                f"The S3 server at {self.location.endpoint} cannot be reached "
                f"({type(exc).__name__}{tried}); retrying later may succeed."
            ) from None


def _default_retention_warnings(bucket: str, lock: ObjectLockConfig) -> list[str]:
    """What is off about the bucket's default retention (the backstop), if anything."""
    if lock.mode == COMPLIANCE:
        return []
    found = (
        f"{lock.mode} for {lock.duration} {str(lock.duration_unit).lower()}"
        if lock.mode
        else "none"
    )
    return [
        f"The S3 bucket {bucket}'s default retention is {found}, not COMPLIANCE: objects this "
        "service writes are unaffected (each carries its own COMPLIANCE retention), but an "
        "object written without one would not be locked. Restore the default with "
        "`archive-service storage init`."
    ]


def _translate(exc: S3Error, key: str) -> ArchiveError:
    code = exc.code or ""
    if code in _NOT_FOUND_CODES or (code == "InvalidArgument" and "version" in str(exc).lower()):
        return ObjectNotFoundError(f"No object is stored under key {key} (and version).")
    if _is_status(exc, 405):
        # A version id naming a delete marker.
        return ObjectNotFoundError(f"No object is stored under key {key} (and version).")
    if code in _EXISTS_CODES:
        return ObjectExistsError(f"An object is already stored under key {key}.")
    if code in _INTEGRITY_CODES:
        return IntegrityFailure(
            f"The S3 server refused the bytes for key {key}: they do not match their SHA-256."
        )
    if code in ("NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
        return StorageUnavailable(f"The S3 server refused access ({code}). {_INIT_HINT}")
    return StorageUnavailable(
        f"The S3 server refused the request for {key or 'the bucket'} ({code})."
    )


def _version_order(version: ObjectVersion) -> tuple[str, bool, float]:
    modified = version.modified.timestamp() if version.modified else 0.0
    return version.key, not version.latest, -modified


def _is_status(exc: S3Error, status: int) -> bool:
    return exc.response is not None and exc.response.status == status


def _header(found: Object, name: str) -> str:
    """One answer header of a stat (minio-py keeps them, any case, in ``metadata``)."""
    for header, value in (found.metadata or {}).items():
        if header.lower() == name:
            return str(value)
    return ""


def _identity(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The identity entries among an answer's headers (any case, as servers spell them)."""
    found: dict[str, str] = {}
    for header, value in (headers or {}).items():
        name = header.lower()
        if name.startswith(IDENTITY_METADATA_PREFIX):
            found[name.removeprefix(IDENTITY_METADATA_PREFIX)] = str(value)
    return found


def _stored_object(key: str, found: Object) -> StoredObject:
    sha256 = _header(found, SHA256_METADATA)
    mode = _header(found, "x-amz-object-lock-mode")
    until = _header(found, "x-amz-object-lock-retain-until-date")
    if mode != COMPLIANCE or not until or not sha256:
        # Someone wrote this version past the service (e.g. with root credentials).
        raise IntegrityFailure(
            f"The object under key {key} is not locked in COMPLIANCE mode or has no recorded "
            "SHA-256; it was not written by this service and must not be trusted."
        )
    return StoredObject(
        key=key,
        version_id=found.version_id or "",
        sha256=sha256,
        size=found.size or 0,
        content_type=_header(found, CONTENT_TYPE_METADATA) or found.content_type or "",
        retain_until=_parse_utc(until),
        stored_at=_stored_at(found),
        # Absent (MinIO, before any hold was placed) means off, as in S3.
        legal_hold=_header(found, _LEGAL_HOLD_HEADER).upper() == "ON",
        identity=_identity(found.metadata),
    )


def _stored_at(found: Object) -> dt.datetime:
    recorded = _header(found, STORED_AT_METADATA)
    if recorded:
        with suppress(ValueError):
            return _parse_utc(recorded)
    return (found.last_modified or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)


def _parse_utc(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)


def create_bucket_with_object_lock(location: S3Location, default_retention_days: int) -> str:
    """Create the bucket with Object Lock, versioning and a default COMPLIANCE retention.

    The default retention is only a backstop: every PUT sends its own. Idempotent on a bucket
    that is already set up; a bucket without Object Lock cannot be repaired (S3 allows it only at
    creation) and is refused with the reason.

    :returns: what was done, one line for the CLI.
    """
    store = S3ObjectStore(location)
    client = store._client
    with store._translated(""):
        created = not client.bucket_exists(location.bucket)
        if created:
            client.make_bucket(location.bucket, location=location.region, object_lock=True)
        client.set_bucket_versioning(location.bucket, VersioningConfig(ENABLED))
        if store._lock_config() is None:
            raise StorageUnavailable(
                f"The S3 bucket {location.bucket} exists without Object Lock, which can only be "
                "enabled when a bucket is created; choose a new bucket name."
            )
        client.set_object_lock_config(
            location.bucket, ObjectLockConfig(COMPLIANCE, default_retention_days, DAYS)
        )
    store.check()
    verb = "created" if created else "checked"
    return (
        f"{verb} bucket {location.bucket}: versioning on, Object Lock with default COMPLIANCE "
        f"retention of {default_retention_days} days"
    )
