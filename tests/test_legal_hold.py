"""Legal holds: admin only, on every object of a version, recorded with the reason and audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select

from archive_service.cli import main
from archive_service.db import DocumentVersion
from archive_service.pipeline import Archive
from archive_service.storage import StorageUnavailable
from tests.conftest import Tokens

REASON = "Ухвала суду у справі № 123/456/24"


def _hold_path(document_id: str, version: int = 1) -> str:
    return f"/api/v1/documents/{document_id}/versions/{version}/legal-hold"


def _objects(archive: Archive) -> list[tuple[str, str]]:
    with archive.sessions() as session:
        row = session.scalars(select(DocumentVersion)).one()
        return [
            (row.object_key, row.object_version_id),
            (row.source_object_key, row.source_object_version_id),
        ]


def _events(client: FlaskClient, tokens: Tokens, action: str) -> list[dict]:
    response = client.get(f"/api/v1/audit?action={action}", headers=Tokens.header(tokens.admin))
    return response.get_json()["items"]


def test_admin_sets_and_clears_a_hold_on_every_object(
    client: FlaskClient, tokens: Tokens, archive: Archive, archived: dict
) -> None:
    document_id = archived["document_id"]
    assert archived["document"]["versions"][0]["legal_hold"]["active"] is False

    held = client.put(
        _hold_path(document_id), json={"reason": REASON}, headers=Tokens.header(tokens.admin)
    )
    assert held.status_code == 200, held.get_json()
    state = held.get_json()
    assert (state["document_id"], state["version"]) == (document_id, 1)
    assert state["legal_hold"]["active"] is True
    assert state["legal_hold"]["reason"] == REASON
    assert state["legal_hold"]["changed_by"].startswith("admin (")
    assert state["legal_hold"]["changed_at"]
    assert all(archive.store.stat(key, vid).legal_hold for key, vid in _objects(archive))

    shown = client.get(f"/api/v1/documents/{document_id}", headers=Tokens.header(tokens.inspector))
    assert shown.get_json()["versions"][0]["legal_hold"] == state["legal_hold"]

    cleared = client.delete(
        _hold_path(document_id),
        json={"reason": "справу закрито"},
        headers=Tokens.header(tokens.admin),
    )
    assert cleared.status_code == 200, cleared.get_json()
    assert cleared.get_json()["legal_hold"]["active"] is False
    assert cleared.get_json()["legal_hold"]["reason"] == "справу закрито"
    assert not any(archive.store.stat(key, vid).legal_hold for key, vid in _objects(archive))

    set_events = _events(client, tokens, "legal_hold.set")
    clear_events = _events(client, tokens, "legal_hold.clear")
    assert [(e["outcome"], e["detail"]["reason"]) for e in set_events] == [("ok", REASON)]
    assert [(e["outcome"], e["version"]) for e in clear_events] == [("ok", 1)]


@pytest.mark.parametrize("body", [{}, {"reason": "   "}, {"reason": "x" * 1001}])
def test_a_reason_is_required_and_nothing_changes_without_one(
    client: FlaskClient, tokens: Tokens, archive: Archive, archived: dict, body: dict
) -> None:
    response = client.put(
        _hold_path(archived["document_id"]), json=body, headers=Tokens.header(tokens.admin)
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["path"] == "reason"
    assert not any(archive.store.stat(key, vid).legal_hold for key, vid in _objects(archive))
    assert [e["outcome"] for e in _events(client, tokens, "legal_hold.set")] == ["refused"]


def test_a_body_that_is_not_an_object_is_malformed(
    client: FlaskClient, tokens: Tokens, archived: dict
) -> None:
    response = client.put(
        _hold_path(archived["document_id"]),
        data="[1]",
        content_type="application/json",
        headers=Tokens.header(tokens.admin),
    )
    assert response.status_code == 400


def test_other_roles_are_refused_and_the_refusal_is_audited(
    client: FlaskClient, tokens: Tokens, archive: Archive, archived: dict
) -> None:
    response = client.put(
        _hold_path(archived["document_id"]),
        json={"reason": REASON},
        headers=Tokens.header(tokens.inspector),
    )
    assert response.status_code == 403
    assert not any(archive.store.stat(key, vid).legal_hold for key, vid in _objects(archive))
    denied = _events(client, tokens, "legal_hold.set")
    assert [(e["outcome"], e["actor"]["role"]) for e in denied] == [("denied", "inspector")]


def test_an_unknown_version_is_not_found(
    client: FlaskClient, tokens: Tokens, archived: dict
) -> None:
    response = client.put(
        _hold_path(archived["document_id"], 7),
        json={"reason": REASON},
        headers=Tokens.header(tokens.admin),
    )
    assert response.status_code == 404
    assert response.get_json()["error"]["details"][0]["path"] == "version"


def test_an_unreachable_store_changes_nothing_and_is_audited(
    client: FlaskClient,
    tokens: Tokens,
    archive: Archive,
    archived: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unreachable(key: str, version_id: str, *, on: bool):  # type: ignore[no-untyped-def]
        raise StorageUnavailable("The S3 server cannot be reached; retrying later may succeed.")

    monkeypatch.setattr(archive.store, "set_legal_hold", unreachable)
    response = client.put(
        _hold_path(archived["document_id"]),
        json={"reason": REASON},
        headers=Tokens.header(tokens.admin),
    )
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "storage_unavailable"
    with archive.sessions() as session:
        assert session.scalars(select(DocumentVersion.legal_hold)).one() is False
    assert [e["outcome"] for e in _events(client, tokens, "legal_hold.set")] == ["failed"]


def test_cli_sets_lists_and_clears_holds(data_dir: Path, archive: Archive, archived: dict) -> None:
    document_id = archived["document_id"]
    env = {"ARCHIVE_DATA_DIR": str(data_dir), "ARCHIVE_RENDER_IN_PROCESS": "true"}
    runner = CliRunner()

    missing = runner.invoke(main, ["legal-hold", "set", document_id, "--version", "1"], env=env)
    assert missing.exit_code == 2 and "--reason" in missing.output

    held = runner.invoke(
        main,
        ["legal-hold", "set", document_id, "--version", "1", "--reason", REASON],
        env=env,
    )
    assert held.exit_code == 0, held.output
    assert f"document {document_id} version 1: HELD — {REASON}" in held.output
    assert all(archive.store.stat(key, vid).legal_hold for key, vid in _objects(archive))

    listed = runner.invoke(main, ["legal-hold", "list"], env=env)
    assert listed.exit_code == 0 and document_id in listed.output and REASON in listed.output

    cleared = runner.invoke(
        main,
        ["legal-hold", "clear", document_id, "--version", "1", "--reason", "знято"],
        env=env,
    )
    assert cleared.exit_code == 0, cleared.output
    assert "not held" in cleared.output
    assert (
        "no version is under legal hold"
        in runner.invoke(main, ["legal-hold", "list"], env=env).output
    )

    unknown = runner.invoke(
        main, ["legal-hold", "set", document_id, "--version", "9", "--reason", "x"], env=env
    )
    assert unknown.exit_code == 2 and "no version 9" in unknown.output
