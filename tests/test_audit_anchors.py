"""Audit anchors: the chain head timestamped by the TSA and kept in write-once storage, at least
every anchoring window while events arrive — so an insider with the database file and the
store's root credentials cannot quietly rewrite the log (embedded default: filesystem store,
the test PKI's TSA; the same attacks on real S3 servers are in tests/storage/test_audit_on_s3.py).

Nothing here waits for a clock: anchoring is driven by calling the job's step (or nudging the
job), "an hour later" is an injected clock in-process and libfaketime for the CLI.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive_service import audit
from archive_service.access import LOCAL_OPERATOR
from archive_service.audit.anchor_job import AnchorJob
from archive_service.audit.anchors import (
    CHECKPOINT_PREFIX,
    checkpoint_key,
    decode_anchor,
    encode_checkpoint,
)
from archive_service.cli import main
from archive_service.errors import ServiceUnavailable
from archive_service.pipeline import Archive, RequestContext
from archive_service.signing.digest_timestamps import check_digest_timestamp, timestamp_digest
from archive_service.signing.test_pki import TestPki
from archive_service.storage import FilesystemObjectStore
from tests.audit_support import (
    chain_head,
    events,
    faketime,
    fill,
    kinds,
    rewrite_and_rehash,
)
from tests.conftest import CLI
from tests.spawned import archive_in, run_processes

HOUR = dt.timedelta(hours=1)


def _anchor_keys(archive: Archive) -> list[str]:
    return [o.key for o in archive.store.iter_objects(CHECKPOINT_PREFIX)]


def _an_hour_later(archive: Archive) -> None:
    """The auditor verifies an hour after the events: all of them are older than the window."""
    assert archive.checkpoints is not None
    later = dt.datetime.now(dt.UTC) + HOUR
    archive.checkpoints.clock = lambda: later


def remove_anchor_files(data_dir: Path) -> list[str]:
    """What root does on the filesystem store: remove the anchors' files outright."""
    keys = []
    for part in ("objects", "manifests"):
        folder = data_dir / "objects" / part / "audit" / "checkpoints"
        if part == "objects":
            keys = sorted(f"{CHECKPOINT_PREFIX}{p.name}" for p in folder.iterdir())
        shutil.rmtree(folder)
    return keys


def _cli_later(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``archive-service ARGS`` in its own process, its clock an hour ahead."""
    env = {**os.environ, "ARCHIVE_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [*faketime("+1h"), *CLI, *args], env=env, capture_output=True, text=True, timeout=300
    )


# ------------------------------------------------------------------------------ anchoring


def test_a_tick_anchors_the_head_with_a_timestamp_over_its_hash(archive: Archive) -> None:
    assert archive.checkpoints is not None
    fill(archive, 3)
    head = chain_head(archive)

    anchored = archive.checkpoints.tick()

    assert anchored is not None and (anchored.seq, anchored.hash) == (head.seq, head.hash)
    (key,) = _anchor_keys(archive)
    assert key == checkpoint_key(head.seq, head.hash)
    stored = archive.store.stat(key)
    anchor = decode_anchor(archive.store.get(key, sha256=stored.sha256), key)
    assert anchor.token is not None
    roots = archive.sealing.trust_roots
    check = check_digest_timestamp(anchor.token, bytes.fromhex(head.hash), roots)
    assert check.valid and check.authority and "TSA" in check.authority
    assert stored.identity == {"kind": "audit-anchor", "seq": str(head.seq), "head": head.hash}

    assert archive.checkpoints.tick() is None  # nothing appended since: an idle process waits
    assert _anchor_keys(archive) == [key]


def test_every_event_older_than_the_window_must_be_anchored(archive: Archive) -> None:
    assert archive.checkpoints is not None
    fill(archive, 4)
    archive.checkpoints.tick()
    fill(archive, 3)
    assert archive.verify_audit_chain().intact  # the last three are still inside the window

    _an_hour_later(archive)
    report = archive.verify_audit_chain()
    assert kinds(report) == [(5, "unanchored")]
    assert "events #5–#7" in report.problems[0].message

    archive.checkpoints.tick()
    assert archive.verify_audit_chain().intact


def test_the_job_anchors_on_start_while_events_arrive_and_on_stop(archive: Archive) -> None:
    """Driven without a clock: nudge() runs a step now, wait_for_steps() returns after it."""
    assert archive.checkpoints is not None
    fill(archive, 2)  # left by a process that was killed before anchoring
    job = AnchorJob(archive.checkpoints).start()
    try:
        assert job.wait_for_steps(1)
        assert _anchor_keys(archive) == [checkpoint_key(2, chain_head(archive).hash)]

        fill(archive, 3)
        job.nudge()
        assert job.wait_for_steps(2)
        assert _anchor_keys(archive)[-1] == checkpoint_key(5, chain_head(archive).hash)

        job.nudge()
        assert job.wait_for_steps(3)
        assert len(_anchor_keys(archive)) == 2  # idle: nothing new to anchor
        fill(archive, 1)
    finally:
        job.stop()
    assert _anchor_keys(archive)[-1] == checkpoint_key(6, chain_head(archive).hash)


def test_the_cli_anchors_inline_once_the_window_has_passed(archive: Archive) -> None:
    assert archive.checkpoints is not None
    now = [1000.0]
    archive.checkpoints.monotonic = lambda: now[0]
    archive.checkpoints._last_anchor = 1000.0
    archive.checkpoints.anchor_inline = True

    now[0] = 1010.0
    fill(archive, 1)  # 10 s after the last anchor: not due
    assert _anchor_keys(archive) == []
    now[0] = 1061.0
    fill(archive, 1)  # 61 s: due
    assert _anchor_keys(archive) == [checkpoint_key(2, chain_head(archive).hash)]
    now[0] = 1062.0
    fill(archive, 1)  # the window starts again at the anchor
    assert len(_anchor_keys(archive)) == 1


def test_a_cli_command_that_appends_events_anchors_them_when_it_ends(
    archive: Archive, run_cli
) -> None:  # type: ignore[no-untyped-def]
    created = run_cli("tokens", "create", "--role", "inspector")
    assert created.exit_code == 0, created.output
    head = chain_head(archive)
    assert head.seq == 1
    assert _anchor_keys(archive) == [checkpoint_key(1, head.hash)]


def test_without_a_tsa_nothing_is_anchored_and_verification_says_so(archive: Archive) -> None:
    assert archive.checkpoints is not None
    archive.checkpoints.timestamper = None
    fill(archive, 2)
    with pytest.raises(ServiceUnavailable, match="ARCHIVE_TSA_URL"):
        archive.checkpoints.write()
    archive.checkpoints.tick_best_effort()  # logged, not raised
    assert _anchor_keys(archive) == []
    _an_hour_later(archive)
    assert kinds(archive.verify_audit_chain()) == [(1, "unanchored")]


def append_and_anchor(data_dir: Path, writer: int, start) -> None:  # type: ignore[no-untyped-def]
    """Runs in a spawned process: appends events and anchors after every few of them."""
    archive = archive_in(data_dir, audit_checkpoint_every=0)
    assert archive.checkpoints is not None
    ctx = RequestContext(actor=LOCAL_OPERATOR, client_address=f"process-{writer}")
    start.wait(timeout=60)
    for i in range(24):
        archive.record(ctx, "test_event", "ok", {"writer": writer, "i": i})
        if i % 4 == 3:
            archive.checkpoints.tick()
    archive.checkpoints.write()  # every process anchors the same final head at once


def test_processes_anchoring_at_once_never_fork_or_duplicate_the_chain(data_dir: Path) -> None:
    archive = archive_in(data_dir, audit_checkpoint_every=0)
    run_processes(append_and_anchor, data_dir, 3)

    report = archive.verify_audit_chain()
    assert report.intact, report.problems
    assert report.events == report.head_seq == 72
    assert report.last_checkpoint is not None and report.last_checkpoint.seq == 72
    heads = [key.removeprefix(CHECKPOINT_PREFIX)[:77] for key in _anchor_keys(archive)]
    # Anchors of one head by two processes are harmless; each names a head of the one chain.
    chain = {event.seq: event.hash for event in events(archive)}
    assert all(chain[int(head[:12])] == head[13:] for head in heads)


# ------------------------------------------------------------------------------ attacks


def test_rewriting_anchored_events_is_found_even_rehashed(archive: Archive, data_dir: Path) -> None:
    assert archive.checkpoints is not None
    fill(archive, 6)
    archive.checkpoints.tick()
    fill(archive, 2)
    archive.checkpoints.tick()

    rewrite_and_rehash(archive, 2)
    _an_hour_later(archive)

    assert kinds(archive.verify_audit_chain()) == [
        (1, "unanchored"),  # no anchor matches the rewritten log any more
        (6, "rewritten_before_checkpoint"),
    ]
    verified = _cli_later(data_dir, "audit", "verify")
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert "event 6: rewritten_before_checkpoint" in verified.stdout


def test_removing_every_anchor_and_rehashing_is_found(archive: Archive, data_dir: Path) -> None:
    """The filesystem store has no delete markers: root removes the files outright. The events
    older than the window then have no anchor, which verification and reconcile both report."""
    assert archive.checkpoints is not None
    fill(archive, 5)
    archive.checkpoints.tick()
    fill(archive, 2)
    archive.checkpoints.tick()
    assert len(remove_anchor_files(data_dir)) == 2
    rewrite_and_rehash(archive, 3)

    assert archive.verify_audit_chain().intact  # inside the window nothing can be told yet
    _an_hour_later(archive)
    assert kinds(archive.verify_audit_chain()) == [(1, "unanchored")]

    verified = _cli_later(data_dir, "audit", "verify")
    assert verified.returncode == 1, verified.stdout + verified.stderr
    assert "checkpoints: 0" in verified.stdout
    assert "event 1: unanchored — events #1–#7 are older than the anchoring window" in (
        verified.stdout
    )
    reconciled = _cli_later(data_dir, "reconcile", "--json")
    assert reconciled.returncode == 2, reconciled.stdout + reconciled.stderr
    unanchored = json.loads(reconciled.stdout)["unanchored_audit_events"]
    assert (unanchored["first_seq"], unanchored["last_seq"]) == (1, 7)
    text = _cli_later(data_dir, "reconcile")
    assert "SERIOUS: audit events #1–#7" in text.stdout


def _forge(data_dir: Path, head: audit.Checkpoint, token: bytes | None) -> str:
    """Root writes a checkpoint object with the store's own code, straight into its folder."""
    import hashlib

    key = checkpoint_key(head.seq, head.hash)
    data = encode_checkpoint(head, token)
    FilesystemObjectStore(data_dir / "objects").put(
        key,
        data,
        sha256=hashlib.sha256(data).hexdigest(),
        content_type="application/json",
        retain_until=dt.datetime.now(dt.UTC) + dt.timedelta(days=3650),
    )
    return key


@pytest.mark.parametrize("forgery", ["no token", "token over another hash", "untrusted TSA"])
def test_a_forged_anchor_is_found(
    archive: Archive, data_dir: Path, tmp_path: Path, forgery: str
) -> None:
    """The insider rewrites the chain, removes the real anchors and writes one that matches the
    rewritten head: without a valid TSA token over that head it proves nothing."""
    assert archive.checkpoints is not None
    fill(archive, 5)
    genuine = archive.checkpoints.tick()
    assert genuine is not None
    genuine_key = checkpoint_key(genuine.seq, genuine.hash)
    stored = archive.store.stat(genuine_key)
    genuine_token = decode_anchor(
        archive.store.get(genuine_key, sha256=stored.sha256), genuine_key
    ).token
    remove_anchor_files(data_dir)
    rewrite_and_rehash(archive, 2)
    head = chain_head(archive)
    token = {
        "no token": None,
        "token over another hash": genuine_token,
        "untrusted TSA": timestamp_digest(
            TestPki.load_or_create(tmp_path / "other-pki").timestamper(), bytes.fromhex(head.hash)
        ),
    }[forgery]
    key = _forge(data_dir, head, token)

    report = archive.verify_audit_chain()
    assert kinds(report) == [(5, "forged_anchor")]
    assert key in report.problems[0].message
    _an_hour_later(archive)
    assert kinds(archive.verify_audit_chain()) == [(1, "unanchored"), (5, "forged_anchor")]

    verified = CliRunner().invoke(
        main, ["audit", "verify"], env={"ARCHIVE_DATA_DIR": str(data_dir)}
    )
    assert verified.exit_code == 1
    assert f"event 5: forged_anchor — {key}" in verified.output


def test_an_anchor_copied_from_another_deployment_does_not_count(
    archive: Archive, data_dir: Path
) -> None:
    """A v1 checkpoint (no token) that agrees with the chain is still no anchor."""
    fill(archive, 3)
    _forge(data_dir, chain_head(archive), None)
    _an_hour_later(archive)
    assert kinds(archive.verify_audit_chain()) == [(1, "unanchored"), (3, "forged_anchor")]
