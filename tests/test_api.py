"""The archive path end to end through the Flask test client."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import func, select

from archive_service.db import AuditEvent, Document, DocumentVersion
from archive_service.pipeline import Archive
from tests.conftest import EXAMPLES, JSON_EXAMPLE, Tokens, upload

XML_EXAMPLE = (EXAMPLES / "journal-7b.xml").read_bytes()


def changed_export() -> bytes:
    export = json.loads(JSON_EXAMPLE)
    export["subjects"][0]["lessons"][0]["topic"] += " (виправлено)"
    return json.dumps(export, ensure_ascii=False, indent=1).encode()


def counts(archive: Archive) -> tuple[int, int, int]:
    with archive.sessions() as session:
        documents = session.scalar(select(func.count()).select_from(Document))
        versions = session.scalar(select(func.count()).select_from(DocumentVersion))
    objects = sum(1 for _ in archive.store.iter_objects())
    return documents or 0, versions or 0, objects


def audit_actions(archive: Archive) -> list[tuple[str, str]]:
    with archive.sessions() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.outcome).order_by(AuditEvent.seq)
        ).all()
    return [(a, o) for a, o in rows]


def test_upload_returns_a_signed_version(client: FlaskClient, tokens: Tokens) -> None:
    response = upload(client, tokens.archivist, JSON_EXAMPLE)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["version"] == 1
    assert body["signature_level"] == "B-LTA"
    assert len(body["sha256"]) == 64
    assert body["retain_until"].startswith("2029-08-31")
    assert response.headers["Location"].endswith(body["document_id"])


def test_same_bytes_again_is_idempotent(
    client: FlaskClient, tokens: Tokens, archive: Archive
) -> None:
    first = upload(client, tokens.archivist, JSON_EXAMPLE).get_json()
    again = upload(client, tokens.job, JSON_EXAMPLE)
    assert again.status_code == 200
    assert again.get_json()["sha256"] == first["sha256"]
    assert again.get_json()["version"] == 1
    assert counts(archive) == (1, 1, 2)


def test_changed_export_supersedes_and_both_stay(client: FlaskClient, tokens: Tokens) -> None:
    first = upload(client, tokens.archivist, JSON_EXAMPLE).get_json()
    second = upload(client, tokens.archivist, changed_export())
    assert second.status_code == 201
    body = second.get_json()
    assert body["document_id"] == first["document_id"]
    assert (body["version"], body["supersedes"]) == (2, 1)
    headers = Tokens.header(tokens.inspector)
    v1 = client.get(f"/api/v1/documents/{first['document_id']}/pdf?version=1", headers=headers)
    v2 = client.get(f"/api/v1/documents/{first['document_id']}/pdf", headers=headers)
    assert v1.status_code == v2.status_code == 200
    assert v1.headers["X-Content-SHA256"] == first["sha256"]
    assert v2.headers["X-Content-SHA256"] == body["sha256"]
    src1 = client.get(f"/api/v1/documents/{first['document_id']}/source?version=1", headers=headers)
    assert src1.data == JSON_EXAMPLE
    detail = client.get(f"/api/v1/documents/{first['document_id']}", headers=headers).get_json()
    assert [v["version"] for v in detail["versions"]] == [1, 2]


def test_xml_upload_is_archived(client: FlaskClient, tokens: Tokens) -> None:
    response = upload(client, tokens.archivist, XML_EXAMPLE, "application/xml")
    assert response.status_code == 201, response.get_json()
    document_id = response.get_json()["document_id"]
    source = client.get(
        f"/api/v1/documents/{document_id}/source", headers=Tokens.header(tokens.inspector)
    )
    assert source.data == XML_EXAMPLE
    assert source.mimetype == "application/xml"


def test_multipart_upload(client: FlaskClient, tokens: Tokens) -> None:
    response = client.post(
        "/api/v1/journals",
        data={"file": (io.BytesIO(JSON_EXAMPLE), "journal.json")},
        content_type="multipart/form-data",
        headers=Tokens.header(tokens.archivist),
    )
    assert response.status_code == 201, response.get_json()


def test_downloaded_pdf_is_valid_complete_and_audited(
    client: FlaskClient, tokens: Tokens, archive: Archive, tmp_path: Path
) -> None:
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    from archive_service.cli import main

    document_id = upload(client, tokens.archivist, JSON_EXAMPLE).get_json()["document_id"]
    response = client.get(
        f"/api/v1/documents/{document_id}/pdf",
        headers=Tokens.header(tokens.inspector, **{"X-Purpose": "Перевірка №7"}),
    )
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    pdf = response.data

    # The root exported by the CLI validates the download, independently of our validator.
    root_file = tmp_path / "root.pem"
    runner = client.application.test_cli_runner()
    settings = client.application.config["ARCHIVE_SETTINGS"]
    result = runner.invoke(
        main,
        ["pki", "export-root", "-o", str(root_file)],
        env={"ARCHIVE_DATA_DIR": str(settings.data_dir)},
    )
    assert result.exit_code == 0, result.output
    context = ValidationContext(
        trust_roots=[load_cert_from_pemder(str(root_file))],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    status = validate_pdf_signature(signature, context)
    assert status.intact and status.valid and status.trusted
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted

    reader = PdfReader(io.BytesIO(pdf))
    assert reader.attachments["journal.json"] == [JSON_EXAMPLE]
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    for pupil in json.loads(JSON_EXAMPLE)["pupils"]:
        assert pupil["full_name"] in text

    events = client.get(
        f"/api/v1/audit?document={document_id}&action=retrieve_pdf",
        headers=Tokens.header(tokens.admin),
    ).get_json()["items"]
    assert len(events) == 1
    event = events[0]
    assert event["outcome"] == "ok"
    assert event["actor"]["name"] == "Інспектор"
    assert event["actor"]["role"] == "inspector"
    assert event["sha256"] == response.headers["X-Content-SHA256"]
    assert event["purpose"] == "Перевірка №7"
    assert event["client_address"]


INVALID = EXAMPLES / "invalid"


@pytest.mark.parametrize(
    ("filename", "media_type", "status", "path_fragment"),
    [
        ("bad-json.json", "application/json", 400, ""),
        ("bad-xml.xml", "application/xml", 400, ""),
        ("entity-bomb.xml", "application/xml", 400, ""),
        ("unknown-pupil.json", "application/json", 422, "/marks/"),
        ("unknown-pupil.xml", "application/xml", 422, "mark"),
        ("grade-13.json", "application/json", 422, "/value"),
        ("date-outside-year.json", "application/json", 422, "/date"),
        ("duplicate-pupil-id.json", "application/json", 422, "/pupils/"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    client: FlaskClient,
    tokens: Tokens,
    archive: Archive,
    filename: str,
    media_type: str,
    status: int,
    path_fragment: str,
) -> None:
    upload(client, tokens.archivist, JSON_EXAMPLE)
    before = counts(archive)
    response = upload(client, tokens.archivist, (INVALID / filename).read_bytes(), media_type)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] and error["message"]
    assert error["details"], "every refusal names where the problem is"
    assert all(d["path"] for d in error["details"])
    assert any(path_fragment in d["path"] for d in error["details"])
    assert counts(archive) == before
    assert audit_actions(archive)[-1] == ("upload", "refused")


def test_unsupported_media_type(client: FlaskClient, tokens: Tokens, archive: Archive) -> None:
    response = upload(client, tokens.archivist, b"%PDF-1.7", "application/pdf")
    assert response.status_code == 415
    assert counts(archive) == (0, 0, 0)


@pytest.mark.parametrize(
    ("http_limit", "parser_limit"), [(1000, 1000), (10**8, len(JSON_EXAMPLE) - 1)]
)
def test_oversized_upload_is_refused_before_anything_is_stored(
    client: FlaskClient, tokens: Tokens, archive: Archive, http_limit: int, parser_limit: int
) -> None:
    """Over the HTTP limit (Flask refuses the body) or just over the parser's own limit."""
    client.application.config["MAX_CONTENT_LENGTH"] = http_limit
    archive.max_upload_bytes = parser_limit
    response = upload(client, tokens.archivist, JSON_EXAMPLE)
    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "payload_too_large"
    assert error["details"][0]["path"]
    assert counts(archive) == (0, 0, 0)


def test_document_list_is_scoped_and_paged(client: FlaskClient, tokens: Tokens) -> None:
    upload(client, tokens.archivist, JSON_EXAMPLE)
    mine = client.get(
        "/api/v1/documents?school_year=2023/2024", headers=Tokens.header(tokens.inspector)
    ).get_json()
    assert mine["total"] == 1 and mine["items"][0]["class_name"] == "7-Б"
    assert mine["items"][0]["latest"]["signature_level"] == "B-LTA"
    by_class = client.get(
        "/api/v1/documents?class_name=7-Б", headers=Tokens.header(tokens.inspector)
    ).get_json()
    assert by_class["total"] == 1
    other = client.get("/api/v1/documents", headers=Tokens.header(tokens.inspector_other))
    assert other.status_code == 200 and other.get_json()["total"] == 0


def test_verification_report(client: FlaskClient, tokens: Tokens) -> None:
    body = upload(client, tokens.archivist, JSON_EXAMPLE).get_json()
    report = client.get(
        f"/api/v1/documents/{body['document_id']}/verification",
        headers=Tokens.header(tokens.inspector),
    ).get_json()
    assert report["integrity"]["matches"] is True
    assert report["valid"] is True
    assert report["signatures"][0]["level"] == "B-LTA"


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "storage": "ok"}
    assert response.get_json()["warnings"] == []
