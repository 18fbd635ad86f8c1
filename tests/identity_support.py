"""Invariant 8 under attack: an insider edits the database, the objects' identities catch it.

Shared by the embedded-default tests (tests/test_object_identity.py) and the same attacks on
real S3 servers (tests/storage/test_identity_on_s3.py). Every attack edits only the database —
what someone holding the database file (or its credentials) can do — and keeps the hashes in
each row consistent with the object it now names, so the hash check alone passes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from flask.testing import FlaskClient
from sqlalchemy import select, update

from archive_service.db import Document, DocumentVersion, Institution
from archive_service.pipeline import Archive
from tests.conftest import EXAMPLES, Tokens, upload

SEVENTH = (EXAMPLES / "journal-7b.json").read_bytes()
SECOND = (EXAMPLES / "journal-2a.json").read_bytes()
#: Columns that say where a version's PDF is and what its bytes are.
PDF_COLUMNS = ("object_key", "object_version_id", "sha256", "size")


def corrected(source: bytes) -> bytes:
    """The same journal with one lesson topic corrected: a new version of the same document."""
    export = json.loads(source)
    export["subjects"][0]["lessons"][0]["topic"] += " (виправлено)"
    return json.dumps(export, ensure_ascii=False, indent=2).encode()


@dataclass(frozen=True)
class Archived:
    """Two documents of one institution: 7-Б with versions 1 and 2, and 2-А with version 1."""

    seventh: str
    second: str


def archive_documents(client: FlaskClient, tokens: Tokens) -> Archived:
    answers = [
        upload(client, tokens.archivist, body)
        for body in (SEVENTH, corrected(SEVENTH), SECOND)
    ]
    assert [a.status_code for a in answers] == [201, 201, 201], [a.get_json() for a in answers]
    first, second, other = (a.get_json() for a in answers)
    assert first["document_id"] == second["document_id"] and second["version"] == 2
    return Archived(first["document_id"], other["document_id"])


def _row(archive: Archive, document_id: str, number: int) -> DocumentVersion:
    with archive.reader() as session:
        return session.scalars(
            select(DocumentVersion).where(
                DocumentVersion.document_id == document_id, DocumentVersion.number == number
            )
        ).one()


def swap_pdfs(archive: Archive, document_id: str, a: int, b: int) -> None:
    """Swap two versions' PDF objects (key, version id, hash, size) in the database."""
    swap_pdfs_across(archive, (document_id, a), (document_id, b))


def swap_pdfs_across(archive: Archive, a: tuple[str, int], b: tuple[str, int]) -> None:
    """Swap the PDF objects of two versions, of one document or of two."""
    first, second = _row(archive, *a), _row(archive, *b)
    values_a = {c: getattr(first, c) for c in PDF_COLUMNS}
    values_b = {c: getattr(second, c) for c in PDF_COLUMNS}
    with archive.sessions.begin() as session:
        # object_key is unique: park one row's key first.
        session.execute(
            update(DocumentVersion)
            .where(DocumentVersion.id == first.id)
            .values(object_key=f"{first.object_key}.parked")
        )
        session.execute(
            update(DocumentVersion).where(DocumentVersion.id == second.id).values(**values_a)
        )
        session.execute(
            update(DocumentVersion).where(DocumentVersion.id == first.id).values(**values_b)
        )


def move_to_institution(archive: Archive, document_id: str, edrpou: str) -> None:
    """Give a document to another institution (created if the archive does not know it)."""
    with archive.sessions.begin() as session:
        institution = session.scalar(select(Institution).where(Institution.edrpou == edrpou))
        if institution is None:
            institution = Institution(edrpou=edrpou, name="Інший заклад")
            session.add(institution)
            session.flush()
        session.execute(
            update(Document)
            .where(Document.id == document_id)
            .values(institution_id=institution.id)
        )


def reparent(archive: Archive, document_id: str, number: int, to_document: str) -> int:
    """Move a version under another document as its next version; the new number."""
    row = _row(archive, document_id, number)
    with archive.sessions.begin() as session:
        newest = session.scalars(
            select(DocumentVersion)
            .where(DocumentVersion.document_id == to_document)
            .order_by(DocumentVersion.number.desc())
        ).first()
        assert newest is not None
        session.execute(
            update(DocumentVersion)
            .where(DocumentVersion.id == row.id)
            .values(document_id=to_document, number=newest.number + 1, supersedes_id=newest.id)
        )
    return newest.number + 1


def get(client: FlaskClient, token: str, path: str):  # type: ignore[no-untyped-def]
    return client.get(path, headers=Tokens.header(token, **{"X-Purpose": "перевірка"}))


def assert_refused(response) -> None:  # type: ignore[no-untyped-def]
    """Failed closed: a JSON integrity_failure, not a byte of the object."""
    assert response.status_code == 500, response.status_code
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"]["code"] == "integrity_failure", body
    assert "identity" in body["error"]["message"]
    assert b"%PDF" not in response.data


def assert_verification_refused(client: FlaskClient, token: str, path: str) -> None:
    report = get(client, token, path).get_json()
    assert report["verdict"] == "integrity_failure", report
    assert report["valid"] is False and not report.get("signatures")


def audit(client: FlaskClient, tokens: Tokens, document_id: str, action: str) -> list[dict]:
    response = client.get(
        f"/api/v1/audit?document={document_id}&action={action}",
        headers=Tokens.header(tokens.admin),
    )
    assert response.status_code == 200
    items: list[dict] = response.get_json()["items"]
    return items
