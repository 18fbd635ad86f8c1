"""The audit log over HTTP and the CLI: exports, refused requests, and no secret anywhere."""

from __future__ import annotations

import csv
import io
import json
import logging
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select

from archive_service.access import LOCAL_OPERATOR
from archive_service.cli import main
from archive_service.db import AuditEvent
from archive_service.pipeline import Archive, RequestContext
from tests.conftest import Tokens, upload

PURPOSE = 'перевірка «Ґанок», їжак; кома, "лапки" і апостроф’'


def _as_sent_by_curl(text: str) -> str:
    """UTF-8 bytes in a header, as WSGI hands them over (decoded as Latin-1)."""
    return text.encode().decode("latin-1")


def _download_with_purpose(client: FlaskClient, tokens: Tokens) -> str:
    document_id = upload(client, tokens.archivist).get_json()["document_id"]
    pdf = client.get(
        f"/api/v1/documents/{document_id}/pdf",
        headers=Tokens.header(
            tokens.inspector, **{"X-Purpose": PURPOSE.encode().decode("latin-1")}
        ),
    )
    assert pdf.status_code == 200
    return document_id


def _export(client: FlaskClient, tokens: Tokens, **params: str):  # type: ignore[no-untyped-def]
    return client.get("/api/v1/audit", query_string=params, headers=Tokens.header(tokens.admin))


def test_jsonl_export_matches_the_paged_listing(client: FlaskClient, tokens: Tokens) -> None:
    document_id = _download_with_purpose(client, tokens)
    paged = _export(client, tokens, document=document_id)
    exported = _export(client, tokens, document=document_id, format="jsonl")
    assert exported.status_code == 200
    assert exported.mimetype == "application/jsonl"
    lines = [json.loads(line) for line in exported.data.decode("utf-8").splitlines()]
    assert lines == paged.get_json()["items"]
    assert [e["action"] for e in lines] == ["upload", "retrieve_pdf"]


def test_csv_export_round_trips_ukrainian_text(
    archive: Archive, client: FlaskClient, tokens: Tokens
) -> None:
    document_id = _download_with_purpose(client, tokens)
    multiline = "Наказ № 5,\nпункт «ґ»"
    archive.record(RequestContext(LOCAL_OPERATOR, purpose=multiline), "retrieve_pdf", "ok")
    exported = _export(client, tokens, format="csv", action="retrieve_pdf")
    assert exported.status_code == 200
    assert exported.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(exported.data.decode("utf-8"), newline="")))
    assert [r["purpose"] for r in rows] == [PURPOSE, multiline]
    row = rows[0]
    assert row["actor_name"] == "Інспектор"
    assert row["document_id"] == document_id and row["version"] == "1"
    assert json.loads(row["detail"])["object_key"].endswith(".pdf")


def test_csv_cells_cannot_run_as_formulas(
    archive: Archive, client: FlaskClient, tokens: Tokens
) -> None:
    archive.record(RequestContext(LOCAL_OPERATOR, purpose='=HYPERLINK("x")'), "test", "ok")
    (row,) = csv.DictReader(
        io.StringIO(_export(client, tokens, format="csv", action="test").data.decode())
    )
    assert row["purpose"] == '\'=HYPERLINK("x")'


def test_export_filters_and_errors(client: FlaskClient, tokens: Tokens) -> None:
    _download_with_purpose(client, tokens)
    later = _export(client, tokens, format="jsonl", since="2999-01-01T00:00:00Z")
    assert later.status_code == 200 and later.data == b""
    bad = _export(client, tokens, format="xlsx")
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"][0]["path"] == "format"
    forbidden = client.get("/api/v1/audit?format=csv", headers=Tokens.header(tokens.inspector))
    assert forbidden.status_code == 403 and b"seq" not in forbidden.data


def test_export_is_itself_audited(client: FlaskClient, tokens: Tokens) -> None:
    _export(client, tokens, format="jsonl", action="upload")
    events = _export(client, tokens, action="audit_export").get_json()["items"]
    assert [(e["detail"], e["actor"]["name"]) for e in events] == [({"action": "upload"}, "admin")]


def test_cli_export(archive: Archive, client: FlaskClient, tokens: Tokens, data_dir: Path) -> None:
    _download_with_purpose(client, tokens)
    output = data_dir / "audit.csv"
    result = CliRunner().invoke(
        main,
        ["audit", "export", "--format", "csv", "--action", "retrieve_pdf", "-o", str(output)],
        env={"ARCHIVE_DATA_DIR": str(data_dir)},
    )
    assert result.exit_code == 0, result.output
    (row,) = csv.DictReader(io.StringIO(output.read_text("utf-8"), newline=""))
    assert row["purpose"] == PURPOSE
    jsonl = CliRunner().invoke(
        main,
        ["audit", "export", "--since", "2000-01-01"],
        env={"ARCHIVE_DATA_DIR": str(data_dir)},
    )
    assert jsonl.exit_code == 0
    actions = [json.loads(line)["action"] for line in jsonl.stdout_bytes.splitlines()]
    assert actions[:2] == ["upload", "retrieve_pdf"]


# ---------------------------------------------------------------- refused requests, secrets


def _denied_events(archive: Archive) -> list[AuditEvent]:
    with archive.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "authenticate")))


def test_401_is_recorded_with_at_most_the_token_id(
    archive: Archive, client: FlaskClient, tokens: Tokens
) -> None:
    real_id = tokens.inspector.split("_")[1]
    wrong_secret = f"ja_{real_id}_{secrets.token_urlsafe(32)}"
    assert client.get("/api/v1/documents").status_code == 401
    assert client.get("/api/v1/documents", headers=Tokens.header(wrong_secret)).status_code == 401
    events = _denied_events(archive)
    assert [(e.outcome, e.actor_token_id) for e in events] == [
        ("denied", None),
        ("denied", real_id),
    ]
    assert json.loads(events[0].detail) == {
        "method": "GET",
        "path": "/api/v1/documents",
        "reason": "no_token",
    }


@pytest.mark.parametrize(
    "presented",
    [
        "ja_{secret}",  # no id: the secret must not be taken for one
        "ja_{secret}_{secret}",
        "{secret}",
        "ja_0123456789abcdef_{secret}",  # well-formed, unknown id: only the id is kept
    ],
)
def test_malformed_tokens_never_reach_the_log(
    archive: Archive, client: FlaskClient, presented: str
) -> None:
    secret = secrets.token_urlsafe(32)
    token = presented.format(secret=secret)
    assert client.get("/api/v1/documents", headers=Tokens.header(token)).status_code == 401
    (event,) = _denied_events(archive)
    assert event.actor_token_id in (None, "0123456789abcdef")
    assert secret not in json.dumps(
        {c.name: str(getattr(event, c.name)) for c in AuditEvent.__table__.columns}
    )


def test_no_secret_in_any_event_or_log_line(
    archive: Archive,
    client: FlaskClient,
    tokens: Tokens,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    document_id = _download_with_purpose(client, tokens)
    unknown_secret, malformed_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    attempts = [
        *(getattr(tokens, name) for name in vars(tokens)),
        f"ja_{tokens.admin.split('_')[1]}_{unknown_secret}",
        f"ja_{malformed_secret}",
    ]
    # ``ja_<hex id>_<secret>``: the secret itself may contain underscores.
    secret_parts = [
        *(getattr(tokens, name).split("_", 2)[2] for name in vars(tokens)),
        unknown_secret,
        malformed_secret,
    ]
    for token in attempts:
        for path in (
            "/api/v1/documents",
            f"/api/v1/documents/{document_id}",
            f"/api/v1/documents/{document_id}/source",
            "/api/v1/audit?format=csv",
        ):
            client.get(path, headers=Tokens.header(token, **{"X-Purpose": "аудит"}))
    everything = "".join(line.decode() for line in _export(client, tokens, format="jsonl").response)
    assert "authenticate" in everything  # the refused attempts are there …
    for secret in secret_parts:  # … but no secret, in the log nor in any log line
        assert secret not in everything
        assert secret not in caplog.text
