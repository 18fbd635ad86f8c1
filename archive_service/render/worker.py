"""The job a rendering worker process runs, and what it reports back.

Typst's Python binding caches recent compilations and grows by hundreds of megabytes per
document (NOTES.md), so production renders happen in a child process that is replaced after a
few jobs; the job reports its process id and peak memory so callers and benchmarks can see
the recycling work.
"""

from __future__ import annotations

import os
import resource
import sys
from dataclasses import dataclass

from archive_service.journal.model import Journal
from archive_service.render.document import DocumentInfo, SourceAttachment
from archive_service.render.typst_compile import compile_journal_pdf


@dataclass(frozen=True)
class WorkerReport:
    """Which process rendered and how much memory it has needed at most so far."""

    pid: int
    peak_rss_bytes: int


@dataclass(frozen=True)
class RenderJobResult:
    pdf: bytes
    report: WorkerReport


def peak_rss_bytes() -> int:
    """This process's peak resident set size (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def render_job(journal: Journal, source: SourceAttachment, info: DocumentInfo) -> RenderJobResult:
    """Runs inside the worker (or in-process); must stay a picklable module-level function."""
    pdf = compile_journal_pdf(journal, source, info)
    return RenderJobResult(pdf, WorkerReport(os.getpid(), peak_rss_bytes()))
