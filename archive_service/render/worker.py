"""The job a rendering worker process runs, and what it reports back.

Typst's Python binding keeps the memoisation cache of its last ten compilations, and one
full-year journal fills it with 300–450 MB that are never reused by the next journal (NOTES.md,
measured again in scripts/bench_render.py). So production renders happen in a child process
that is replaced after each job; the job reports its process id, the memory the process held
before it started and its peak, so callers and benchmarks can see where the memory goes.

A render's memory grows with the journal (about 9 MiB per pupil of a full-year, 18-subject
journal), so each worker is also *bounded*: :func:`warm_up` caps its data segment
(``RLIMIT_DATA``: heap and private anonymous memory, which is where Typst's memory goes; shared
libraries and fonts mapped from files do not count). An allocation beyond the cap fails inside
the worker — Typst (Rust) then aborts the process, Python raises MemoryError — and the caller
refuses the journal as too large to render instead of the machine running out of memory.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archive_service.journal.model import Journal
from archive_service.render.document import (
    DocumentInfo,
    RenderError,
    RenderTooLarge,
    SourceAttachment,
)
from archive_service.render.typst_compile import FONT_DIR, bundled_fonts, compile_journal_pdf


@dataclass(frozen=True)
class WorkerReport:
    """Which process rendered and how much memory it needed."""

    pid: int
    #: Peak resident set size of the process so far (after this job).
    peak_rss_bytes: int
    #: Resident set size when the job began: interpreter, imports and scanned fonts, plus
    #: whatever earlier jobs of the same process left behind.
    start_rss_bytes: int = 0


@dataclass(frozen=True)
class RenderJobResult:
    pdf: bytes
    report: WorkerReport


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def current_rss_bytes() -> int:
    """This process's resident set size now (Linux); the peak where /proc is missing."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return peak_rss_bytes()


def limit_memory(limit_bytes: int | None) -> None:
    """Cap this process's data segment at ``limit_bytes`` (None or 0: leave it as it is).

    Soft and hard limit alike, so nothing in the worker can raise it again.
    """
    if limit_bytes:
        resource.setrlimit(resource.RLIMIT_DATA, (limit_bytes, limit_bytes))


def warm_up(memory_limit_bytes: int | None = None) -> None:
    """Worker initializer: cap the worker's memory, then import Typst and scan the fonts
    before the first job arrives.

    The pool starts a replacement worker as soon as the previous one retires, so this work
    overlaps the gap between documents instead of delaying the next one.
    """
    # Rust prints a backtrace after a failed allocation when RUST_BACKTRACE asks for one; that
    # allocates too, and the worker then deadlocks on the backtrace lock instead of ending.
    # Read once, at the first panic or failed allocation: nothing in this process had one yet.
    os.environ["RUST_BACKTRACE"] = "0"
    limit_memory(memory_limit_bytes)
    bundled_fonts(FONT_DIR)


def run_marked(
    job: Callable[[Journal, SourceAttachment, DocumentInfo], RenderJobResult],
    marker: str,
    journal: Journal,
    source: SourceAttachment,
    info: DocumentInfo,
) -> RenderJobResult:
    """Run ``job`` in the worker with a file at ``marker`` while it runs.

    A worker that dies leaves the marker of the job it was running, and only that one: the
    caller can tell the job that needed too much memory from the jobs queued behind it.
    """
    Path(marker).touch()
    try:
        return job(journal, source, info)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(marker)


def render_job(journal: Journal, source: SourceAttachment, info: DocumentInfo) -> RenderJobResult:
    """Runs inside the worker (or in-process); must stay a picklable module-level function.

    Whatever goes wrong comes back as a :class:`RenderError`: a failed allocation as
    :class:`RenderTooLarge`, and so does a panic of Typst's Rust code near the memory cap (a
    library that asserts its allocations succeed panics instead of failing cleanly).
    """
    start = current_rss_bytes()
    try:
        pdf = compile_journal_pdf(journal, source, info)
    except RenderError:
        raise
    except MemoryError:
        raise too_large(_memory_limit()) from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as error:  # pyo3 turns a Rust panic into a BaseException
        limit = _memory_limit()
        if limit and peak_rss_bytes() >= limit * 0.8:
            raise too_large(limit) from None
        raise RenderError(f"Typst failed while laying out the journal: {error!r}") from None
    return RenderJobResult(pdf, WorkerReport(os.getpid(), peak_rss_bytes(), start))


def _memory_limit() -> int | None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_DATA)
    return None if soft == resource.RLIM_INFINITY else soft


def too_large(limit_bytes: int | None) -> RenderTooLarge:
    """The refusal of a journal that needs more memory than one render may use."""
    limit = f" (the limit is {limit_bytes // 2**20} MiB)" if limit_bytes else ""
    return RenderTooLarge(
        "The journal is too large to render: laying it out needs more memory than one document "
        f"may use on this archive{limit}. Nothing was archived. Split the journal into smaller "
        "exports, or ask the archive's administrator to raise ARCHIVE_RENDER_MEMORY_MB."
    )
