"""The background job that keeps the audit log's unanchored tail short in *time*.

Each server process runs one :class:`AnchorJob`: on start it anchors the head it finds (a
process killed before its next anchor left its last events uncovered; a new process covers
them), then every ``anchor_seconds`` it anchors the head if this process appended events since
its last anchor, and on stop it anchors once more. Idle processes write nothing. The job only
reads the chain head and writes to the object store, so any number of processes may run it:
two anchors of one head are harmless (:mod:`archive_service.audit.anchors`).

The job is a daemon thread in the worker process itself — never in gunicorn's master, which
forks workers and must hold no threads when it does.

Tests drive it without waiting for a clock: :meth:`AnchorJob.nudge` runs a step now, and
:meth:`AnchorJob.wait_for_steps` returns once that many steps have finished.
"""

from __future__ import annotations

import logging
import threading

from archive_service.audit.anchors import AuditCheckpoints

log = logging.getLogger(__name__)


class AnchorJob:
    """Anchors the chain head on start, every ``checkpoints.anchor_seconds`` while this process
    appends events, and on :meth:`stop`."""

    def __init__(self, checkpoints: AuditCheckpoints, *, anchor_on_start: bool = True) -> None:
        """:param anchor_on_start: the thread's first step anchors the head it finds; a caller
        that has just done so itself (synchronously, before serving) passes False."""
        self.checkpoints = checkpoints
        self.anchor_on_start = anchor_on_start
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._steps = 0
        self._progress = threading.Condition()
        self._thread: threading.Thread | None = None

    def start(self) -> AnchorJob:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="audit-anchoring", daemon=True)
            self._thread.start()
        return self

    def nudge(self) -> None:
        """Run the next step now instead of at the end of the interval."""
        self._wake.set()

    def wait_for_steps(self, steps: int, timeout: float = 60.0) -> bool:
        """Block until at least ``steps`` steps (the start-up anchor counts) have finished."""
        with self._progress:
            return self._progress.wait_for(lambda: self._steps >= steps, timeout)

    def stop(self, *, final_anchor: bool = True, timeout: float = 30.0) -> None:
        """End the thread; then anchor what this process appended since its last anchor."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if final_anchor:
            self.checkpoints.tick_best_effort()

    def _run(self) -> None:
        if self.anchor_on_start:
            self.checkpoints.write_best_effort()  # the head a crashed process may have left
        self._stepped()
        while True:
            self._wake.wait(self.checkpoints.anchor_seconds)
            self._wake.clear()
            if self._stopping.is_set():
                return
            self.checkpoints.tick_best_effort()
            self._stepped()

    def _stepped(self) -> None:
        with self._progress:
            self._steps += 1
            self._progress.notify_all()
