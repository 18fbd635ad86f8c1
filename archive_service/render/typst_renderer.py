"""The production renderer: Typst in a recycled worker process, safe to share between threads."""

from __future__ import annotations

import functools
import logging
import multiprocessing
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from types import TracebackType

from archive_service.journal.model import Journal
from archive_service.journal.text import Repertoire
from archive_service.render.coverage import covered_code_points
from archive_service.render.document import (
    DocumentInfo,
    RenderedDocument,
    RenderError,
    RenderUnavailable,
    SourceAttachment,
)
from archive_service.render.typst_compile import FONT_DIR, RENDERER_NAME
from archive_service.render.worker import (
    RenderJobResult,
    WorkerReport,
    render_job,
    run_marked,
    too_large,
    warm_up,
)

log = logging.getLogger(__name__)

#: Default cap on one rendering worker's memory (data segment). The standard full-year journal
#: (30 pupils, 14 subjects) needs ~370 MiB, the large one (35, 18) ~470 MiB, tagged PDF/A-3a
#: ~100 MiB more; 100 pupils with 18 subjects need ~1.1 GiB (scripts/measure_render_memory.py).
DEFAULT_MEMORY_LIMIT_BYTES = 1024 * 2**20

RenderJob = Callable[[Journal, SourceAttachment, DocumentInfo], RenderJobResult]


def _worker_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a small fork server that has already imported Typst and our fonts.

    A spawned worker would re-import the parent's ``__main__`` (the whole service: pyHanko,
    SQLAlchemy, Flask…) before every document, since workers are replaced after each one; the
    fork server pays that once and each replacement is a cheap fork of a process that never
    rendered (so holds no Typst cache). Unlike plain ``fork``, nothing of the parent's threads,
    locks or database connections is inherited.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["archive_service.render.worker"])
    return context


class TypstRenderer:
    """Renders journals to PDF/A with Typst, in the profile each :class:`DocumentInfo` names.

    :param jobs_per_worker: renders before the worker process is replaced. Each Typst compile
        leaves its whole memoisation cache in the process (~320 MB for the standard full-year
        journal, ~440 MB for the large one) and the next journal reuses none of it, so the peak
        grows by that much per job: measured peak RSS 1 job → 0.37 / 0.49 GB (standard /
        large), 2 jobs → 0.65 / 0.84 GB, 8 jobs → 2.2–2.9 GB. The default replaces the worker
        after every document; the replacement starts (and scans its fonts) while the caller
        is busy with the finished one.
    :param in_process: render in the calling thread's process (tests, benchmarks); memory then
        grows with every render and is never given back.
    :param workers: worker processes; one is enough on two cores because Typst itself uses
        several threads per compile.
    :param memory_limit_bytes: cap on each worker process's data segment (None or 0: none). A
        journal that needs more is refused with :class:`RenderTooLarge` (413) and the worker
        is replaced; the server never runs out of memory on one upload. Not applied in-process.

    The pool is created on first use; concurrent ``render`` calls from request threads queue
    for the workers. A worker that dies is replaced on the next call.
    """

    #: The function a worker runs; a class attribute so tests can substitute a failing job.
    _job: RenderJob = staticmethod(render_job)

    def __init__(
        self,
        *,
        jobs_per_worker: int = 1,
        in_process: bool = False,
        workers: int = 1,
        memory_limit_bytes: int | None = DEFAULT_MEMORY_LIMIT_BYTES,
    ) -> None:
        if jobs_per_worker < 1 or workers < 1:
            raise ValueError("jobs_per_worker and workers must be at least 1")
        if memory_limit_bytes is not None and memory_limit_bytes < 0:
            raise ValueError("memory_limit_bytes must be positive (or None for no limit)")
        self.jobs_per_worker = jobs_per_worker
        self.in_process = in_process
        self.workers = workers
        self.memory_limit_bytes = memory_limit_bytes or None
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        #: Where each job marks that it has started (see :func:`run_marked`).
        self._markers: Path | None = None
        self._last_report: WorkerReport | None = None

    @property
    def repertoire(self) -> Repertoire:
        """What the bundled fonts can print (every face of them)."""
        return _bundled_repertoire()

    @property
    def last_report(self) -> WorkerReport | None:
        """Process id and peak memory of the process that did the latest render."""
        return self._last_report

    def render(
        self, journal: Journal, source: SourceAttachment, info: DocumentInfo
    ) -> RenderedDocument:
        result = self._run(journal, source, info)
        self._last_report = result.report
        return RenderedDocument(pdf=result.pdf, profile=info.profile, renderer=RENDERER_NAME)

    def _run(
        self, journal: Journal, source: SourceAttachment, info: DocumentInfo
    ) -> RenderJobResult:
        if self.in_process:
            try:
                return self._job(journal, source, info)
            except MemoryError:
                raise too_large(None) from None
        # When a worker dies, every job queued in its pool fails with it. Only the job that was
        # running is the one that died (too large, under the cap); the others never started —
        # their start markers say so — and are given to a fresh worker.
        for attempt in range(1, self.ATTEMPTS_AFTER_A_DEAD_WORKER + 1):
            marker = self._marker_folder() / f"{uuid.uuid4().hex}.started"
            executor, future = self._submit(marker, journal, source, info)
            try:
                return future.result()
            except RenderError as error:
                if error.status == 422:  # the export's fault as far as anyone can tell
                    log.error("render refused: %s", error.message)
                raise
            except BrokenProcessPool as error:
                self._discard(executor)
                started = marker.exists()
                marker.unlink(missing_ok=True)
                if not started and attempt < self.ATTEMPTS_AFTER_A_DEAD_WORKER:
                    log.warning("a rendering worker stopped before this document's turn; again")
                    continue
                raise self._dead_worker(started) from error
            except MemoryError:
                raise too_large(self.memory_limit_bytes) from None
            except Exception as error:
                log.exception("rendering failed in the worker process")
                raise RenderError(f"Rendering failed in the worker process: {error!r}") from error
        raise AssertionError("unreachable")

    #: Fresh workers a document gets when the worker before it died before its turn.
    ATTEMPTS_AFTER_A_DEAD_WORKER = 3

    def _dead_worker(self, started: bool) -> RenderError:
        log.error(
            "rendering worker stopped unexpectedly (document started: %s, limit %s bytes)",
            started,
            self.memory_limit_bytes,
        )
        if started and self.memory_limit_bytes:
            # Typst aborts the worker when an allocation fails under the cap: by far the most
            # likely end of a worker that stops in the middle of a job.
            return too_large(self.memory_limit_bytes)
        return RenderUnavailable(
            "The rendering worker process stopped unexpectedly (crash or out of memory); "
            "nothing was archived and a new worker is started for the next document."
        )

    def _marker_folder(self) -> Path:
        with self._lock:
            if self._markers is None:
                self._markers = Path(tempfile.mkdtemp(prefix="journal-render-jobs-"))
            return self._markers

    def _submit(
        self, marker: Path, journal: Journal, source: SourceAttachment, info: DocumentInfo
    ) -> tuple[ProcessPoolExecutor, Future[RenderJobResult]]:
        # A pool whose idle worker was killed only notices at submit time; nothing of this job
        # has run yet, so one retry with a fresh pool is safe.
        attempts = 2
        for attempt in range(1, attempts + 1):
            executor = self._executor_for_submit()
            try:
                future = executor.submit(run_marked, self._job, str(marker), journal, source, info)
                return executor, future
            except (BrokenProcessPool, RuntimeError) as error:
                self._discard(executor)
                if attempt == attempts:
                    raise RenderUnavailable(
                        f"Could not start a rendering worker: {error}. Nothing was archived; "
                        "try again later."
                    ) from error
        raise AssertionError("unreachable")

    def _executor_for_submit(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=_worker_context(),
                    max_tasks_per_child=self.jobs_per_worker,
                    initializer=warm_up,
                    initargs=(self.memory_limit_bytes,),
                )
            return self._executor

    def _discard(self, executor: ProcessPoolExecutor) -> None:
        """Forget a broken pool so the next call makes a new one (unless another thread did)."""
        with self._lock:
            if self._executor is executor:
                self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the worker processes; a later ``render`` starts new ones."""
        with self._lock:
            executor, self._executor = self._executor, None
            markers, self._markers = self._markers, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if markers is not None:
            shutil.rmtree(markers, ignore_errors=True)

    def __enter__(self) -> TypstRenderer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@functools.cache
def _bundled_repertoire() -> Repertoire:
    return Repertoire(covered_code_points(FONT_DIR))
