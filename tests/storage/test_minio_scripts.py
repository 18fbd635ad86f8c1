"""scripts/start-minio.sh and stop-minio.sh as the README and CI use them (the contract suite
already runs on a server they started; this checks what they promise on their own)."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from archive_service.storage.urls import parse_s3_url
from tests.storage.minio import SCRIPTS
from tests.storage.servers import S3TestServer, free_ports


def script(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith("MINIO_ROOT_")},
    )


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_start_prints_a_working_loopback_url_and_stop_removes_everything(
    minio_server: S3TestServer, tmp_path: Path
) -> None:
    """Needs ``minio_server`` only so an unavailable MinIO skips (or fails under CI) alike."""
    folder = tmp_path / "minio"
    (port,) = free_ports(1)

    started = script("start-minio.sh", str(folder), str(port))
    assert started.returncode == 0, started.stderr
    try:
        location = parse_s3_url(started.stdout.strip())
        assert location.endpoint == f"127.0.0.1:{port}"
        assert location.secure is False
        assert location.secret_key  # a throw-away password was generated
        assert location.client().list_buckets() == []  # root credentials work
        again = script("start-minio.sh", str(folder))
        assert again.returncode != 0 and "already running" in again.stderr
    finally:
        stopped = script("stop-minio.sh", str(folder))

    assert stopped.returncode == 0, stopped.stderr
    assert not folder.exists()
    assert refuses_connections(port)
