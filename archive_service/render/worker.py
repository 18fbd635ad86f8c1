"""The job a rendering worker process runs, and what it reports back.

Typst's Python binding keeps the memoisation cache of its last ten compilations, and one
full-year journal fills it with 300–450 MB that are never reused by the next journal (NOTES.md,
measured again in scripts/bench_render.py). So production renders happen in a child process
that is replaced after each job; the job reports its process id, the memory the process held
before it started and its peak, so callers and benchmarks can see where the memory goes.
"""

from __future__ import annotations

import os
import resource
import sys
from dataclasses import dataclass

from archive_service.journal.model import Journal
from archive_service.render.document import DocumentInfo, SourceAttachment
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


def warm_up() -> None:
    """Worker initializer: import Typst and scan the fonts before the first job arrives.

    The pool starts a replacement worker as soon as the previous one retires, so this work
    overlaps the gap between documents instead of delaying the next one.
    """
    bundled_fonts(FONT_DIR)


def render_job(journal: Journal, source: SourceAttachment, info: DocumentInfo) -> RenderJobResult:
    """Runs inside the worker (or in-process); must stay a picklable module-level function."""
    start = current_rss_bytes()
    pdf = compile_journal_pdf(journal, source, info)
    return RenderJobResult(pdf, WorkerReport(os.getpid(), peak_rss_bytes(), start))
