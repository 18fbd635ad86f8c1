"""Concurrent uploads of one export: one version, every answer audited, reconcile clean.

Each upload of a journal not yet archived renders, signs and stores under a document id of its
own before it records; the first to record wins. The others answer 200 with the winner's
version (audited as ``upload``/``duplicate``, naming the objects they left behind), and
reconcile lists those objects as harmless duplicates of the recorded export — their write-once
identity names it — so it ends clean (exit 0).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections import Counter
from pathlib import Path

import requests
from click.testing import CliRunner
from flask.testing import FlaskClient

from archive_service.cli import main
from archive_service.pipeline import Archive
from archive_service.reconcile import Severity
from tests.conftest import CLI, JSON_EXAMPLE, Tokens, cli_token, serving, upload

UPLOADS = 20


def _upload_events(archive: Archive) -> list[dict]:
    from archive_service.access import LOCAL_OPERATOR
    from archive_service.pipeline import AuditFilter, RequestContext

    ctx = RequestContext(actor=LOCAL_OPERATOR, client_address="test")
    return archive.audit_events(AuditFilter(action="upload"), ctx)


def test_a_lost_race_answers_with_the_winner_and_leaves_only_known_duplicates(
    client: FlaskClient, tokens: Tokens, archive: Archive, data_dir: Path
) -> None:
    """Deterministic: a second upload of the same export records while the first is signed."""
    answers: list = []

    def race(stage: str, _seconds: float) -> None:
        if stage == "sign" and not answers:
            answers.append(None)  # only once: the inner upload passes here too
            answers.append(upload(client, tokens.archivist))

    archive.on_stage = race
    loser = upload(client, tokens.archivist)
    archive.on_stage = None
    winner = answers[1]

    assert (winner.status_code, loser.status_code) == (201, 200), loser.get_json()
    assert loser.get_json()["document_id"] == winner.get_json()["document_id"]
    assert loser.get_json()["version"] == winner.get_json()["version"] == 1
    assert loser.get_json()["created"] is False

    events = _upload_events(archive)
    assert sorted(e["outcome"] for e in events) == ["accepted", "duplicate"]
    [duplicate] = [e for e in events if e["outcome"] == "duplicate"]
    assert duplicate["document_id"] == winner.get_json()["document_id"]
    assert duplicate["detail"]["race"] == "lost"
    leftovers = duplicate["detail"]["leftover_object_keys"]
    assert len(leftovers) == 2  # its own export and PDF, under a document id never recorded

    report = archive.reconcile()
    assert report.severity is Severity.CLEAN
    assert sorted(o.key for o in report.orphans) == sorted(leftovers)
    assert {o.duplicate_of for o in report.orphans} == {(winner.get_json()["document_id"], 1)}
    result = CliRunner().invoke(
        main,
        ["reconcile"],
        env={"ARCHIVE_DATA_DIR": str(data_dir), "ARCHIVE_RENDER_IN_PROCESS": "true"},
    )
    assert result.exit_code == 0, result.output
    assert "2 duplicate object(s)" in result.output


def test_twenty_simultaneous_uploads_through_a_real_server(data_dir: Path) -> None:
    with serving(data_dir) as (base, env):
        archivist = cli_token(env, "--role", "archivist", "--institution", "26453182")
        admin = cli_token(env, "--role", "admin")
        start = threading.Barrier(UPLOADS)
        answers: list[requests.Response] = []
        lock = threading.Lock()

        def post() -> None:
            start.wait()
            response = requests.post(
                f"{base}/api/v1/journals",
                data=JSON_EXAMPLE,
                headers={**Tokens.header(archivist), "Content-Type": "application/json"},
                timeout=600,
            )
            with lock:
                answers.append(response)

        threads = [threading.Thread(target=post) for _ in range(UPLOADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        statuses = Counter(a.status_code for a in answers)
        assert statuses == {201: 1, 200: UPLOADS - 1}, [a.text[:300] for a in answers]
        assert len({(a.json()["document_id"], a.json()["version"]) for a in answers}) == 1
        document_id = answers[0].json()["document_id"]

        documents = requests.get(
            f"{base}/api/v1/documents", headers=Tokens.header(admin), timeout=30
        ).json()["items"]
        assert [d["document_id"] for d in documents] == [document_id]
        detail = requests.get(
            f"{base}/api/v1/documents/{document_id}", headers=Tokens.header(admin), timeout=30
        ).json()
        assert len(detail["versions"]) == 1

        events = requests.get(
            f"{base}/api/v1/audit?action=upload&limit=100",
            headers=Tokens.header(admin),
            timeout=30,
        ).json()["items"]
        assert Counter(e["outcome"] for e in events) == {"accepted": 1, "duplicate": UPLOADS - 1}
        assert {e["document_id"] for e in events} == {document_id}

        reconciled = subprocess.run(
            [*CLI, "reconcile", "--json"], env=env, capture_output=True, text=True, timeout=300
        )
        report = json.loads(reconciled.stdout)
        assert reconciled.returncode == 0, reconciled.stdout + reconciled.stderr
        assert report["stale_rows"] == [] and report["incomplete"] == []
        assert all(o["superseded"] for o in report["orphans"])
