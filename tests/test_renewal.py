"""``Archive.renew_timestamps`` / ``archive-service retimestamp`` across a simulated TSA expiry.

Test PKI lifetimes: seal 3 years, first TSA 6, renewal TSA 14. ``DUE`` (7 years ahead) lies
after the first TSA's certificate expires, so every version signed today is due; ``AFTER_TSA1``
(12 years) is a moment when only the renewal TSA's certificate is still valid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from archive_service import create_app
from archive_service.access import LOCAL_OPERATOR
from archive_service.cli import main
from archive_service.db import AuditEvent, DocumentVersion
from archive_service.pipeline import Archive, AuditFilter, RequestContext
from archive_service.signing import validate_pdf
from archive_service.storage import StorageUnavailable
from tests.conftest import EXAMPLES, Tokens, upload

CTX = RequestContext(actor=LOCAL_OPERATOR, client_address="test")
NOW = dt.datetime.now(dt.UTC)
DUE = NOW + dt.timedelta(days=7 * 366)
AFTER_TSA1 = NOW + dt.timedelta(days=12 * 366)


def _archive_at(data_dir: Path, level: str) -> Archive:
    """Another archive on the same database, store and PKI, sealing at ``level``."""
    app = create_app({"data_dir": data_dir, "render_in_process": True, "signature_level": level})
    return app.extensions["archive"]


def _ingest(archive: Archive, example: str) -> str:
    data = (EXAMPLES / example).read_bytes()
    return archive.ingest(data, "application/json", CTX).document["document_id"]


@pytest.fixture
def documents(archive: Archive, data_dir: Path) -> dict[str, str]:
    """Level → document id: 7-Б sealed B-LTA (the default), 2-А sealed B-T."""
    return {
        "B-LTA": _ingest(archive, "journal-7b.json"),
        "B-T": _ingest(_archive_at(data_dir, "B-T"), "journal-2a.json"),
    }


def _versions(archive: Archive, document_id: str) -> list[dict]:
    return archive.get_document(document_id, CTX)["versions"]


def _renew_events(archive: Archive) -> list[dict]:
    return archive.audit_events(AuditFilter(action="renew"), CTX)


def _pdf(archive: Archive, document_id: str, version: int | None = None) -> bytes:
    return archive.retrieve(document_id, version, "pdf", CTX).data


@pytest.mark.parametrize("level", ["B-LTA", "B-T"])
def test_a_renewed_version_outlives_the_first_tsa_and_the_old_one_stays(
    archive: Archive, documents: dict[str, str], level: str
) -> None:
    document_id = documents[level]
    (before,) = _versions(archive, document_id)
    old_pdf = _pdf(archive, document_id, 1)

    report = archive.renew_timestamps(DUE, ctx=CTX)

    assert report.ok and report.renewed == 2, [i.as_dict() for i in report.items]
    old, new = _versions(archive, document_id)
    assert old == before  # the renewed version's record is untouched
    assert (new["version"], new["renews"], new["supersedes"]) == (2, 1, 1)
    assert new["signature_level"] == "B-LTA" and old["signature_level"] == level
    assert new["source"] == old["source"]  # the same export, shared
    assert new["retain_until"] == old["retain_until"]
    assert new["signer"] == old["signer"] and new["signed_at"] == old["signed_at"]
    assert dt.datetime.fromisoformat(new["timestamp_expires_at"]) > AFTER_TSA1
    assert dt.datetime.fromisoformat(old["timestamp_expires_at"]) < DUE

    current = _pdf(archive, document_id)  # the renewal is what downloads get by default
    assert hashlib.sha256(current).hexdigest() == new["sha256"]
    assert current.startswith(old_pdf)
    renewed_report = validate_pdf(current, archive.sealing.trust_roots, at=AFTER_TSA1)
    assert renewed_report.all_valid, renewed_report.signatures[0].summary
    assert renewed_report.signatures[0].level == "B-LTA"
    assert not validate_pdf(old_pdf, archive.sealing.trust_roots, at=AFTER_TSA1).all_valid
    assert _pdf(archive, document_id, 1) == old_pdf  # still there, unchanged
    assert archive.retrieve(document_id, 2, "source", CTX).data == (
        archive.retrieve(document_id, 1, "source", CTX).data
    )

    (event,) = [e for e in _renew_events(archive) if e["document_id"] == document_id]
    assert (event["outcome"], event["version"], event["sha256"]) == ("ok", 2, new["sha256"])
    assert event["detail"]["renews"] == 1 and event["detail"]["new_version"] == 2
    assert event["detail"]["level_before"] == level
    assert archive.verify_audit_chain().intact


def test_a_second_run_renews_nothing(archive: Archive, documents: dict[str, str]) -> None:
    assert archive.renew_timestamps(DUE, ctx=CTX).renewed == 2
    again = archive.renew_timestamps(DUE, ctx=CTX)
    assert (again.examined, again.items) == (0, ())
    assert all(len(_versions(archive, d)) == 2 for d in documents.values())


def test_a_b_lta_version_not_yet_due_is_left_alone(
    archive: Archive, documents: dict[str, str]
) -> None:
    """Before the first TSA expires only the B-T version is due (below B-LTA is always due)."""
    report = archive.renew_timestamps(NOW + dt.timedelta(days=366), ctx=CTX)
    assert [(i.document_id, i.status) for i in report.items] == [(documents["B-T"], "renewed")]
    assert len(_versions(archive, documents["B-LTA"])) == 1


def test_a_version_recorded_without_a_date_is_judged_by_its_pdf(
    archive: Archive, documents: dict[str, str]
) -> None:
    """Versions archived before migration 0003 have no date: the PDF says when they are due."""
    with archive.sessions.begin() as session:
        session.execute(update(DocumentVersion).values(timestamp_expires_at=None))
    early = archive.renew_timestamps(NOW + dt.timedelta(days=366), dry_run=True, ctx=CTX)
    assert [i.document_id for i in early.items] == [documents["B-T"]]
    due = archive.renew_timestamps(DUE, dry_run=True, ctx=CTX)
    assert {i.document_id for i in due.items} == set(documents.values())
    assert all(i.timestamp_expired_at is not None for i in due.items)


def test_a_dry_run_changes_nothing(archive: Archive, documents: dict[str, str]) -> None:
    def head() -> int | None:
        with archive.reader() as session:
            return session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()))

    events_before = head()
    objects_before = sorted(o.key for o in archive.store.iter_objects("journals/"))

    report = archive.renew_timestamps(DUE, ctx=CTX, dry_run=True)

    assert head() == events_before  # not even an audit event
    assert sorted(o.key for o in archive.store.iter_objects("journals/")) == objects_before
    assert sorted(i.status for i in report.items) == ["due", "due"]
    assert report.ok and report.renewed == 0
    assert all(len(_versions(archive, d)) == 1 for d in documents.values())


def test_a_store_failure_leaves_no_row_and_the_run_goes_on(
    archive: Archive, documents: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = documents["B-LTA"]
    real_put = archive.store.put

    def put(key: str, data: bytes, **kwargs):  # type: ignore[no-untyped-def]
        if failing in key:
            raise StorageUnavailable("the store went away")
        return real_put(key, data, **kwargs)

    monkeypatch.setattr(archive.store, "put", put)
    report = archive.renew_timestamps(DUE, ctx=CTX)

    by_document = {i.document_id: i for i in report.items}
    assert by_document[failing].status == "failed"
    assert by_document[failing].error == "storage_unavailable"
    assert by_document[documents["B-T"]].status == "renewed"
    assert not report.ok
    assert len(_versions(archive, failing)) == 1
    failed = [e for e in _renew_events(archive) if e["outcome"] == "failed"]
    assert [(e["document_id"], e["version"]) for e in failed] == [(failing, 1)]

    monkeypatch.setattr(archive.store, "put", real_put)
    retry = archive.renew_timestamps(DUE, ctx=CTX)
    assert [(i.document_id, i.status) for i in retry.items] == [(failing, "renewed")]


def test_a_failed_record_leaves_only_an_orphan(
    archive: Archive, documents: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects first, then the row: a crash before the commit leaves no half-recorded renewal."""

    def crash() -> None:
        raise StorageUnavailable("crash between the object write and the commit")

    monkeypatch.setattr(archive, "before_record", crash)
    report = archive.renew_timestamps(DUE, ctx=CTX)
    assert report.failed == 2
    assert all(len(_versions(archive, d)) == 1 for d in documents.values())
    assert {o.names_version[1] for o in archive.reconcile().orphans} == {2}  # type: ignore[index]


def test_uploading_the_renewed_export_again_answers_with_the_existing_version(
    app: Flask, client: FlaskClient, tokens: Tokens, archived: dict
) -> None:
    archive: Archive = app.extensions["archive"]
    assert archive.renew_timestamps(DUE, ctx=CTX).renewed == 1
    again = upload(client, tokens.archivist)
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["version"] == 1 and again.get_json()["created"] is False
    document = client.get(
        f"/api/v1/documents/{archived['document_id']}", headers=Tokens.header(tokens.admin)
    ).get_json()
    assert [(v["version"], v["renews"]) for v in document["versions"]] == [(1, None), (2, 1)]
    assert document["latest_version"] == 2


def test_only_admin_and_job_may_renew(archive: Archive, tokens: Tokens) -> None:
    from archive_service.access import Role
    from archive_service.errors import Forbidden
    from archive_service.pipeline import Actor

    for role in (Role.ARCHIVIST, Role.INSPECTOR):
        actor = Actor(token_id="t", name="n", role=role, institution=None)
        with pytest.raises(Forbidden):
            archive.renew_timestamps(DUE, ctx=RequestContext(actor=actor))
    denied = archive.audit_events(AuditFilter(action="renew"), CTX)
    assert [e["outcome"] for e in denied] == ["denied", "denied"]


def test_cli_renews_reports_and_exits_by_outcome(data_dir: Path, documents: dict[str, str]) -> None:
    env = {"ARCHIVE_DATA_DIR": str(data_dir), "ARCHIVE_RENDER_IN_PROCESS": "true"}
    runner = CliRunner()
    due = DUE.date().isoformat()

    dry = runner.invoke(main, ["retimestamp", "--due-before", due, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "2 version(s) due before" in dry.stdout and "2 would be renewed, 0 failed" in dry.stdout
    assert dry.stderr.count(": due") == 2

    done = runner.invoke(main, ["retimestamp", "--due-before", due, "--json"], env=env)
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert (summary["due"], summary["renewed"], summary["failed"]) == (2, 2, 0)
    assert {i["document_id"] for i in summary["items"]} == set(documents.values())
    assert done.stderr.count("renewed as version 2 (B-LTA") == 2

    again = runner.invoke(main, ["retimestamp", "--due-before", due], env=env)
    assert again.exit_code == 0 and "0 version(s) due" in again.stdout

    bad = runner.invoke(main, ["retimestamp", "--due-before", "someday"], env=env)
    assert bad.exit_code == 2


def test_cli_exits_1_when_a_version_cannot_be_kept_alive(data_dir: Path) -> None:
    """B-B has no signature timestamp: it is reported as not renewable, with the reason."""
    document_id = _ingest(_archive_at(data_dir, "B-B"), "journal-2a.json")
    env = {"ARCHIVE_DATA_DIR": str(data_dir), "ARCHIVE_RENDER_IN_PROCESS": "true"}
    result = CliRunner().invoke(
        main, ["retimestamp", "--due-before", DUE.date().isoformat()], env=env
    )
    assert result.exit_code == 1, result.output
    assert f"document {document_id} version 1 (B-B, no timestamp): FAILED (not_renewable)" in (
        result.stderr
    )
    assert "0 renewed, 1 failed" in result.stdout
