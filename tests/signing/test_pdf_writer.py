"""The signature revision must keep the renderer's PDF/A metadata, ID and version."""

from __future__ import annotations

from io import BytesIO

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pypdf import PdfReader

from archive_service.signing import SignedDocument, UnreadablePdf
from archive_service.signing.pdf_writer import open_for_signing


def _xmp(reader: PdfReader) -> bytes:
    return reader.trailer["/Root"]["/Metadata"].get_object().get_data()


def _xmp_producer(reader: PdfReader) -> str | None:
    xmp = reader.xmp_metadata
    return xmp.pdf_producer if xmp is not None else None


@pytest.fixture(scope="module")
def before(unsigned_pdf: bytes) -> PdfReader:
    return PdfReader(BytesIO(unsigned_pdf))


@pytest.fixture(scope="module")
def after(signed_bt: SignedDocument) -> PdfReader:
    return PdfReader(BytesIO(signed_bt.pdf))


def test_producer_in_info_and_xmp_agree(after: PdfReader) -> None:
    info = after.trailer["/Info"].get_object()
    assert info.get("/Producer") == _xmp_producer(after)


def test_info_and_xmp_are_left_as_rendered(before: PdfReader, after: PdfReader) -> None:
    assert dict(after.trailer["/Info"].get_object()) == dict(before.trailer["/Info"].get_object())
    assert _xmp(after) == _xmp(before)
    assert b"pdfaid:part>3<" in _xmp(after)


def test_first_trailer_id_is_kept(before: PdfReader, after: PdfReader) -> None:
    assert after.trailer["/ID"][0] == before.trailer["/ID"][0]


def test_pdf_version_is_not_raised(
    before: PdfReader, after: PdfReader, signed_bt: SignedDocument, unsigned_pdf: bytes
) -> None:
    assert signed_bt.pdf[:9] == unsigned_pdf[:9] == b"%PDF-1.7\n"
    assert after.trailer["/Root"].get("/Version") == before.trailer["/Root"].get("/Version")
    extensions = after.trailer["/Root"]["/Extensions"]
    assert set(extensions) == {"/ESIC"}  # PAdES on PDF 1.7; no PDF 2.0 extension declared


def test_invisible_signature_widget_has_an_empty_appearance(after: PdfReader) -> None:
    """PDF/A-1 (ISO 19005-1, 6.9) wants an appearance for every form field, invisible or not."""
    [widget] = [
        annotation.get_object()
        for page in after.pages
        for annotation in page.get("/Annots", ())
        if annotation.get_object().get("/FT") == "/Sig"
    ]
    assert [float(x) for x in widget["/Rect"]] == [0, 0, 0, 0]
    appearance = widget["/AP"]["/N"].get_object()
    assert appearance["/Subtype"] == "/Form"
    assert appearance.get_data() == b""


def test_signature_revision_starts_on_a_new_line(
    signed_bt: SignedDocument, unsigned_pdf: bytes
) -> None:
    """PDF/A 6.1.9: ``N 0 obj`` follows an EOL, even when the renderer ends at ``%%EOF``."""
    assert unsigned_pdf.endswith(b"%%EOF")  # Typst writes no final EOL: the case that matters
    assert signed_bt.pdf.startswith(unsigned_pdf + b"\n")
    assert signed_bt.pdf[len(unsigned_pdf) + 1 : len(unsigned_pdf) + 2].isdigit()


def test_plain_pyhanko_would_break_the_metadata(unsigned_pdf: bytes) -> None:
    """Guard: if pyHanko stops touching metadata (or renames the hook), revisit pdf_writer."""
    writer = IncrementalPdfFileWriter(BytesIO(unsigned_pdf))
    writer.update_root()
    output = BytesIO()
    writer.write(output)
    reader = PdfReader(BytesIO(output.getvalue()))
    assert "pyHanko" in reader.trailer["/Info"].get_object()["/Producer"]
    assert hasattr(IncrementalPdfFileWriter, "_update_meta")


def test_unreadable_input_is_an_input_error() -> None:
    with pytest.raises(UnreadablePdf, match="not a readable PDF"):
        open_for_signing(b"%PDF-1.7\ngarbage")
