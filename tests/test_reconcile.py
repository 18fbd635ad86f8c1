"""Invariant 2 under a real crash: orphans, never rows without objects, and reconcile finds both.

The crash is real: a child process ingests with the service's own code on files (SQLite or the
test's PostgreSQL database, the filesystem store) and kills itself with SIGKILL between the object
writes and the database commit, so no ``finally``, rollback or exit handler runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from archive_service import create_app
from archive_service.access import LOCAL_OPERATOR
from archive_service.cli import main
from archive_service.db import Document, DocumentVersion
from archive_service.pipeline import Archive, RequestContext
from archive_service.reconcile import Severity
from tests.conftest import EXAMPLES, REPO

EXPORT = EXAMPLES / "journal-7b.json"
CLI_CONTEXT = RequestContext(actor=LOCAL_OPERATOR, client_address="test")

#: Ingests the export and dies by SIGKILL right after the objects are stored.
CRASHING_INGEST = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path

    from archive_service.access import LOCAL_OPERATOR
    from archive_service.config import load_settings
    from archive_service.factory import build_archive
    from archive_service.pipeline import RequestContext

    archive = build_archive(load_settings())
    archive.before_record = lambda: os.kill(os.getpid(), signal.SIGKILL)
    archive.ingest(
        Path(sys.argv[1]).read_bytes(),
        "application/json",
        RequestContext(actor=LOCAL_OPERATOR, client_address="crash test"),
    )
    print("the process survived the commit point", flush=True)
    """
)


def _env(data_dir: Path) -> dict[str, str]:
    return {"ARCHIVE_DATA_DIR": str(data_dir), "ARCHIVE_RENDER_IN_PROCESS": "true"}


def _journal_objects(archive: Archive) -> dict[str, str]:
    """key → sha256 of every version object (audit checkpoints left out)."""
    return {o.key: o.sha256 for o in archive.store.iter_objects("journals/")}


def _reconcile_cli(data_dir: Path) -> tuple[int, dict]:
    result = CliRunner().invoke(main, ["reconcile", "--json"], env=_env(data_dir))
    return result.exit_code, json.loads(result.stdout)


@pytest.fixture
def crashed(data_dir: Path) -> Path:
    """The data folder after an ingest was killed between the object writes and the commit."""
    child = subprocess.run(
        [sys.executable, "-c", CRASHING_INGEST, str(EXPORT)],
        env={**os.environ, **_env(data_dir)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    return data_dir


def test_a_killed_ingest_leaves_orphans_that_reconcile_lists_and_a_retry_reuses(
    crashed: Path,
) -> None:
    archive: Archive = create_app({"data_dir": crashed, "render_in_process": True}).extensions[
        "archive"
    ]
    with archive.reader() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 0
        assert session.scalar(select(func.count()).select_from(DocumentVersion)) == 0
    orphans = _journal_objects(archive)
    assert len(orphans) == 2  # the export and the signed PDF, nothing else

    report = archive.reconcile()
    assert {o.key for o in report.orphans} == set(orphans)
    assert not any(o.superseded for o in report.orphans)
    assert report.stale_rows == () and report.incomplete == ()
    assert report.severity is Severity.ATTENTION
    exit_code, as_json = _reconcile_cli(crashed)
    assert exit_code == 1
    assert {o["key"] for o in as_json["orphans"]} == set(orphans)

    result = archive.ingest(EXPORT.read_bytes(), "application/json", CLI_CONTEXT)
    assert result.created
    with archive.reader() as session:
        row = session.scalars(select(DocumentVersion)).one()
        source_key, pdf_key = row.source_object_key, row.object_key
    assert source_key in orphans  # the stored export was adopted, not written again
    after = _journal_objects(archive)
    assert [k for k in after if "/source-" in k] == [source_key]
    # The PDF is signed anew (a signature carries its time): the old one is a leftover only.
    assert set(after) == set(orphans) | {pdf_key}

    report = archive.reconcile()
    assert report.severity is Severity.CLEAN
    assert [(o.key, o.superseded) for o in report.orphans] == [
        (k, True) for k in orphans if k != source_key
    ]
    assert _reconcile_cli(crashed)[0] == 0


def _one_version(archive: Archive) -> DocumentVersion:
    with archive.reader() as session:
        return session.scalars(select(DocumentVersion)).one()


def test_a_row_whose_object_is_missing_is_a_serious_stale_row(
    data_dir: Path, archive: Archive, archived: dict
) -> None:
    version = _one_version(archive)
    missing_key = version.object_key.replace("/journal-", "/journal-missing-")
    with archive.sessions.begin() as session:
        session.execute(
            update(DocumentVersion)
            .where(DocumentVersion.id == version.id)
            .values(object_key=missing_key)
        )
    report = archive.reconcile()
    assert [(r.part, r.key, r.problem) for r in report.stale_rows] == [
        ("pdf", missing_key, "the object is missing from the store")
    ]
    assert report.severity is Severity.SERIOUS
    exit_code, as_json = _reconcile_cli(data_dir)
    assert exit_code == 2
    assert as_json["stale_rows"][0]["document_id"] == archived["document_id"]
    text = CliRunner().invoke(main, ["reconcile"], env=_env(data_dir))
    assert text.exit_code == 2 and "SERIOUS" in text.output and missing_key in text.output


def test_a_row_whose_recorded_hash_differs_is_a_stale_row(archive: Archive, archived: dict) -> None:
    version = _one_version(archive)
    with archive.sessions.begin() as session:
        session.execute(
            update(DocumentVersion)
            .where(DocumentVersion.id == version.id)
            .values(source_sha256="0" * 64)
        )
    report = archive.reconcile()
    # The export's object no longer matches its hash; the PDF names the export it was rendered
    # from (its identity), so it no longer belongs to this row either.
    assert [(r.part, r.key) for r in report.stale_rows] == [
        ("pdf", version.object_key),
        ("source", version.source_object_key),
    ]
    assert "export-sha256" in report.stale_rows[0].problem
    assert "SHA-256" in report.stale_rows[1].problem


def test_a_consistent_archive_is_clean_and_checkpoints_are_not_orphans(
    data_dir: Path, archive: Archive, archived: dict
) -> None:
    assert archive.write_audit_checkpoint() is not None
    report = archive.reconcile()
    assert report.severity is Severity.CLEAN
    assert (report.orphans, report.stale_rows, report.checkpoints) == ((), (), 1)
    assert report.recorded_objects == 2 and report.objects == 3
    text = CliRunner().invoke(main, ["reconcile"], env=_env(data_dir))
    assert text.exit_code == 0 and "clean" in text.output


def test_progress_is_reported_while_listing(
    archive: Archive, archived: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("archive_service.reconcile.PROGRESS_EVERY", 1)
    seen: list[int] = []
    archive.reconcile(seen.append)
    assert seen == [1, 2]
