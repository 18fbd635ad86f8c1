"""Hostile input through the Flask app: every refusal is a JSON 4xx naming the parameter,
header or field at fault — never a 5xx or HTML — and nothing is stored.

The server-level refusals (what gunicorn answers before Flask) are in test_server_errors.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.exceptions import RequestHeaderFieldsTooLarge, RequestURITooLarge

from archive_service import create_app
from archive_service.db import AuditEvent, Document, DocumentVersion
from archive_service.journal.xml_form import from_export
from archive_service.pipeline import Archive
from archive_service.render import typst_compile
from tests.conftest import JSON_EXAMPLE, Tokens, make_tokens, upload
from tests.journal.helpers import load_generator

EXPORT_7B: dict[str, Any] = json.loads(JSON_EXAMPLE)


def state(archive: Archive) -> tuple[int, int, int, int]:
    """Documents, versions, stored objects and audit events: what a refusal must not change
    (the audit count is checked where the refusal comes before any audited work)."""
    with archive.sessions() as session:
        documents = session.scalar(select(func.count()).select_from(Document)) or 0
        versions = session.scalar(select(func.count()).select_from(DocumentVersion)) or 0
        events = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    objects = sum(1 for o in archive.store.iter_objects() if not o.key.startswith("audit/"))
    return documents, versions, objects, events


def stored(archive: Archive) -> tuple[int, int, int]:
    return state(archive)[:3]


def refusal(response: Any, status: int, path: str) -> dict[str, Any]:
    """The JSON error of a refusal with ``status`` whose one detail names ``path``."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] and error["message"]
    assert [d["path"] for d in error["details"]] == [path], error
    return error


def as_curl_sends(text: str) -> str:
    """A header value with non-ASCII text as raw UTF-8 bytes, which WSGI hands over as
    Latin-1 (what curl and most clients do)."""
    return text.encode("utf-8").decode("latin-1")


def with_text(steps: tuple[str | int, ...], value: str) -> dict[str, Any]:
    export = json.loads(JSON_EXAMPLE)
    node: Any = export
    for step in steps[:-1]:
        node = node[step]
    node[steps[-1]] = value
    return export


# ----------------------------------------------------------------------------- 1. parameters

BAD_NUMBERS = ["²", "٣", "١٢", "99999999999999999999", "2147483648", "0", "-1", "1.0", " 1", "1e3"]


@pytest.mark.parametrize("what", ["pdf", "source", "verification"])
@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_a_version_that_is_no_plain_number_in_range_is_422(
    client: FlaskClient, tokens: Tokens, archive: Archive, archived: dict, what: str, value: str
) -> None:
    before = state(archive)
    response = client.get(
        f"/api/v1/documents/{archived['document_id']}/{what}",
        query_string={"version": value},
        headers=Tokens.header(tokens.inspector),
    )
    error = refusal(response, 422, "version")
    assert error["code"] == "invalid_input"
    assert state(archive) == before  # refused before anything was read or audited


@pytest.mark.parametrize("value", BAD_NUMBERS)
def test_a_page_that_is_no_plain_number_in_range_is_422(
    client: FlaskClient, tokens: Tokens, archive: Archive, value: str
) -> None:
    before = state(archive)
    response = client.get(
        "/api/v1/documents", query_string={"page": value}, headers=Tokens.header(tokens.inspector)
    )
    refusal(response, 422, "page")
    assert state(archive) == before


@pytest.mark.parametrize(
    ("name", "value"),
    [("after", "99999999999999999999"), ("after", "²"), ("limit", "²"), ("limit", "1e3")],
)
def test_audit_counters_are_plain_bounded_numbers(
    client: FlaskClient, tokens: Tokens, archive: Archive, name: str, value: str
) -> None:
    before = state(archive)
    response = client.get(
        "/api/v1/audit", query_string={name: value}, headers=Tokens.header(tokens.admin)
    )
    refusal(response, 422, name)
    assert state(archive) == before


def test_numbers_at_the_bounds_are_answered_not_crashed(
    client: FlaskClient, tokens: Tokens, archived: dict
) -> None:
    inspector = Tokens.header(tokens.inspector)
    missing = client.get(
        f"/api/v1/documents/{archived['document_id']}/pdf?version=2147483647", headers=inspector
    )
    refusal(missing, 404, "version")
    far_page = client.get("/api/v1/documents?page=2147483647", headers=inspector)
    assert far_page.status_code == 200 and far_page.get_json()["items"] == []
    admin = Tokens.header(tokens.admin)
    # the audit sequence is a 32-bit column (PostgreSQL refuses larger numbers in the query)
    after = client.get("/api/v1/audit?after=2147483647", headers=admin)
    assert after.status_code == 200 and after.get_json()["items"] == []
    refusal(client.get("/api/v1/audit?after=2147483648", headers=admin), 422, "after")


@pytest.mark.parametrize("document_id", ["a" * 1000, "x\u2028y", "%E2%80%AE", "a%20b", "1\u0000"])
def test_an_id_that_cannot_be_one_is_unknown_and_not_recorded(
    client: FlaskClient, tokens: Tokens, archive: Archive, document_id: str
) -> None:
    before = state(archive)
    response = client.get(f"/api/v1/documents/{document_id}", headers=Tokens.header(tokens.admin))
    refusal(response, 404, "document_id")
    assert state(archive) == before


# ----------------------------------------------------------------------------- 2. framework errors


@pytest.fixture
def raising_app(app: Flask) -> Flask:
    """The app with two routes that fail the way Werkzeug's own limits do."""

    def too_long() -> None:
        raise RequestURITooLarge()

    def too_many_headers() -> None:
        raise RequestHeaderFieldsTooLarge()

    app.add_url_rule("/test/414", "test_414", too_long)
    app.add_url_rule("/test/431", "test_431", too_many_headers)
    return app


def test_framework_refusals_are_json_with_a_path(raising_app: Flask, tokens: Tokens) -> None:
    client = raising_app.test_client()
    refusal(client.get("/no/such/page"), 404, "path")
    not_allowed = client.delete("/api/v1/documents", headers=Tokens.header(tokens.admin))
    error = refusal(not_allowed, 405, "method")
    assert error["code"] == "method_not_allowed"
    assert set(not_allowed.headers["Allow"].split(", ")) >= {"GET", "HEAD"}
    refusal(client.get("/test/414"), 414, "path")
    refusal(client.get("/test/431"), 431, "headers")
    raising_app.config["MAX_CONTENT_LENGTH"] = 1000
    too_large = client.post(
        "/api/v1/verify",
        data=b"%PDF-" + b"0" * 5000,
        content_type="application/pdf",
        headers=Tokens.header(tokens.inspector),
    )
    refusal(too_large, 413, "body")


# ----------------------------------------------------------------------------- 3. free text

HOSTILE_NAMES = {
    "right-to-left override": "Петренко \u202eнавІ",
    "zero-width space": "Петренко\u200b Іван",
    "ten thousand characters": "Я" * 10_000,
}


@pytest.mark.parametrize("name", HOSTILE_NAMES.values(), ids=HOSTILE_NAMES.keys())
@pytest.mark.parametrize("form", ["json", "xml"])
def test_hostile_pupil_names_are_refused_and_nothing_is_stored(
    client: FlaskClient, tokens: Tokens, archive: Archive, name: str, form: str
) -> None:
    export = with_text(("pupils", 3, "full_name"), name)
    if form == "json":
        body, media_type, path = (
            json.dumps(export, ensure_ascii=False).encode(),
            "application/json",
            "/pupils/3/full_name",
        )
    else:
        body, media_type, path = (
            from_export(export),
            "application/xml",
            "/j:journal/j:pupils/j:pupil[4]/j:full_name",
        )
    before = stored(archive)
    response = upload(client, tokens.archivist, body, media_type)
    error = refusal(response, 422, path)
    assert error["code"] == "invalid_input"
    assert stored(archive) == before


@pytest.mark.parametrize("topic", ["Таблиця множення 数学", "Геометрія 📐"])
@pytest.mark.parametrize("form", ["json", "xml"])
def test_text_the_fonts_cannot_print_is_refused_at_parse_time(
    client: FlaskClient, tokens: Tokens, archive: Archive, topic: str, form: str
) -> None:
    """Once a 500 render_failed (DejaVu has no CJK or this emoji): now a 422 naming the field,
    before anything is rendered."""
    export = with_text(("subjects", 0, "lessons", 0, "topic"), topic)
    if form == "json":
        body, media_type = json.dumps(export, ensure_ascii=False).encode(), "application/json"
        path = "/subjects/0/lessons/0/topic"
    else:
        body, media_type = from_export(export), "application/xml"
        path = "/j:journal/j:subjects/j:subject[1]/j:lessons/j:lesson[1]/j:topic"
    before = stored(archive)
    error = refusal(upload(client, tokens.archivist, body, media_type), 422, path)
    assert "cannot print" in error["details"][0]["message"]
    assert stored(archive) == before


def test_a_render_failure_is_never_a_500(
    client: FlaskClient, tokens: Tokens, archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(typst_compile, "_template_source", lambda: b"#let x = (1, 2).at(5)")
    before = stored(archive)
    error = refusal(upload(client, tokens.archivist), 422, "/")
    assert error["code"] == "render_failed"
    assert stored(archive) == before


# ----------------------------------------------------------------------------- 4. recorded text

HOSTILE_PURPOSES = {
    "line separator": "перевірка\u2028підроблений рядок",
    "next line (C1)": "перевірка\u0085підроблений рядок",
    "right-to-left override": "наказ \u202e7/24",
    "zero-width space": "наказ\u200b 7/24",
    "BOM": "\ufeffнаказ",
}


@pytest.mark.parametrize("purpose", HOSTILE_PURPOSES.values(), ids=HOSTILE_PURPOSES.keys())
def test_a_purpose_with_invisible_or_control_characters_is_refused(
    client: FlaskClient, tokens: Tokens, archive: Archive, archived: dict, purpose: str
) -> None:
    before = state(archive)
    for value in (as_curl_sends(purpose), purpose):
        response = client.get(
            f"/api/v1/documents/{archived['document_id']}/pdf",
            headers=Tokens.header(tokens.inspector, **{"X-Purpose": value}),
        )
        refusal(response, 422, "header:X-Purpose")
    assert state(archive) == before  # no download, no event with the purpose in it


def test_an_honest_purpose_is_recorded_exactly(
    client: FlaskClient, tokens: Tokens, archive: Archive, archived: dict
) -> None:
    purpose = "Наказ № 7/24 від 01.09.2024 — перевірка ʼ’'\u00a0«ґ»"
    response = client.get(
        f"/api/v1/documents/{archived['document_id']}/pdf",
        headers=Tokens.header(tokens.inspector, **{"X-Purpose": as_curl_sends(purpose)}),
    )
    assert response.status_code == 200
    with archive.sessions() as session:
        recorded = session.scalars(
            select(AuditEvent.purpose).where(AuditEvent.action == "retrieve_pdf")
        ).all()
    assert recorded == [purpose]


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/api/v1/documents?class_name=7-Б\u2028x", "class_name"),
        ("/api/v1/documents?school_year=2023/2024\u0085", "school_year"),
        ("/api/v1/documents?institution=\u202e26453182", "institution"),
        ("/api/v1/audit?actor=x\u2028y", "actor"),
        ("/api/v1/audit?action=retrieve_pdf\u200b", "action"),
        ("/api/v1/audit?document=" + "a" * 300, "document"),
    ],
)
def test_recorded_filters_with_control_characters_are_refused(
    client: FlaskClient, tokens: Tokens, archive: Archive, url: str, name: str
) -> None:
    before = state(archive)
    refusal(client.get(url, headers=Tokens.header(tokens.admin)), 422, name)
    assert state(archive) == before


def test_a_legal_hold_reason_with_a_line_separator_is_refused(
    client: FlaskClient, tokens: Tokens, archive: Archive, archived: dict
) -> None:
    before = state(archive)
    response = client.put(
        f"/api/v1/documents/{archived['document_id']}/versions/1/legal-hold",
        json={"reason": "ухвала суду\u2028підроблений рядок"},
        headers=Tokens.header(tokens.admin),
    )
    refusal(response, 422, "reason")
    assert state(archive) == before


def test_an_unauthenticated_path_is_recorded_without_its_invisible_characters(
    client: FlaskClient, archive: Archive
) -> None:
    response = client.get("/api/v1/documents/%E2%80%A8%E2%80%AE")
    assert response.status_code == 401
    with archive.sessions() as session:
        detail = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "authenticate")
        ).one()
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    assert "\u2028" not in text and "\u202e" not in text
    assert "\\u2028\\u202e" in json.loads(text)["path"]


# ----------------------------------------------------------------------------- 6. memory


@pytest.fixture
def capped_app(data_dir: Path) -> Iterator[Flask]:
    """Rendering in worker processes capped at 128 MiB (the smallest cap allowed)."""
    app = create_app({"data_dir": data_dir, "render_in_process": False, "render_memory_mb": 128})
    try:
        yield app
    finally:
        app.extensions["archive"].renderer.close()


def test_a_journal_beyond_the_render_memory_cap_is_413_and_the_service_goes_on(
    capped_app: Flask,
) -> None:
    """The standard full-year journal needs ~370 MiB to render: under a 128 MiB cap the worker
    fails cleanly, the upload is refused as too large to render, nothing is stored, and the
    next upload is archived by a fresh worker."""
    archive = capped_app.extensions["archive"]
    tokens = make_tokens(archive)
    client = capped_app.test_client()
    generator = load_generator()
    big = generator.export_to_json(generator.generate_export(pupils=30, subjects=14, seed=0))
    response = upload(client, tokens.admin, big)
    error = refusal(response, 413, "/")
    assert error["code"] == "too_large_to_render"
    assert "128 MiB" in error["message"] and "Split the journal" in error["message"]
    assert stored(archive) == (0, 0, 0)
    assert client.get("/healthz").status_code == 200
    created = upload(client, tokens.archivist)
    assert created.status_code == 201, created.get_json()
