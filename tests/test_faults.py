"""Invariants under failure: audit before bytes, hash on every read, objects before rows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from archive_service.audit import chain
from archive_service.db import DocumentVersion
from archive_service.pipeline import Archive
from tests.conftest import Tokens, upload


def test_retrieval_fails_when_the_audit_event_cannot_be_written(
    client: FlaskClient, tokens: Tokens, archived: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    document_id = archived["document_id"]
    real_append = chain.append_events

    def failing_append(session, batch):  # type: ignore[no-untyped-def]
        if any(data.action == "retrieve_pdf" for data in batch):
            raise OperationalError("INSERT INTO audit_events", {}, Exception("disk full"))
        return real_append(session, batch)

    monkeypatch.setattr(chain, "append_events", failing_append)
    response = client.get(
        f"/api/v1/documents/{document_id}/pdf", headers=Tokens.header(tokens.inspector)
    )
    assert response.status_code == 503
    assert response.mimetype == "application/json"
    assert b"%PDF" not in response.data
    assert response.get_json()["error"]["code"] == "service_unavailable"


def _stored_file(archive: Archive, key: str) -> Path:
    matches = [
        p
        for p in Path(archive.store.root).rglob("*")  # type: ignore[attr-defined]
        if p.is_file() and p.as_posix().endswith(key)
    ]
    assert matches, key
    return matches[0]


def test_tampered_object_is_never_served(
    client: FlaskClient, tokens: Tokens, archive: Archive, archived: dict
) -> None:
    body = archived
    with archive.sessions() as session:
        key = session.scalar(select(DocumentVersion.object_key))
    path = _stored_file(archive, key)
    os.chmod(path, 0o644)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    response = client.get(
        f"/api/v1/documents/{body['document_id']}/pdf", headers=Tokens.header(tokens.inspector)
    )
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "integrity_failure"
    assert b"%PDF" not in response.data
    events = client.get(
        f"/api/v1/audit?document={body['document_id']}&action=retrieve_pdf",
        headers=Tokens.header(tokens.admin),
    ).get_json()["items"]
    assert [e["outcome"] for e in events] == ["integrity_failure"]
    report = client.get(
        f"/api/v1/documents/{body['document_id']}/verification",
        headers=Tokens.header(tokens.inspector),
    ).get_json()
    assert report["integrity"]["matches"] is False and report["valid"] is False


def test_crash_between_store_and_record_leaves_an_orphan_not_a_row(
    client: FlaskClient, tokens: Tokens, archive: Archive
) -> None:
    def crash() -> None:
        raise RuntimeError("simulated crash after the objects were written")

    archive.before_record = crash
    response = upload(client, tokens.archivist)
    assert response.status_code == 500
    with archive.sessions() as session:
        assert session.scalar(select(func.count()).select_from(DocumentVersion)) == 0
    assert sum(1 for _ in archive.store.iter_objects()) == 2  # orphans for reconcile

    # The retry succeeds: the identical source object left behind is reused, not refused.
    archive.before_record = lambda: None
    retry = upload(client, tokens.archivist)
    assert retry.status_code == 201, retry.get_json()
