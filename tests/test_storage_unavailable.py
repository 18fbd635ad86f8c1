"""The object store goes away during an upload: 503 with a clear message, no row, an audit event.

The service refuses to *start* on an unreachable store (``check()`` at start-up), so every case
here starts with a usable store and loses it afterwards, as happens in production:

* a real SeaweedFS server that is stopped after the service started (the honest case);
* the S3 backend pointed at a loopback port nobody listens on (the same code path, no server);
* the filesystem store whose folder is no longer a folder (an unmounted volume's stand-in).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from archive_service import create_app
from archive_service.db import Document, DocumentVersion
from archive_service.pipeline import Archive
from archive_service.storage import FilesystemObjectStore, ObjectStore
from archive_service.storage.s3 import S3Location, S3ObjectStore, create_bucket_with_object_lock
from tests.conftest import Tokens, upload
from tests.storage import seaweedfs
from tests.storage.servers import ServerUnavailable, free_ports


def _upload_is_refused_cleanly(client: FlaskClient, tokens: Tokens, archive: Archive) -> None:
    response = upload(client, tokens.archivist)
    assert response.status_code == 503, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "storage_unavailable"
    assert "object store could not be reached" in error["message"]
    assert "retrying the upload later may succeed" in error["message"]
    with archive.reader() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 0
        assert session.scalar(select(func.count()).select_from(DocumentVersion)) == 0
    events = client.get(
        "/api/v1/audit?action=upload", headers=Tokens.header(tokens.admin)
    ).get_json()["items"]
    assert [(e["outcome"], e["detail"]["error"]) for e in events] == [
        ("failed", "storage_unavailable")
    ]


def _lose_store(archive: Archive, store: ObjectStore) -> None:
    """Swap in the unreachable store everywhere the archive writes (uploads and checkpoints)."""
    archive.store = store
    if archive.checkpoints is not None:
        archive.checkpoints.store = store  # type: ignore[attr-defined]


def test_s3_server_stopped_after_start(tmp_path: Path, data_dir: Path, tokens_factory) -> None:  # type: ignore[no-untyped-def]
    try:
        with seaweedfs.running(tmp_path / "seaweedfs") as server:
            create_bucket_with_object_lock(server.location(as_root=True), default_retention_days=1)
            app: Flask = create_app(
                {"data_dir": data_dir, "render_in_process": True, "storage_url": server.url()}
            )
            archive: Archive = app.extensions["archive"]
            tokens = tokens_factory(archive)
    except (ServerUnavailable, OSError) as exc:
        pytest.skip(f"SeaweedFS could not be started: {exc}")
    # The server has stopped: the service built above no longer reaches its store.
    _upload_is_refused_cleanly(app.test_client(), tokens, archive)


def test_s3_port_with_nothing_listening(
    client: FlaskClient, tokens: Tokens, archive: Archive
) -> None:
    (port,) = free_ports(1)
    _lose_store(
        archive,
        S3ObjectStore(S3Location(f"127.0.0.1:{port}", "archive", "key", "secret", secure=False)),
    )
    _upload_is_refused_cleanly(client, tokens, archive)


def test_filesystem_store_folder_gone(
    client: FlaskClient, tokens: Tokens, archive: Archive, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "unmounted"
    not_a_folder.write_text("the volume is not mounted")
    _lose_store(archive, FilesystemObjectStore(not_a_folder))
    _upload_is_refused_cleanly(client, tokens, archive)


@pytest.mark.parametrize("what", ["pdf", "source"])
def test_a_download_refused_for_want_of_the_store_is_audited(
    client: FlaskClient, tokens: Tokens, archive: Archive, archived: dict, what: str
) -> None:
    """Every look is in the audit log, including one the store's outage turned away."""
    (port,) = free_ports(1)
    _lose_store(
        archive,
        S3ObjectStore(S3Location(f"127.0.0.1:{port}", "archive", "key", "secret", secure=False)),
    )
    document_id = archived["document_id"]
    response = client.get(
        f"/api/v1/documents/{document_id}/{what}",
        headers=Tokens.header(tokens.inspector, **{"X-Purpose": "перевірка"}),
    )
    assert response.status_code == 503, response.get_json()
    assert response.get_json()["error"]["code"] == "storage_unavailable"
    events = client.get(
        f"/api/v1/audit?action=retrieve_{what}", headers=Tokens.header(tokens.admin)
    ).get_json()["items"]
    assert [(e["outcome"], e["document_id"], e["version"]) for e in events] == [
        ("storage_unavailable", document_id, 1)
    ]
    assert events[0]["detail"]["error"] == "storage_unavailable"
    assert events[0]["purpose"] == "перевірка"
