"""Who may do what: every endpoint × role × scope, and the token lifecycle."""

from __future__ import annotations

import datetime as dt
from io import BytesIO
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from pypdf import PdfWriter

from archive_service.access import Role, authenticate, create_token, revoke_token
from archive_service.errors import InvalidInput, Unauthorized
from archive_service.pipeline import Archive
from tests.conftest import JSON_EXAMPLE, Tokens, make_tokens, upload
from tests.external_signing_support import external_app, make_signer_files


def _unsigned_pdf() -> bytes:
    """Any readable PDF will do for the matrix: verifying an unsigned one is still allowed."""
    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
    buffer = BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


UNSIGNED_PDF = _unsigned_pdf()

# (method, path template, allowed roles in scope); "{id}" is an archived document.
ENDPOINTS = [
    ("GET", "/api/v1/documents", {"archivist", "inspector", "admin"}),
    ("GET", "/api/v1/documents/{id}", {"archivist", "inspector", "admin"}),
    ("GET", "/api/v1/documents/{id}/pdf", {"archivist", "inspector", "admin"}),
    ("GET", "/api/v1/documents/{id}/source", {"archivist", "inspector", "admin"}),
    ("GET", "/api/v1/documents/{id}/verification", {"archivist", "inspector", "admin"}),
    ("GET", "/api/v1/audit", {"admin"}),
    ("PUT", "/api/v1/documents/{id}/versions/1/legal-hold", {"admin"}),
    ("DELETE", "/api/v1/documents/{id}/versions/1/legal-hold", {"admin"}),
    ("POST", "/api/v1/journals", {"archivist", "job", "admin"}),
    ("POST", "/api/v1/verify", {"archivist", "inspector", "admin"}),
]
ROLES = ["archivist", "job", "inspector", "admin", "inspector_other", "archivist_other"]
# Signing requests exist only where an institution signs externally, so these run on an archive
# configured that way; "{id}" is a request waiting for its signature. Uploading roles handle
# them (an automated job may drive a signing service); inspectors never do.
SIGNING_ENDPOINTS = [
    ("GET", "/api/v1/signing-requests", {"archivist", "job", "admin"}),
    ("GET", "/api/v1/signing-requests/{id}", {"archivist", "job", "admin"}),
    ("POST", "/api/v1/signing-requests/{id}/signature", {"archivist", "job", "admin"}),
]
#: A signature that can never verify: allowed callers get 422 and the request stays open.
_NOT_A_SIGNATURE = {"signature": "AAAA"}


@pytest.fixture
def document_id(archived: dict) -> str:
    return archived["document_id"]


def _call(client: FlaskClient, method: str, path: str, headers: dict[str, str]):
    if path == "/api/v1/verify":
        return client.post(path, data=UNSIGNED_PDF, content_type="application/pdf", headers=headers)
    if method == "POST":
        return client.post(
            path, data=JSON_EXAMPLE, content_type="application/json", headers=headers
        )
    if method in ("PUT", "DELETE"):
        return client.open(
            path, method=method, json={"reason": "authorization matrix"}, headers=headers
        )
    return client.get(path, headers=headers)


@pytest.mark.parametrize(("method", "template", "allowed"), ENDPOINTS)
def test_authorization_matrix(
    client: FlaskClient,
    tokens: Tokens,
    document_id: str,
    method: str,
    template: str,
    allowed: set[str],
) -> None:
    path = template.format(id=document_id)
    assert _call(client, method, path, {}).status_code == 401
    assert _call(client, method, path, Tokens.header("ja_nope_nope")).status_code == 401
    for role in ROLES:
        status = _call(client, method, path, Tokens.header(getattr(tokens, role))).status_code
        base_role, _, scope = role.partition("_")
        if base_role not in allowed:
            expected = {403}
        elif scope == "other" and "{id}" in template:
            expected = {404}  # outside one's scope looks exactly like missing
        elif scope == "other" and template == "/api/v1/journals":
            expected = {403}  # may upload, but not for another institution
        else:
            expected = {200, 201}
        assert status in expected, f"{role} {method} {path}: {status}"


@pytest.fixture
def signing_setup(data_dir: Path, tmp_path: Path) -> tuple[FlaskClient, Tokens, str]:
    """An archive whose example institution signs externally, with one pending request."""
    signer = make_signer_files(tmp_path / "signer", data_dir / "pki")
    app = external_app(data_dir, signer)
    tokens = make_tokens(app.extensions["archive"])
    client = app.test_client()
    prepared = upload(client, tokens.archivist)
    assert prepared.status_code == 202, prepared.get_json()
    return client, tokens, prepared.get_json()["request_id"]


@pytest.mark.parametrize(("method", "template", "allowed"), SIGNING_ENDPOINTS)
def test_signing_request_authorization_matrix(
    signing_setup: tuple[FlaskClient, Tokens, str],
    method: str,
    template: str,
    allowed: set[str],
) -> None:
    client, tokens, request_id = signing_setup
    path = template.format(id=request_id)

    def call(headers: dict[str, str]):  # type: ignore[no-untyped-def]
        if method == "POST":
            return client.post(path, json=_NOT_A_SIGNATURE, headers=headers)
        return client.get(path, headers=headers)

    assert call({}).status_code == 401
    assert call(Tokens.header("ja_nope_nope")).status_code == 401
    for role in ROLES:
        status = call(Tokens.header(getattr(tokens, role))).status_code
        base_role, _, scope = role.partition("_")
        if base_role not in allowed:
            expected = 403
        elif scope == "other" and "{id}" in template:
            expected = 404  # outside one's scope looks exactly like missing
        else:
            expected = 422 if method == "POST" else 200
        assert status == expected, f"{role} {method} {path}: {status}"


def test_out_of_scope_looks_like_missing(
    client: FlaskClient, tokens: Tokens, document_id: str
) -> None:
    hidden = client.get(
        f"/api/v1/documents/{document_id}", headers=Tokens.header(tokens.inspector_other)
    )
    missing = client.get(
        "/api/v1/documents/00000000-0000-0000-0000-000000000000",
        headers=Tokens.header(tokens.inspector_other),
    )
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json()["error"]["code"] == missing.get_json()["error"]["code"]


def test_tokens_are_stored_hashed_and_can_expire_and_be_revoked(archive: Archive) -> None:
    with archive.sessions.begin() as session:
        issued = create_token(session, name="x", role=Role.INSPECTOR)
        expired = create_token(
            session,
            name="old",
            role=Role.INSPECTOR,
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
        )
    assert issued.secret.split("_", 2)[2] not in issued.record.secret_sha256
    with archive.sessions() as session:
        assert authenticate(session, issued.secret).role is Role.INSPECTOR
        with pytest.raises(Unauthorized):
            authenticate(session, expired.secret)
        with pytest.raises(Unauthorized):
            authenticate(session, issued.secret[:-1] + ("A" if issued.secret[-1] != "A" else "B"))
    with archive.sessions.begin() as session:
        revoke_token(session, issued.record.id)
    with archive.sessions() as session, pytest.raises(Unauthorized):
        authenticate(session, issued.secret)


def test_uploader_tokens_need_an_institution(archive: Archive) -> None:
    with archive.sessions.begin() as session, pytest.raises(InvalidInput):
        create_token(session, name="x", role=Role.ARCHIVIST)


def test_purpose_can_be_required(
    data_dir, client: FlaskClient, tokens: Tokens, document_id: str
) -> None:
    archive: Archive = client.application.extensions["archive"]
    archive.require_purpose = True
    without = client.get(
        f"/api/v1/documents/{document_id}/pdf", headers=Tokens.header(tokens.inspector)
    )
    assert without.status_code == 422
    assert without.get_json()["error"]["details"][0]["path"] == "header:X-Purpose"
    with_purpose = client.get(
        f"/api/v1/documents/{document_id}/pdf",
        headers=Tokens.header(tokens.inspector, **{"X-Purpose": "суд"}),
    )
    assert with_purpose.status_code == 200
