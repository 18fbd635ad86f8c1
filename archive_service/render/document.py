"""What goes into a rendering and what comes out, independent of the engine that renders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from archive_service.errors import ArchiveError, ErrorDetail
from archive_service.journal.model import Journal
from archive_service.journal.text import Repertoire

#: The default profile: archival, Unicode text, the original export embedded as evidence.
PDF_PROFILE = "PDF/A-3u"
#: For institutions that follow the national rule for long-term documents (PDF/A-1). PDF/A-1
#: forbids embedded files, so the title page prints the export's SHA-256 instead.
PDF_PROFILE_A1B = "PDF/A-1b"
#: Tagged and accessible (structure tree, headings, table headers, document language ``uk``),
#: with the export embedded as in A-3u. The structure makes the file several times larger (about
#: 9 MB for a full-year journal instead of 0.5 MB), so it is chosen, not the default.
PDF_PROFILE_A3A = "PDF/A-3a"
#: Every profile a renderer must be able to produce.
PDF_PROFILES = (PDF_PROFILE, PDF_PROFILE_A1B, PDF_PROFILE_A3A)


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
    #: One of :data:`PDF_PROFILES`, chosen per institution. It travels with the document rather
    #: than configuring the renderer so that one renderer (one worker pool) serves every
    #: institution, whatever rule each follows.
    profile: str = PDF_PROFILE

    def __post_init__(self) -> None:
        if self.profile not in PDF_PROFILES:
            raise ValueError(f"unknown PDF profile {self.profile!r}; expected {PDF_PROFILES}")


@dataclass(frozen=True)
class RenderedDocument:
    pdf: bytes
    #: The profile produced (:attr:`DocumentInfo.profile`); recorded with the archived version.
    profile: str
    #: Engine and version, e.g. ``typst 0.15.2``; recorded for provenance.
    renderer: str


class JournalRenderer(Protocol):
    """Turns a parsed journal into an unsigned archival PDF."""

    def render(
        self, journal: Journal, source: SourceAttachment, info: DocumentInfo
    ) -> RenderedDocument: ...

    @property
    def repertoire(self) -> Repertoire:
        """The characters this renderer can print; the parser refuses text with others."""
        ...


class RenderError(ArchiveError):
    """The document could not be produced. Never a 500:

    - this class itself: the renderer refused the journal's content (a Typst error or warning,
      or a layout the export's data could not fill). The same export fails the same way every
      time, so the client has to change it: ``422 render_failed``;
    - :class:`RenderTooLarge`: the render needed more memory than a render may use (``413``);
    - :class:`RenderUnavailable`: no worker could be started (``503``, retry later).

    Every one names the export as a whole (path ``/``) unless given finer details.
    """

    status = 422
    code = "render_failed"

    def __init__(self, message: str, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(message, details or [ErrorDetail("/", message)])

    def __reduce__(self) -> tuple[object, ...]:
        # Raised in a worker process and re-raised in the server: pickled by its message.
        return (type(self), (self.message, self.details))


class RenderTooLarge(RenderError):
    """The journal needs more memory to render than one render may use: split it."""

    status = 413
    code = "too_large_to_render"


class RenderUnavailable(RenderError):
    """No rendering worker could be started; nothing about the journal is wrong."""

    status = 503
    code = "service_unavailable"
