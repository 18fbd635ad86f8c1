"""A real `archive-service serve` killed with SIGKILL: its last audit events were never anchored
(no exit handler runs), and the next start anchors the head it finds, closing the window.

The anchoring job's interval is an hour here, so no tick can run during the test: every anchor
seen is the start-up one. The clock an hour later comes from libfaketime.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from archive_service.audit.anchors import CHECKPOINT_PREFIX, checkpoint_key
from archive_service.storage import FilesystemObjectStore
from tests.audit_support import faketime
from tests.conftest import CLI, _free_port, serving, wait_until_ready

pytestmark = pytest.mark.live

#: No anchoring tick during a test: only start-up, exit and on-demand anchors happen.
NO_TICKS = {"ARCHIVE_AUDIT_ANCHOR_SECONDS": "3600"}


def _anchored_seqs(data_dir: Path) -> list[int]:
    store = FilesystemObjectStore(data_dir / "objects")
    listed = store.iter_objects(CHECKPOINT_PREFIX)
    return [int(o.key.removeprefix(CHECKPOINT_PREFIX)[:12]) for o in listed]


def _verify_an_hour_later(data_dir: Path) -> subprocess.CompletedProcess[str]:
    """The auditor's `audit verify`, with the default window, an hour after the events."""
    env = {**os.environ, "ARCHIVE_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [*faketime("+1h"), *CLI, "audit", "verify"], env=env, capture_output=True, text=True
    )


def _head(env: dict[str, str]) -> tuple[int, str]:
    verified = subprocess.run([*CLI, "audit", "verify"], env=env, capture_output=True, text=True)
    match = re.search(r"head #(\d+) ([0-9a-f]{64})", verified.stdout)
    assert match, verified.stdout + verified.stderr
    return int(match.group(1)), match.group(2)


def _refused_requests(base: str, count: int) -> None:
    """Each 401 is an audited `authenticate`/`denied` event."""
    for _ in range(count):
        assert requests.get(f"{base}/api/v1/documents", timeout=30).status_code == 401


def test_a_server_killed_before_anchoring_is_anchored_when_it_starts_again(
    data_dir: Path,
) -> None:
    env = {**os.environ, "ARCHIVE_DATA_DIR": str(data_dir), **NO_TICKS}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = data_dir / "killed-server.log"
    with log.open("wb") as output:
        # Its own session, so the master and its worker can be killed together by group id.
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_until_ready(base, process, log)
            _refused_requests(base, 5)
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    head_seq, head_hash = _head(env)
    assert head_seq == 5
    assert _anchored_seqs(data_dir) == []  # killed: nothing anchored its events
    later = _verify_an_hour_later(data_dir)
    assert later.returncode == 1, later.stdout + later.stderr
    assert "event 1: unanchored — events #1–#5" in later.stdout

    with serving(data_dir, extra_env=NO_TICKS):
        store = FilesystemObjectStore(data_dir / "objects")
        assert store.exists(checkpoint_key(head_seq, head_hash))  # before the first request
        verified = _verify_an_hour_later(data_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "checkpoints: 1, latest at #5" in verified.stdout
    assert "chain intact" in verified.stdout


def test_a_worker_killed_before_anchoring_is_anchored_by_its_replacement(
    data_dir: Path,
) -> None:
    """gunicorn's master replaces a killed worker; the new worker anchors the head at boot."""
    # One worker: a second one booting after the requests would anchor them itself, and the
    # test would prove nothing about the replacement (and fail on a busy machine).
    with serving(data_dir, extra_env=NO_TICKS, options=["--workers", "1"]) as (base, env):
        _refused_requests(base, 4)
        head_seq, head_hash = _head(env)
        assert head_seq == 4 and _anchored_seqs(data_dir) == []
        (log_path,) = data_dir.glob("server-*.log")
        booted = re.findall(r"Booting worker with pid: (\d+)", log_path.read_text())
        assert len(booted) == 1, booted
        os.kill(int(booted[0]), signal.SIGKILL)

        key = checkpoint_key(head_seq, head_hash)
        store = FilesystemObjectStore(data_dir / "objects")
        for _ in range(600):  # bounded poll for the replacement's start-up anchor
            if store.exists(key):
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"no anchor of #{head_seq}: {log_path.read_text(errors='replace')}")
        assert len(re.findall(r"Booting worker", log_path.read_text())) == 2
