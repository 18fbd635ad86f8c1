"""Legal-hold drift: the store's hold changed behind the service's back must not go unnoticed.

S3 lets anyone with the right to ``PutObjectLegalHold`` (root, at least) lift a legal hold
directly, even on a version locked in COMPLIANCE mode; the filesystem store's hold records can
be appended to by anyone who can write its folder. Either way the database still says "held".
``reconcile`` must report the difference (both directions), and a download of such a version
must say so in its answer and in its audit event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from archive_service import create_app
from archive_service.cli import main
from archive_service.db import DocumentVersion
from archive_service.pipeline import Archive
from archive_service.reconcile import Severity
from archive_service.storage import FilesystemObjectStore
from archive_service.storage.s3 import create_bucket_with_object_lock
from tests.conftest import Tokens, upload
from tests.storage.servers import S3TestServer

REASON = "Ухвала суду у справі № 640/1234/26"


@dataclass(frozen=True)
class Deployment:
    client: FlaskClient
    tokens: Tokens
    archive: Archive
    env: dict[str, str]
    #: Changes one object's legal hold in the store directly, past the service.
    set_hold_outside: Callable[[str, str, bool], None]


@pytest.fixture(params=["filesystem", "seaweedfs", "minio"])
def deployment(
    request: pytest.FixtureRequest, data_dir: Path, tokens_factory
) -> Deployment:  # type: ignore[no-untyped-def]
    config: dict[str, object] = {"data_dir": data_dir, "render_in_process": True}
    env = {"ARCHIVE_DATA_DIR": str(data_dir), "ARCHIVE_RENDER_IN_PROCESS": "true"}
    if request.param == "filesystem":
        outside = FilesystemObjectStore(data_dir / "objects")

        def set_hold_outside(key: str, version_id: str, on: bool) -> None:
            outside.set_legal_hold(key, version_id, on=on)

    else:
        server: S3TestServer = request.getfixturevalue(f"{request.param}_server")
        server = server.with_bucket(f"drift-{uuid.uuid4().hex[:12]}")
        create_bucket_with_object_lock(server.location(as_root=True), default_retention_days=1)
        config["storage_url"] = env["ARCHIVE_STORAGE_URL"] = server.url()
        root = server.root_client()

        def set_hold_outside(key: str, version_id: str, on: bool) -> None:
            if on:
                root.enable_object_legal_hold(server.bucket, key, version_id)
            else:
                root.disable_object_legal_hold(server.bucket, key, version_id)

    app: Flask = create_app(config)
    archive: Archive = app.extensions["archive"]
    if request.param == "filesystem":
        assert isinstance(archive.store, FilesystemObjectStore)
        assert archive.store.root == (data_dir / "objects").absolute()
    return Deployment(app.test_client(), tokens_factory(archive), archive, env, set_hold_outside)


def _archive_one(deployment: Deployment) -> tuple[str, DocumentVersion]:
    response = upload(deployment.client, deployment.tokens.archivist)
    assert response.status_code == 201, response.get_json()
    with deployment.archive.reader() as session:
        version = session.scalars(select(DocumentVersion)).one()
    return response.get_json()["document_id"], version


def _hold(deployment: Deployment, document_id: str) -> None:
    response = deployment.client.put(
        f"/api/v1/documents/{document_id}/versions/1/legal-hold",
        json={"reason": REASON},
        headers=Tokens.header(deployment.tokens.admin),
    )
    assert response.status_code == 200, response.get_json()


def _reconcile_cli(deployment: Deployment) -> tuple[int, dict, str]:
    as_json = CliRunner().invoke(main, ["reconcile", "--json"], env=deployment.env)
    text = CliRunner().invoke(main, ["reconcile"], env=deployment.env)
    assert as_json.exit_code == text.exit_code, text.output
    return as_json.exit_code, json.loads(as_json.stdout), text.output


def _download(deployment: Deployment, document_id: str, what: str) -> tuple[dict, dict]:
    """The answer's headers and the download's audit event."""
    response = deployment.client.get(
        f"/api/v1/documents/{document_id}/{what}",
        headers=Tokens.header(deployment.tokens.inspector, **{"X-Purpose": "перевірка"}),
    )
    assert response.status_code == 200, response.get_json()
    events = deployment.client.get(
        f"/api/v1/audit?action=retrieve_{what}", headers=Tokens.header(deployment.tokens.admin)
    ).get_json()["items"]
    return dict(response.headers), events[-1]


def test_a_hold_lifted_in_the_store_is_reported_by_reconcile_and_downloads(
    deployment: Deployment,
) -> None:
    document_id, version = _archive_one(deployment)
    _hold(deployment, document_id)
    headers, event = _download(deployment, document_id, "pdf")
    assert headers["X-Legal-Hold"] == "on"
    assert "X-Legal-Hold-Drift" not in headers
    assert "legal_hold_drift" not in event["detail"]
    assert deployment.archive.reconcile().hold_drift == ()

    # Root lifts the hold on the signed PDF, directly in the store; the API still says "held".
    deployment.set_hold_outside(version.object_key, version.object_version_id, False)

    report = deployment.archive.reconcile()
    assert [(d.part, d.key, d.recorded, d.stored) for d in report.hold_drift] == [
        ("pdf", version.object_key, True, False)
    ]
    assert report.severity is Severity.SERIOUS
    exit_code, as_json, text = _reconcile_cli(deployment)
    assert exit_code == 2
    assert as_json["legal_hold_drift"] == [
        {
            "document_id": document_id,
            "version": 1,
            "part": "pdf",
            "key": version.object_key,
            "version_id": version.object_version_id,
            "recorded_legal_hold": True,
            "store_legal_hold": False,
        }
    ]
    assert "SERIOUS" in text and "lifted outside the service" in text
    assert version.object_key in text

    headers, event = _download(deployment, document_id, "pdf")
    assert headers["X-Legal-Hold"] == "on"
    assert headers["X-Legal-Hold-Drift"] == "recorded=on; store=off"
    assert event["outcome"] == "ok"
    assert event["detail"]["legal_hold_drift"] == {"recorded": True, "store": False}
    # The export's hold was left alone: its download agrees with the record.
    headers, event = _download(deployment, document_id, "source")
    assert headers["X-Legal-Hold"] == "on" and "X-Legal-Hold-Drift" not in headers
    assert "legal_hold_drift" not in event["detail"]

    # Setting the hold again through the service puts the store back in line.
    _hold(deployment, document_id)
    assert deployment.archive.reconcile().severity is Severity.CLEAN
    headers, _event = _download(deployment, document_id, "pdf")
    assert "X-Legal-Hold-Drift" not in headers


def test_a_hold_placed_in_the_store_alone_is_reported_too(deployment: Deployment) -> None:
    document_id, version = _archive_one(deployment)
    deployment.set_hold_outside(version.source_object_key, version.source_object_version_id, True)

    report = deployment.archive.reconcile()
    assert [(d.part, d.recorded, d.stored) for d in report.hold_drift] == [
        ("source", False, True)
    ]
    assert report.severity is Severity.ATTENTION
    exit_code, as_json, text = _reconcile_cli(deployment)
    assert exit_code == 1
    assert as_json["legal_hold_drift"][0]["store_legal_hold"] is True
    assert "placed outside the service" in text

    headers, event = _download(deployment, document_id, "source")
    assert headers["X-Legal-Hold"] == "off"
    assert headers["X-Legal-Hold-Drift"] == "recorded=off; store=on"
    assert event["detail"]["legal_hold_drift"] == {"recorded": False, "store": True}
