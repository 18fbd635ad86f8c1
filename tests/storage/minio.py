"""A throw-away MinIO server on 127.0.0.1, started and stopped by the project's own scripts.

Going through ``scripts/start-minio.sh`` / ``stop-minio.sh`` (rather than a second copy of the
command line here) means the tests also prove the scripts the README and CI rely on. The server
comes from ``MINIO_BINARY`` or is built once by ``scripts/install-minio.sh`` (needs Go).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from minio.credentials import StaticProvider
from minio.minioadmin import MinioAdmin

from archive_service.storage.urls import parse_s3_url
from tests.storage.servers import S3TestServer, ServerUnavailable, log_tail

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
ROOT_ACCESS_KEY = "archive-test-root"
ROOT_SECRET_KEY = "root-secret-for-tests-only"
SERVICE_ACCESS_KEY = "archive-test-service"
SERVICE_SECRET_KEY = "service-secret-for-tests-only"
SERVICE_POLICY = "archive-service"
#: Building MinIO from source takes minutes with cold Go caches; starting it takes about a second.
START_SCRIPT_TIMEOUT_SECONDS = 1200
#: The service's rights: write and read objects with their lock; never delete, never bypass.
SERVICE_STATEMENTS = [
    {
        "Effect": "Allow",
        "Action": [
            "s3:GetBucketLocation",
            "s3:ListBucket",
            "s3:ListBucketVersions",
            "s3:ListBucketMultipartUploads",
            "s3:GetBucketVersioning",
            "s3:GetBucketObjectLockConfiguration",
        ],
        "Resource": ["arn:aws:s3:::*"],
    },
    {
        "Effect": "Allow",
        "Action": [
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:PutObject",
            "s3:GetObjectRetention",
            "s3:PutObjectRetention",
            "s3:GetObjectLegalHold",
            "s3:PutObjectLegalHold",
        ],
        "Resource": ["arn:aws:s3:::*/*"],
    },
]


@contextmanager
def running(workdir: Path) -> Iterator[S3TestServer]:
    """MinIO on loopback with root and a least-privilege service user; stopped on exit."""
    endpoint = _start(workdir)
    try:
        server = S3TestServer(
            name="minio",
            endpoint=endpoint,
            root_access_key=ROOT_ACCESS_KEY,
            root_secret_key=ROOT_SECRET_KEY,
            service_access_key=SERVICE_ACCESS_KEY,
            service_secret_key=SERVICE_SECRET_KEY,
        )
        _add_service_user(server)
        yield server
    finally:
        subprocess.run(
            ["bash", str(SCRIPTS / "stop-minio.sh"), str(workdir), "--keep"],
            check=False,
            capture_output=True,
            timeout=60,
        )


def _start(workdir: Path) -> str:
    """Run the start script; its URL says where the server listens."""
    environment = {
        **os.environ,
        "MINIO_ROOT_USER": ROOT_ACCESS_KEY,
        "MINIO_ROOT_PASSWORD": ROOT_SECRET_KEY,
    }
    try:
        started = subprocess.run(
            ["bash", str(SCRIPTS / "start-minio.sh"), str(workdir)],
            env=environment,
            capture_output=True,
            text=True,
            timeout=START_SCRIPT_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        raise ServerUnavailable(
            f"scripts/start-minio.sh did not finish within {START_SCRIPT_TIMEOUT_SECONDS} s"
        ) from None
    if started.returncode != 0:
        raise ServerUnavailable(
            f"scripts/start-minio.sh failed ({started.returncode}): "
            f"{started.stderr.strip()[-2000:] or log_tail(workdir / 'minio.log')}"
        )
    return parse_s3_url(started.stdout.strip()).endpoint


def _add_service_user(server: S3TestServer) -> None:
    """A MinIO user with only the rights the service needs, so the contract suite runs as it."""
    admin = MinioAdmin(
        endpoint=server.endpoint,
        credentials=StaticProvider(ROOT_ACCESS_KEY, ROOT_SECRET_KEY),
        secure=False,
    )
    admin.user_add(SERVICE_ACCESS_KEY, SERVICE_SECRET_KEY)
    admin.policy_add(
        SERVICE_POLICY, policy={"Version": "2012-10-17", "Statement": SERVICE_STATEMENTS}
    )
    admin.policy_set(SERVICE_POLICY, user=SERVICE_ACCESS_KEY)
