"""Attacks on stored objects with the S3 server's *own admin credentials*, using minio-py directly.

Object Lock in COMPLIANCE mode is the promise that nobody — not the service, not an operator with
root on the object store — can remove or replace an archived document before its retention date.
Each test does what such an operator could do and then checks that the store still serves the
original bytes under the version id it recorded.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import uuid
from collections.abc import Iterator

import pytest
from minio import Minio
from minio.commonconfig import COMPLIANCE, ENABLED, GOVERNANCE
from minio.error import S3Error
from minio.retention import Retention
from minio.versioningconfig import SUSPENDED, VersioningConfig

from archive_service.errors import IntegrityFailure
from archive_service.storage import ObjectExistsError, ObjectNotFoundError, StoredObject
from archive_service.storage.s3 import S3ObjectStore
from tests.storage.servers import S3TestServer, remove_with_bypass

ORIGINAL = b"%PDF-1.7 the archived journal, as signed"
#: Long enough to outlast any test: every attack happens well before it ends.
RETENTION = dt.timedelta(hours=1)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def server(s3_server: S3TestServer) -> S3TestServer:
    """Every S3 server the suite can start (conftest.S3_SERVERS)."""
    return s3_server


@pytest.fixture
def store(server: S3TestServer) -> S3ObjectStore:
    return S3ObjectStore(server.location())


@pytest.fixture
def root(server: S3TestServer) -> Minio:
    return server.root_client()


@pytest.fixture
def stored(store: S3ObjectStore) -> StoredObject:
    key = f"attacks/{uuid.uuid4().hex}/journal.pdf"
    until = (dt.datetime.now(dt.UTC) + RETENTION).replace(microsecond=0)
    return store.put(
        key, ORIGINAL, sha256=digest(ORIGINAL), content_type="application/pdf", retain_until=until
    )


@pytest.fixture
def versioning_restored(root: Minio, server: S3TestServer) -> Iterator[None]:
    """Should an attack on the bucket succeed, undo it so the other tests still mean something."""
    yield
    if root.get_bucket_versioning(server.bucket).status != ENABLED:
        root.set_bucket_versioning(server.bucket, VersioningConfig(ENABLED))


def assert_original_intact(store: S3ObjectStore, root: Minio, stored: StoredObject) -> None:
    assert store.get(stored.key, sha256=stored.sha256, version_id=stored.version_id) == ORIGINAL
    assert store.stat(stored.key, stored.version_id) == stored
    retention = root.get_object_retention(
        store.location.bucket, stored.key, version_id=stored.version_id
    )
    assert retention is not None
    assert retention.mode == COMPLIANCE
    assert retention.retain_until_date == stored.retain_until


def test_deleting_the_version_is_refused(
    store: S3ObjectStore, root: Minio, stored: StoredObject
) -> None:
    with pytest.raises(S3Error):
        root.remove_object(store.location.bucket, stored.key, version_id=stored.version_id)

    assert_original_intact(store, root, stored)


def test_shortening_the_retention_is_refused(
    store: S3ObjectStore, root: Minio, stored: StoredObject
) -> None:
    for shorter in (stored.retain_until - dt.timedelta(minutes=30), dt.datetime(2000, 1, 1)):
        with pytest.raises(S3Error):
            root.set_object_retention(
                store.location.bucket,
                stored.key,
                Retention(COMPLIANCE, shorter.replace(tzinfo=dt.UTC)),
                version_id=stored.version_id,
            )

    assert_original_intact(store, root, stored)


def test_switching_to_governance_is_refused(
    store: S3ObjectStore, root: Minio, stored: StoredObject
) -> None:
    with pytest.raises(S3Error):
        root.set_object_retention(
            store.location.bucket,
            stored.key,
            Retention(GOVERNANCE, stored.retain_until),
            version_id=stored.version_id,
        )

    assert_original_intact(store, root, stored)


def test_removing_with_bypass_governance_is_refused(
    store: S3ObjectStore, root: Minio, stored: StoredObject
) -> None:
    failed = remove_with_bypass(root, store.location.bucket, stored.key, stored.version_id)

    assert failed == [stored.key]
    assert_original_intact(store, root, stored)


def test_overwriting_the_key_only_adds_a_version(
    store: S3ObjectStore, root: Minio, stored: StoredObject
) -> None:
    forged = b"%PDF-1.7 a forged journal"

    written = root.put_object(store.location.bucket, stored.key, io.BytesIO(forged), len(forged))

    assert written.version_id and written.version_id != stored.version_id
    assert_original_intact(store, root, stored)
    with pytest.raises(ObjectExistsError):
        store.put(
            stored.key,
            ORIGINAL,
            sha256=stored.sha256,
            content_type="application/pdf",
            retain_until=stored.retain_until,
        )


def test_suspending_versioning_is_refused(
    store: S3ObjectStore,
    root: Minio,
    stored: StoredObject,
    server: S3TestServer,
    versioning_restored: None,
) -> None:
    with pytest.raises(S3Error):
        root.set_bucket_versioning(server.bucket, VersioningConfig(SUSPENDED))

    assert root.get_bucket_versioning(server.bucket).status == ENABLED
    store.check()
    assert_original_intact(store, root, stored)


@pytest.mark.parametrize("target", ["new-key", "stored-key"])
def test_a_wrong_checksum_is_refused_by_the_server(
    store: S3ObjectStore, root: Minio, stored: StoredObject, target: str
) -> None:
    key = stored.key if target == "stored-key" else f"{stored.key}.forged"
    forged = b"bytes that do not match the checksum header"
    claimed = {
        "x-amz-sdk-checksum-algorithm": "SHA256",
        "x-amz-checksum-sha256": base64.b64encode(hashlib.sha256(ORIGINAL).digest()).decode(),
    }

    with pytest.raises(S3Error) as refused:
        root.put_object(
            store.location.bucket,
            key,
            io.BytesIO(forged),
            len(forged),
            metadata=claimed,
            part_size=max(len(forged), 5 * 1024 * 1024),
        )

    assert refused.value.code in ("BadDigest", "XAmzContentChecksumMismatch", "InvalidDigest")
    versions = [
        item.version_id
        for item in root.list_objects(store.location.bucket, prefix=key, include_version=True)
        if item.object_name == key
    ]
    assert versions == ([stored.version_id] if target == "stored-key" else [])
    assert_original_intact(store, root, stored)


def test_delete_without_version_only_hides_the_document(
    store: S3ObjectStore, root: Minio, stored: StoredObject
) -> None:
    root.remove_object(store.location.bucket, stored.key)

    markers = [
        item
        for item in root.list_objects(
            store.location.bucket, prefix=stored.key, include_version=True
        )
        if item.object_name == stored.key and item.is_delete_marker
    ]
    assert len(markers) == 1
    with pytest.raises(ObjectNotFoundError):
        store.get(stored.key, sha256=stored.sha256)
    assert store.exists(stored.key)  # the key stays taken: write-once survives a delete marker
    assert store.find(stored.key, sha256=stored.sha256) == stored  # found past the marker
    assert_original_intact(store, root, stored)


def test_a_delete_marker_is_listed_with_the_version_it_hides(
    store: S3ObjectStore, root: Minio, stored: StoredObject
) -> None:
    """What audit verification and reconcile rely on: the plain listing forgets a hidden
    object, the version listing shows the marker on top and the locked version beneath."""
    root.remove_object(store.location.bucket, stored.key)

    assert [o.key for o in store.iter_objects(stored.key)] == []
    marker, beneath = store.iter_versions(stored.key)
    assert (marker.key, marker.delete_marker, marker.latest) == (stored.key, True, True)
    assert marker.version_id != stored.version_id and marker.modified is not None
    assert (beneath.key, beneath.version_id) == (stored.key, stored.version_id)
    assert (beneath.delete_marker, beneath.latest) == (False, False)
    assert_original_intact(store, root, stored)


def test_a_version_written_past_the_service_is_not_trusted(
    store: S3ObjectStore, root: Minio, stored: StoredObject
) -> None:
    forged = b"%PDF-1.7 a forged journal"
    root.put_object(store.location.bucket, stored.key, io.BytesIO(forged), len(forged))

    with pytest.raises(IntegrityFailure):
        store.stat(stored.key)  # the current version now is the forgery
    with pytest.raises(IntegrityFailure):
        store.get(stored.key, sha256=stored.sha256)
    assert_original_intact(store, root, stored)


def test_find_passes_over_a_forged_version_that_copies_the_recorded_hash(
    store: S3ObjectStore, root: Minio, stored: StoredObject
) -> None:
    """A forger with root can copy our metadata (hash, COMPLIANCE lock) onto other bytes, but
    not the checksum the server computes over the bytes it really received."""
    forged = b"%PDF-1.7 a forged journal"
    copied = {
        "x-amz-meta-archive-sha256": stored.sha256,
        "x-amz-meta-archive-content-type": stored.content_type,
    }
    for checksum in (None, base64.b64encode(hashlib.sha256(forged).digest()).decode()):
        headers = dict(copied)
        if checksum:
            headers |= {"x-amz-sdk-checksum-algorithm": "SHA256", "x-amz-checksum-sha256": checksum}
        root.put_object(
            store.location.bucket,
            stored.key,
            io.BytesIO(forged),
            len(forged),
            content_type=stored.content_type,
            metadata=headers,
            retention=Retention(COMPLIANCE, stored.retain_until),
        )
        assert store.stat(stored.key).sha256 == stored.sha256  # the forgery's claim

        assert store.find(stored.key, sha256=stored.sha256) == stored

    assert_original_intact(store, root, stored)


def test_deleting_a_held_version_is_refused(
    store: S3ObjectStore, root: Minio, stored: StoredObject
) -> None:
    store.set_legal_hold(stored.key, stored.version_id, on=True)

    with pytest.raises(S3Error):
        root.remove_object(store.location.bucket, stored.key, version_id=stored.version_id)
    failed = remove_with_bypass(root, store.location.bucket, stored.key, stored.version_id)

    assert failed == [stored.key]
    assert root.is_object_legal_hold_enabled(
        store.location.bucket, stored.key, version_id=stored.version_id
    )
    assert store.get(stored.key, sha256=stored.sha256, version_id=stored.version_id) == ORIGINAL
    assert store.stat(stored.key, stored.version_id).legal_hold is True


def test_the_server_enforces_a_legal_hold_where_no_retention_applies(
    root: Minio, server: S3TestServer
) -> None:
    """Retention and hold are separate locks: a version with no retention at all (a bucket with
    Object Lock but no default rule) stands for one whose retention date has passed, without
    waiting for a clock. Releasing the hold must make it deletable again — proof that the
    refusal came from the hold."""
    bucket = f"hold-{uuid.uuid4().hex[:20]}"
    root.make_bucket(bucket, object_lock=True)
    key = "held/journal.pdf"
    written = root.put_object(bucket, key, io.BytesIO(ORIGINAL), len(ORIGINAL))
    assert retention_or_none(root, bucket, key, written.version_id) is None
    root.enable_object_legal_hold(bucket, key, version_id=written.version_id)

    with pytest.raises(S3Error):
        root.remove_object(bucket, key, version_id=written.version_id)
    refused = remove_with_bypass(root, bucket, key, written.version_id)
    kept = root.get_object(bucket, key, version_id=written.version_id)
    try:
        assert kept.read() == ORIGINAL
    finally:
        kept.close()
        kept.release_conn()

    root.disable_object_legal_hold(bucket, key, version_id=written.version_id)
    root.remove_object(bucket, key, version_id=written.version_id)

    assert refused == [key]
    left = root.list_objects(bucket, prefix=key, recursive=True, include_version=True)
    assert [(item.object_name, item.version_id) for item in left] == []


def retention_or_none(root: Minio, bucket: str, key: str, version_id: str | None) -> object:
    """The version's retention; SeaweedFS says "no Object Lock configuration" where MinIO
    answers with none."""
    try:
        return root.get_object_retention(bucket, key, version_id=version_id)
    except S3Error as exc:
        if exc.code == "ObjectLockConfigurationNotFoundError":
            return None
        raise
