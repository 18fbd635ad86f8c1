"""What every throw-away S3 test server shares: its address and identities, ports, readiness.

A real S3 server with Object Lock is the only honest test of the S3 backend: stand-ins such as
moto accept a shortened COMPLIANCE retention and lose the data (see NOTES.md). Each server module
(:mod:`tests.storage.seaweedfs`, :mod:`tests.storage.minio`) only knows how to start its server;
everything the tests ask of a running one is here, so a test never asks which server it got.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from minio import Minio
from minio.deleteobjects import DeleteObject

from archive_service.storage.s3 import S3Location

#: Bucket the contract suite and the attacks share (per-test key prefixes keep them apart).
BUCKET = "archive-contract"
START_TIMEOUT_SECONDS = 60.0


class ServerUnavailable(RuntimeError):
    """The server could not be started here; the message says why."""


@dataclass(frozen=True)
class S3TestServer:
    """A running server: the service's own identity, and root's, which the attacks use."""

    name: str
    endpoint: str
    root_access_key: str
    root_secret_key: str
    service_access_key: str
    service_secret_key: str
    bucket: str = BUCKET

    def location(self, *, as_root: bool = False, bucket: str | None = None) -> S3Location:
        access, secret = (
            (self.root_access_key, self.root_secret_key)
            if as_root
            else (self.service_access_key, self.service_secret_key)
        )
        return S3Location(self.endpoint, bucket or self.bucket, access, secret, secure=False)

    def root_client(self) -> Minio:
        """minio-py with the server's admin credentials: what an attacker with root would use."""
        return self.location(as_root=True).client()

    def url(self, *, as_root: bool = False, bucket: str | None = None) -> str:
        where = self.location(as_root=as_root, bucket=bucket)
        return f"s3+http://{where.access_key}:{where.secret_key}@{self.endpoint}/{where.bucket}"

    def with_bucket(self, bucket: str) -> S3TestServer:
        return replace(self, bucket=bucket)


def remove_with_bypass(root: Minio, bucket: str, key: str, version_id: str) -> list[str]:
    """Root's strongest delete of one version (bypassing GOVERNANCE); the keys it failed on."""
    errors = root.remove_objects(
        bucket, [DeleteObject(key, version_id)], bypass_governance_mode=True
    )
    return [error.name for error in errors]


def free_ports(count: int) -> list[int]:
    """Loopback ports nobody listens on right now (all held open together, so all distinct)."""
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


def wait_until_answering(
    server: S3TestServer, exited: Callable[[], int | None], log: Path
) -> None:
    """Poll (bounded) until root can list buckets; give up at once if the process died.

    :param exited: the process's exit status, or None while it runs.
    :raises ServerUnavailable: with the log's tail.
    """
    client = server.root_client()
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        status = exited()
        if status is not None:
            raise ServerUnavailable(f"{server.name} exited with {status}: {log_tail(log)}")
        try:
            client.list_buckets()
            return
        except Exception as exc:  # any failure means "not yet"
            last_error = exc
            time.sleep(0.2)
    raise ServerUnavailable(
        f"{server.name} did not answer within {START_TIMEOUT_SECONDS:.0f} s ({last_error!r}); "
        f"log tail: {log_tail(log)}"
    )


def log_tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-2000:]
    except OSError as exc:
        return f"(no log: {exc.strerror})"


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
