"""Several processes writing to one archive: each is spawned fresh and builds its own."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from archive_service.config import load_settings
from archive_service.factory import build_archive
from archive_service.pipeline import Archive

#: ``target(data_dir, n, start)``: process ``n`` of the run; it waits for ``start`` to begin.
Writer = Callable[[Path, int, multiprocessing.synchronize.Event], None]


def archive_in(data_dir: Path, **overrides: Any) -> Archive:
    """The archive in ``data_dir``; only the database comes from the environment (the test's
    own PostgreSQL database when the suite runs there), so spawned writers share it too."""
    return build_archive(
        load_settings(
            environ={k: v for k, v in os.environ.items() if k == "ARCHIVE_DATABASE_URL"},
            overrides={"data_dir": data_dir, "render_in_process": True, **overrides},
        )
    )


def run_processes(target: Writer, data_dir: Path, count: int) -> None:
    """Start ``count`` spawned processes, release them at once, and require each to succeed.

    Build the archive in the test first: that creates the schema before the writers start.
    """
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Event()
    workers = [spawn.Process(target=target, args=(data_dir, n, start)) for n in range(count)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=180)
    assert [w.exitcode for w in workers] == [0] * count
