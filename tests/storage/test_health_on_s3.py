"""``/healthz`` on each real S3 server: a usable store is ready even when root has changed the
bucket's default retention (a backstop only: every object carries its own COMPLIANCE
retention); only a bucket without Object Lock at all makes the service not ready."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from flask import Flask
from minio.commonconfig import ENABLED, GOVERNANCE
from minio.objectlockconfig import DAYS, ObjectLockConfig
from minio.versioningconfig import VersioningConfig

from archive_service import create_app
from archive_service.pipeline import Archive
from archive_service.storage.s3 import S3ObjectStore, create_bucket_with_object_lock
from tests.storage.servers import S3TestServer


@pytest.fixture
def served(s3_server: S3TestServer, data_dir: Path) -> tuple[Flask, S3TestServer]:
    server = s3_server.with_bucket(f"health-{uuid.uuid4().hex[:12]}")
    create_bucket_with_object_lock(server.location(as_root=True), default_retention_days=1)
    app = create_app({"data_dir": data_dir, "render_in_process": True, "storage_url": server.url()})
    return app, server


def test_a_fresh_bucket_is_ready_without_warnings(served: tuple[Flask, S3TestServer]) -> None:
    app, _server = served
    response = app.test_client().get("/healthz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "storage": "ok"},
        "warnings": [],
    }


@pytest.mark.parametrize(
    ("default", "shown"),
    [(ObjectLockConfig(GOVERNANCE, 3, DAYS), "GOVERNANCE for 3 days"), (None, "none")],
    ids=["governance", "removed"],
)
def test_a_changed_default_retention_is_a_warning_not_a_failure(
    served: tuple[Flask, S3TestServer], default: ObjectLockConfig | None, shown: str
) -> None:
    app, server = served
    root = server.root_client()
    if default is None:
        root.delete_object_lock_config(server.bucket)
    else:
        root.set_object_lock_config(server.bucket, default)

    response = app.test_client().get("/healthz")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["checks"] == {"database": "ok", "storage": "ok"}
    [warning] = body["warnings"]
    assert warning["check"] == "storage"
    assert f"default retention is {shown}, not COMPLIANCE" in warning["message"]
    assert "archive-service storage init" in warning["message"]
    # `storage init` puts the backstop back, and the warning goes away.
    create_bucket_with_object_lock(server.location(as_root=True), default_retention_days=1)
    assert app.test_client().get("/healthz").get_json()["warnings"] == []


def test_a_bucket_without_object_lock_is_not_ready(served: tuple[Flask, S3TestServer]) -> None:
    app, server = served
    unlocked = f"unlocked-{uuid.uuid4().hex[:12]}"
    root = server.root_client()
    root.make_bucket(unlocked)
    root.set_bucket_versioning(unlocked, VersioningConfig(ENABLED))
    archive: Archive = app.extensions["archive"]
    archive.store = S3ObjectStore(server.with_bucket(unlocked).location())

    response = app.test_client().get("/healthz")

    assert response.status_code == 503, response.get_json()
    assert response.get_json()["error"]["code"] == "not_ready"
