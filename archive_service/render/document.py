"""What goes into a rendering and what comes out, independent of the engine that renders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from archive_service.errors import ArchiveError
from archive_service.journal.model import Journal

#: The PDF profile every renderer must produce: archival, Unicode text, attachments allowed.
PDF_PROFILE = "PDF/A-3u"


@dataclass(frozen=True)
class SourceAttachment:
    """The original export, embedded byte-for-byte so the document carries its own evidence."""

    #: ``journal.json`` or ``journal.xml``; becomes the attachment's name inside the PDF.
    filename: str
    #: ``application/json`` or ``application/xml``.
    media_type: str
    data: bytes


@dataclass(frozen=True)
class DocumentInfo:
    """Archive facts printed on the title page; none of them come from the export."""

    document_id: str
    version: int
    #: True when the embedded test PKI signs: the title page then says the signature is not
    #: qualified, so a test copy can never be mistaken for a legal one.
    test_pki: bool
    #: Ukrainian instructions on how to verify the signature, chosen by the caller.
    verification_note: str


@dataclass(frozen=True)
class RenderedDocument:
    pdf: bytes
    #: Always :data:`PDF_PROFILE`; recorded with the archived version.
    profile: str
    #: Engine and version, e.g. ``typst 0.15.2``; recorded for provenance.
    renderer: str


class JournalRenderer(Protocol):
    """Turns a parsed journal into an unsigned archival PDF."""

    def render(
        self, journal: Journal, source: SourceAttachment, info: DocumentInfo
    ) -> RenderedDocument: ...


class RenderError(ArchiveError):
    """The document could not be produced; the input was valid, so this is our fault."""

    status = 500
    code = "render_failed"
