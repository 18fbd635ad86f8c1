"""Jobs that fail the way real workers can, importable by a spawned worker process."""

from __future__ import annotations

import os

from archive_service.journal.model import Journal
from archive_service.render.document import DocumentInfo, SourceAttachment
from archive_service.render.worker import RenderJobResult


def crash_job(journal: Journal, source: SourceAttachment, info: DocumentInfo) -> RenderJobResult:
    """Dies like a worker killed by the OOM killer: no exception, no cleanup."""
    os._exit(137)


def boom_job(journal: Journal, source: SourceAttachment, info: DocumentInfo) -> RenderJobResult:
    raise MemoryError("simulated")


def odd_job(journal: Journal, source: SourceAttachment, info: DocumentInfo) -> RenderJobResult:
    raise LookupError("simulated")
