"""One journal → one PDF/A (A-3u, tagged A-3a, or A-1b), in the calling process.

Each compilation gets a private temporary directory as the Typst root holding nothing but the
export file to embed (nothing at all for A-1b, which cannot embed files), so the template can
read no other file and the attachment is the caller's bytes exactly. Journal data travels as
JSON in ``sys.inputs``; it is never spliced into markup. Any Typst warning fails the render: a
warning usually means a missing font or glyph, and a PDF/A without its text is worse than no
document.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
import tempfile
from pathlib import Path, PurePosixPath

import typst

from archive_service.journal.model import Journal
from archive_service.render.document import (
    PDF_PROFILE,
    PDF_PROFILE_A1B,
    PDF_PROFILE_A3A,
    DocumentInfo,
    RenderError,
    SourceAttachment,
)
from archive_service.render.layout import AttachmentFacts, build_layout

PACKAGE_DIR = Path(__file__).resolve().parent
FONT_DIR = PACKAGE_DIR / "fonts"
TEMPLATE_PATH = PACKAGE_DIR / "templates" / "journal.typ"

#: ``typst.compile`` standard for each profile of :data:`archive_service.render.PDF_PROFILES`.
TYPST_PDF_STANDARDS: dict[str, typst.PDFStandard] = {
    PDF_PROFILE: "a-3u",
    PDF_PROFILE_A1B: "a-1b",
    PDF_PROFILE_A3A: "a-3a",
}
#: Profiles that can carry the original export inside the PDF (PDF/A-1 forbids embedded files).
EMBEDDING_PROFILES = frozenset({PDF_PROFILE, PDF_PROFILE_A3A})
#: Profiles written with a structure tree. Only these pay for it: tags add ~60 MB of peak memory
#: and ~9 MB of file size to a full-year journal.
TAGGED_PROFILES = frozenset({PDF_PROFILE_A3A})
# typst's stub leaves out __version__, which the extension module defines.
RENDERER_NAME = f"typst {typst.__version__}"  # type: ignore[attr-defined]

_SAFE_FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_DEFAULT_EXTENSIONS = {"application/json": ".json", "application/xml": ".xml", "text/xml": ".xml"}


@functools.cache
def _template_source() -> bytes:
    return TEMPLATE_PATH.read_bytes()


@functools.cache
def bundled_fonts(folder: Path) -> typst.Fonts:
    """The project's fonts and nothing else, scanned once per worker process.

    Typst's own embedded fonts (Libertinus, New Computer Modern, DejaVu Sans Mono) are left out
    as well as the system's: a glyph missing from our fonts must end in a warning (and so a
    failed render), never in a silent fallback to a face whose licence and coverage nobody
    checked. Keyed by folder so a test can point :data:`FONT_DIR` elsewhere.
    """
    return typst.Fonts(
        include_system_fonts=False, include_embedded_fonts=False, font_paths=[str(folder)]
    )


def attachment_filename(source: SourceAttachment) -> str:
    """A plain file name for the attachment: the caller's one if harmless, else ``journal.*``.

    The name becomes a path inside the Typst root and the PDF's file specification, so
    directory parts and unusual characters are not allowed through.
    """
    name = PurePosixPath(source.filename.replace("\\", "/")).name
    if _SAFE_FILENAME.fullmatch(name):
        return name
    return "journal" + _DEFAULT_EXTENSIONS.get(source.media_type, ".bin")


def creation_timestamp(journal: Journal) -> dt.datetime:
    """The export time, so the same export always yields the same bytes."""
    moment = journal.source.exported_at
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment


def _describe(diagnostic: typst.TypstError | typst.TypstWarning) -> str:
    message = getattr(diagnostic, "message", None) or str(diagnostic)
    hints = getattr(diagnostic, "hints", None) or []
    return "; ".join([message, *hints])


def compile_journal_pdf(journal: Journal, source: SourceAttachment, info: DocumentInfo) -> bytes:
    """Render in this process; raises :class:`RenderError` on any Typst error or warning."""
    filename = attachment_filename(source)
    embedded = info.profile in EMBEDDING_PROFILES
    facts = AttachmentFacts(
        filename, source.media_type, hashlib.sha256(source.data).hexdigest(), embedded
    )
    layout = build_layout(journal, facts, info)
    layout_json = json.dumps(layout, ensure_ascii=False, separators=(",", ":"))
    with tempfile.TemporaryDirectory(prefix="journal-render-") as root:
        if embedded:
            (Path(root) / filename).write_bytes(source.data)
        try:
            # typst's stub ties `input` and `root` to one TypeVar (str, Path or bytes); the
            # extension accepts the template's bytes with a str root, as it does here.
            pdf, warnings = typst.compile_with_warnings(  # type: ignore[type-var]
                _template_source(),
                root=root,
                font_paths=bundled_fonts(FONT_DIR),
                ignore_system_fonts=True,
                sys_inputs={"layout": layout_json},
                pdf_standards=[TYPST_PDF_STANDARDS[info.profile]],
                timestamp=creation_timestamp(journal),
                pdf_tags=info.profile in TAGGED_PROFILES,
            )
        except typst.TypstError as error:
            raise RenderError(f"Typst could not lay out the journal: {_describe(error)}") from error
    if warnings:
        details = " | ".join(_describe(w) for w in warnings)
        raise RenderError(f"Typst warned while laying out the journal (refused): {details}")
    if not isinstance(pdf, bytes):
        raise RenderError("Typst returned no PDF bytes.")
    return pdf
