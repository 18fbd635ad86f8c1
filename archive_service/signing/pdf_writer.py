"""Opening a PDF/A for a signature revision without breaking its PDF/A conformance.

Three things pyHanko does on an incremental update would break the renderer's PDF/A-3:

* it appends itself to the Info dictionary's ``/Producer``, bumps ``/ModDate`` and
  re-serialises the XMP packet through its own data model. PDF/A requires Info and XMP to
  agree; pyHanko's rewrite lets the producers diverge whenever the renderer wrote one, and the
  re-serialised packet mangles the PDF/A extension-schema block (``pdfaSchema:namespaceURI``
  turns into a resource, cf. pyHanko issue #755). A signature changes no content, so the
  signature revision leaves Info and XMP exactly as rendered.
* for ECDSA on P-256 it declares ISO/TS 32002, an extension of PDF 2.0, and raises the
  catalog's ``/Version`` to 2.0, which contradicts PDF/A-3 (a PDF 1.7 profile). The version the
  document declares is kept, and extensions based on a later version are not declared; the
  PAdES (ESIC) extension for PDF 1.7 still is.
* it appends the update's first object straight after the previous ``%%EOF``. A renderer that
  ends its file without an end-of-line (Typst does) then gets ``%%EOF12 0 obj``, and PDF/A
  (ISO 19005-3, 6.1.9) wants every ``obj`` line to start after an EOL. One EOL after ``%%EOF`` is
  allowed (6.1.3), so the writer adds it before the update; the original bytes stay a prefix.

* an invisible signature's widget gets no appearance dictionary. PDF/A-2 and -3 excuse a
  widget with a zero-size ``/Rect``, but PDF/A-1 (ISO 19005-1, 6.9) wants an appearance for
  every form field, so each new widget without one gets an empty ``/N`` appearance stream.

The hooks are pyHanko's ``_update_meta`` (internal; the maintainer points to overriding it for
this purpose in pyHanko issue #223), ``ensure_output_version`` and ``register_extension``.
``tests/signing`` checks the metadata, ID and version survive signing, so an upgrade that moves
them fails loudly.
"""

from __future__ import annotations

from io import BytesIO

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader, parse_catalog_version
from pyhanko.pdf_utils.writer import DeveloperExtension, ObjectStream
from pyhanko.sign.fields import enumerate_sig_fields

from archive_service.signing.errors import UnreadablePdf


class ArchivalIncrementalWriter(IncrementalPdfFileWriter):
    """An incremental writer that keeps the document's metadata and declared PDF version."""

    def _update_meta(self) -> None:
        return None

    def ensure_output_version(self, version: tuple[int, int]) -> None:
        if version <= self.prev.input_version:
            super().ensure_output_version(version)

    def add_object(
        self,
        obj: generic.PdfObject,
        obj_stream: ObjectStream | None = None,
        idnum: int | None = None,
    ) -> generic.IndirectObject:
        if (
            isinstance(obj, generic.DictionaryObject)
            and obj.get("/Subtype") == "/Widget"
            and "/AP" not in obj
        ):
            obj[pdf_name("/AP")] = generic.DictionaryObject(
                {pdf_name("/N"): self._empty_appearance()}
            )
        return super().add_object(obj, obj_stream, idnum)

    def _empty_appearance(self) -> generic.IndirectObject:
        """A form XObject that draws nothing: the look of an invisible signature."""
        stream = generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Form"),
                pdf_name("/BBox"): generic.ArrayObject([generic.NumberObject(0)] * 4),
            },
            stream_data=b"",
        )
        return super().add_object(stream)

    def register_extension(self, ext: DeveloperExtension) -> None:
        base_version = parse_catalog_version(ext.base_version)
        if base_version is None or base_version <= self.prev.input_version:
            super().register_extension(ext)


def open_for_signing(pdf: bytes) -> ArchivalIncrementalWriter:
    """Parse ``pdf`` for an incremental update; unreadable bytes are the caller's input error."""
    if not pdf.endswith((b"\n", b"\r")):
        pdf += b"\n"
    try:
        return ArchivalIncrementalWriter(BytesIO(pdf))
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise UnreadablePdf(f"The document to sign is not a readable PDF: {exc}") from exc


def next_field_name(reader: PdfFileReader, prefix: str) -> str:
    """``<prefix>1``, ``<prefix>2``, …: the first one no signature field of the document uses.

    Seals, external signatures and archive timestamps each number their own fields, so the
    order of the revisions can be read from the names.
    """
    taken = {name for name, _, _ in enumerate_sig_fields(reader)}
    number = 1
    while f"{prefix}{number}" in taken:
        number += 1
    return f"{prefix}{number}"
