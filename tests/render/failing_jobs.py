"""Jobs that fail the way real workers can, importable by a spawned worker process."""

from __future__ import annotations

import os
import time

from archive_service.journal.model import Journal
from archive_service.render.document import DocumentInfo, SourceAttachment
from archive_service.render.worker import RenderJobResult, render_job

#: The class name that makes :func:`crash_for_one_journal` die.
DOOMED_CLASS = "CRASH"


def crash_job(journal: Journal, source: SourceAttachment, info: DocumentInfo) -> RenderJobResult:
    """Dies like a worker killed by the OOM killer: no exception, no cleanup."""
    os._exit(137)


def boom_job(journal: Journal, source: SourceAttachment, info: DocumentInfo) -> RenderJobResult:
    raise MemoryError("simulated")


def odd_job(journal: Journal, source: SourceAttachment, info: DocumentInfo) -> RenderJobResult:
    raise LookupError("simulated")


def crash_for_one_journal(
    journal: Journal, source: SourceAttachment, info: DocumentInfo
) -> RenderJobResult:
    """Dies (after a second, so others can queue behind it) on the journal of class
    :data:`DOOMED_CLASS`, like a worker stopped by the memory cap; renders every other."""
    if journal.school_class.name == DOOMED_CLASS:
        time.sleep(1)
        os._exit(134)
    return render_job(journal, source, info)
