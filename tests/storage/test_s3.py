"""The S3 backend's set-up and refusals on every real S3 server; contract suite: the rest."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from minio.commonconfig import COMPLIANCE, ENABLED
from minio.objectlockconfig import DAYS
from minio.versioningconfig import VersioningConfig

from archive_service.cli import main
from archive_service.storage import S3Location, S3ObjectStore, StorageUnavailable
from archive_service.storage.s3 import ATTEMPTS, create_bucket_with_object_lock
from tests.storage.servers import S3TestServer


def fresh_bucket() -> str:
    return f"t-{uuid.uuid4().hex[:20]}"


def root_location(server: S3TestServer, bucket: str) -> S3Location:
    return server.location(as_root=True, bucket=bucket)


def test_check_refuses_a_missing_bucket_and_says_what_to_do(
    s3_server: S3TestServer,
) -> None:
    store = S3ObjectStore(root_location(s3_server, fresh_bucket()))

    with pytest.raises(StorageUnavailable) as refused:
        store.check()

    assert "does not exist" in refused.value.message
    assert "archive-service storage init" in refused.value.message


def test_a_bucket_without_object_lock_is_refused_and_cannot_be_repaired(
    s3_server: S3TestServer,
) -> None:
    bucket = fresh_bucket()
    root = s3_server.root_client()
    root.make_bucket(bucket)
    root.set_bucket_versioning(bucket, VersioningConfig(ENABLED))
    store = S3ObjectStore(root_location(s3_server, bucket))

    with pytest.raises(StorageUnavailable) as refused:
        store.check()
    with pytest.raises(StorageUnavailable) as not_repaired:
        create_bucket_with_object_lock(root_location(s3_server, bucket), 1)

    assert "Object Lock" in refused.value.message
    assert "archive-service storage init" in refused.value.message
    assert "new bucket name" in not_repaired.value.message


def test_storage_init_creates_a_locked_bucket_once(
    s3_server: S3TestServer, tmp_path: Path
) -> None:
    bucket = fresh_bucket()
    url = s3_server.url(as_root=True, bucket=bucket)
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
    assert s3_server.root_secret_key not in first + second
    root = s3_server.root_client()
    lock = root.get_object_lock_config(bucket)
    assert (lock.mode, lock.duration, lock.duration_unit) == (COMPLIANCE, 2, DAYS)
    assert root.get_bucket_versioning(bucket).status == ENABLED
    S3ObjectStore(root_location(s3_server, bucket)).check()


DATA = b"%PDF-1.7 journal"
#: Every call that talks to the server, with arguments that would otherwise be valid.
SERVER_CALLS: dict[str, Callable[[S3ObjectStore], object]] = {
    "check": lambda store: store.check(),
    "put": lambda store: store.put(
        "a/journal.pdf",
        DATA,
        sha256=hashlib.sha256(DATA).hexdigest(),
        content_type="application/pdf",
        retain_until=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
    ),
    "get": lambda store: store.get("a/journal.pdf", sha256=hashlib.sha256(DATA).hexdigest()),
    "stat": lambda store: store.stat("a/journal.pdf"),
    "exists": lambda store: store.exists("a/journal.pdf"),
    "find": lambda store: store.find("a/journal.pdf", sha256=hashlib.sha256(DATA).hexdigest()),
    "set_legal_hold": lambda store: store.set_legal_hold("a/journal.pdf", "v1", on=True),
    "iter_objects": lambda store: list(store.iter_objects("a/")),
}


def unreachable_store(port: int) -> S3ObjectStore:
    return S3ObjectStore(
        S3Location(f"127.0.0.1:{port}", "archive", "AK", "very-secret", secure=False)
    )


def closed_port() -> int:
    """A loopback port with nothing listening: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("call", SERVER_CALLS, ids=str)
def test_an_unreachable_server_is_unavailable_without_leaking_credentials(call: str) -> None:
    port = closed_port()

    with pytest.raises(StorageUnavailable) as refused:
        SERVER_CALLS[call](unreachable_store(port))

    assert f"127.0.0.1:{port} cannot be reached" in refused.value.message
    assert "retrying later may succeed" in refused.value.message
    assert "very-secret" not in refused.value.message


def test_a_dead_server_is_given_up_on_after_a_few_attempts() -> None:
    """Counts connections, not seconds: a server that drops every connection is tried at most
    ATTEMPTS times per call, never in a long retry loop."""
    attempts = 0
    done = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(0.1)  # only so the thread notices `done`

        def drop_connections() -> None:
            nonlocal attempts
            while not done.is_set():
                try:
                    connection, _ = listener.accept()
                except TimeoutError:
                    continue
                attempts += 1
                connection.close()

        dropper = threading.Thread(target=drop_connections, daemon=True)
        dropper.start()
        try:
            with pytest.raises(StorageUnavailable):
                unreachable_store(listener.getsockname()[1]).stat("a/journal.pdf")
        finally:
            done.set()
            dropper.join()

    assert 1 <= attempts <= ATTEMPTS


def test_every_put_carries_the_checksum_the_server_verified(
    s3_server: S3TestServer,
) -> None:
    store = S3ObjectStore(s3_server.location())
    data = b"%PDF-1.7 checksummed"
    until = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    stored = store.put(
        f"checksum/{uuid.uuid4().hex}",
        data,
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="application/pdf",
        retain_until=until,
    )

    seen = s3_server.root_client().stat_object(
        s3_server.bucket,
        stored.key,
        version_id=stored.version_id,
        extra_headers={"x-amz-checksum-mode": "ENABLED"},
    )

    checksum = {name.lower(): value for name, value in seen.metadata.items()}
    assert (
        checksum.get("x-amz-checksum-sha256")
        == base64.b64encode(hashlib.sha256(data).digest()).decode()
    )
