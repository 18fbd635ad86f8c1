"""The whole service on each real S3 server: what an archivist and an inspector see, and what
root on the storage server cannot undo.

The contract suite proves the store alone; this proves the service on top of it — the same
upload, correction, retrieval and legal-hold paths as on the embedded default, then attacks with
the server's root credentials on the objects the *service* wrote.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from minio.error import S3Error

from archive_service import create_app
from archive_service.pipeline import Archive
from archive_service.storage.s3 import create_bucket_with_object_lock
from tests.conftest import EXAMPLES, Tokens, upload
from tests.storage.servers import S3TestServer, remove_with_bypass

SOURCE = (EXAMPLES / "journal-7b.json").read_bytes()
REASON = "Запит прокуратури № 42/11-2026"


@pytest.fixture
def service(
    s3_server: S3TestServer, data_dir: Path, tokens_factory
) -> tuple[FlaskClient, Tokens, S3TestServer]:  # type: ignore[no-untyped-def]
    """The service on a bucket of its own (created with Object Lock, as `storage init` does)."""
    server = s3_server.with_bucket(f"service-{uuid.uuid4().hex[:12]}")
    create_bucket_with_object_lock(server.location(as_root=True), default_retention_days=1)
    app: Flask = create_app(
        {"data_dir": data_dir, "render_in_process": True, "storage_url": server.url()}
    )
    archive: Archive = app.extensions["archive"]
    return app.test_client(), tokens_factory(archive), server


def _upload(client: FlaskClient, tokens: Tokens, data: bytes) -> dict:
    response = upload(client, tokens.archivist, data)
    assert response.status_code in (200, 201), response.get_json()
    body: dict = response.get_json()
    return body


def _corrected(source: bytes) -> bytes:
    """The same journal with one lesson topic corrected: a new version of the same document."""
    export = json.loads(source)
    export["subjects"][0]["lessons"][0]["topic"] += " (виправлено: ґрунтовне повторення)"
    return json.dumps(export, ensure_ascii=False, indent=2).encode()


def _download(client: FlaskClient, tokens: Tokens, path: str) -> bytes:
    response = client.get(path, headers=Tokens.header(tokens.inspector, **{"X-Purpose": "test"}))
    assert response.status_code == 200, response.get_json()
    return response.data


def test_upload_correct_and_read_every_version(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, server = service
    first = _upload(client, tokens, SOURCE)
    document_id = first["document_id"]
    corrected = _corrected(SOURCE)
    second = _upload(client, tokens, corrected)
    assert (second["document_id"], second["version"], second["created"]) == (document_id, 2, True)

    base = f"/api/v1/documents/{document_id}"
    assert _download(client, tokens, f"{base}/source?version=1") == SOURCE
    assert _download(client, tokens, f"{base}/source?version=2") == corrected
    for number in (1, 2):
        pdf = _download(client, tokens, f"{base}/pdf?version={number}")
        assert pdf.startswith(b"%PDF-")
        listed = client.get(base, headers=Tokens.header(tokens.inspector)).get_json()
        recorded = listed["versions"][number - 1]
        assert hashlib.sha256(pdf).hexdigest() == recorded["sha256"]

    # Both versions are separate, locked objects on the server, in COMPLIANCE mode.
    root = server.root_client()
    keys = [obj.object_name for obj in root.list_objects(server.bucket, recursive=True)]
    journal_keys = [key for key in keys if key.startswith("journals/")]
    assert len(journal_keys) == 4, journal_keys
    for key in journal_keys:
        assert root.get_object_retention(server.bucket, key).mode == "COMPLIANCE"


def test_root_cannot_remove_what_the_service_stored(service) -> None:  # type: ignore[no-untyped-def]
    client, tokens, server = service
    uploaded = _upload(client, tokens, SOURCE)
    document_id = uploaded["document_id"]
    held = client.put(
        f"/api/v1/documents/{document_id}/versions/1/legal-hold",
        json={"reason": REASON},
        headers=Tokens.header(tokens.admin),
    )
    assert held.status_code == 200, held.get_json()

    root = server.root_client()
    stored = [
        obj
        for obj in root.list_objects(server.bucket, recursive=True, include_version=True)
        if obj.object_name.startswith("journals/")
    ]
    for obj in stored:
        assert root.is_object_legal_hold_enabled(server.bucket, obj.object_name, obj.version_id)
        with pytest.raises(S3Error):
            root.remove_object(server.bucket, obj.object_name, version_id=obj.version_id)
        failed = remove_with_bypass(root, server.bucket, obj.object_name, obj.version_id)
        assert failed == [obj.object_name], f"{obj.object_name} was removed with bypass"
        # A delete without a version id only hides the object behind a delete marker...
        root.remove_object(server.bucket, obj.object_name)

    # ...and the service, which reads the recorded version, still serves the original bytes.
    base = f"/api/v1/documents/{document_id}"
    assert _download(client, tokens, f"{base}/source") == SOURCE
    pdf = _download(client, tokens, f"{base}/pdf")
    assert hashlib.sha256(pdf).hexdigest() == uploaded["sha256"]
    verification = client.get(
        f"{base}/verification", headers=Tokens.header(tokens.inspector, **{"X-Purpose": "test"})
    ).get_json()
    assert verification["integrity"]["matches"] is True
    assert verification["valid"] is True
