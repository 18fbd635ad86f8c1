"""Journal model → archival PDF/A: A-3u (or tagged A-3a) with the original export embedded, or A-1b.

The pipeline depends only on :class:`JournalRenderer`; :class:`TypstRenderer` is the
implementation, rendering in recycled worker processes.
"""

from archive_service.render.collation import ukrainian_sort_key
from archive_service.render.document import (
    PDF_PROFILE,
    PDF_PROFILE_A1B,
    PDF_PROFILE_A3A,
    PDF_PROFILES,
    DocumentInfo,
    JournalRenderer,
    RenderedDocument,
    RenderError,
    RenderTooLarge,
    RenderUnavailable,
    SourceAttachment,
)
from archive_service.render.typst_renderer import TypstRenderer
from archive_service.render.worker import WorkerReport

__all__ = [
    "PDF_PROFILE",
    "PDF_PROFILES",
    "PDF_PROFILE_A1B",
    "PDF_PROFILE_A3A",
    "DocumentInfo",
    "JournalRenderer",
    "RenderError",
    "RenderTooLarge",
    "RenderUnavailable",
    "RenderedDocument",
    "SourceAttachment",
    "TypstRenderer",
    "WorkerReport",
    "ukrainian_sort_key",
]
