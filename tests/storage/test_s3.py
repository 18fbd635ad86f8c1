"""The S3 backend's set-up and refusals on a real SeaweedFS (the contract suite covers the rest)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import socket
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from minio.commonconfig import COMPLIANCE, ENABLED
from minio.objectlockconfig import DAYS
from minio.versioningconfig import VersioningConfig

from archive_service.cli import main
from archive_service.storage import S3Location, S3ObjectStore, StorageUnavailable
from archive_service.storage.s3 import create_bucket_with_object_lock
from tests.storage import seaweedfs


def fresh_bucket() -> str:
    return f"t-{uuid.uuid4().hex[:20]}"


def root_location(server: seaweedfs.SeaweedFS, bucket: str) -> S3Location:
    return S3Location(
        server.endpoint, bucket, seaweedfs.ROOT_ACCESS_KEY, seaweedfs.ROOT_SECRET_KEY, secure=False
    )


def test_check_refuses_a_missing_bucket_and_says_what_to_do(
    seaweedfs_server: seaweedfs.SeaweedFS,
) -> None:
    store = S3ObjectStore(root_location(seaweedfs_server, fresh_bucket()))

    with pytest.raises(StorageUnavailable) as refused:
        store.check()

    assert "does not exist" in refused.value.message
    assert "archive-service storage init" in refused.value.message


def test_a_bucket_without_object_lock_is_refused_and_cannot_be_repaired(
    seaweedfs_server: seaweedfs.SeaweedFS,
) -> None:
    bucket = fresh_bucket()
    root = seaweedfs_server.root_client()
    root.make_bucket(bucket)
    root.set_bucket_versioning(bucket, VersioningConfig(ENABLED))
    store = S3ObjectStore(root_location(seaweedfs_server, bucket))

    with pytest.raises(StorageUnavailable) as refused:
        store.check()
    with pytest.raises(StorageUnavailable) as not_repaired:
        create_bucket_with_object_lock(root_location(seaweedfs_server, bucket), 1)

    assert "Object Lock" in refused.value.message
    assert "archive-service storage init" in refused.value.message
    assert "new bucket name" in not_repaired.value.message


def test_storage_init_creates_a_locked_bucket_once(
    seaweedfs_server: seaweedfs.SeaweedFS, tmp_path: Path
) -> None:
    bucket = fresh_bucket()
    url = (
        f"s3+http://{seaweedfs.ROOT_ACCESS_KEY}:{seaweedfs.ROOT_SECRET_KEY}"
        f"@{seaweedfs_server.endpoint}/{bucket}"
    )
    env = {"ARCHIVE_DATA_DIR": str(tmp_path), "ARCHIVE_STORAGE_URL": url}

    def init() -> str:
        result = CliRunner().invoke(
            main, ["storage", "init", "--default-retention-days", "2"], env=env
        )
        assert result.exit_code == 0, result.output
        return result.output

    first, second = init(), init()

    assert first.startswith(f"created bucket {bucket}")
    assert second.startswith(f"checked bucket {bucket}")
    assert seaweedfs.ROOT_SECRET_KEY not in first + second
    root = seaweedfs_server.root_client()
    lock = root.get_object_lock_config(bucket)
    assert (lock.mode, lock.duration, lock.duration_unit) == (COMPLIANCE, 2, DAYS)
    assert root.get_bucket_versioning(bucket).status == ENABLED
    S3ObjectStore(root_location(seaweedfs_server, bucket)).check()


def test_an_unreachable_server_is_unavailable_without_leaking_credentials() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = S3ObjectStore(
        S3Location(f"127.0.0.1:{port}", "archive", "AK", "very-secret", secure=False)
    )

    with pytest.raises(StorageUnavailable) as refused:
        store.check()

    assert "cannot be reached" in refused.value.message
    assert "very-secret" not in refused.value.message


def test_every_put_carries_the_checksum_the_server_verified(
    seaweedfs_server: seaweedfs.SeaweedFS,
) -> None:
    store = S3ObjectStore(seaweedfs_server.location())
    data = b"%PDF-1.7 checksummed"
    until = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    stored = store.put(
        f"checksum/{uuid.uuid4().hex}",
        data,
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="application/pdf",
        retain_until=until,
    )

    seen = seaweedfs_server.root_client().stat_object(
        seaweedfs_server.bucket,
        stored.key,
        version_id=stored.version_id,
        extra_headers={"x-amz-checksum-mode": "ENABLED"},
    )

    checksum = {name.lower(): value for name, value in seen.metadata.items()}
    assert (
        checksum.get("x-amz-checksum-sha256")
        == base64.b64encode(hashlib.sha256(data).digest()).decode()
    )
