"""The rendered PDF: PDF/A identification per profile, the embedded export or its hash, fonts,
the structure tree of the tagged profile, the table of contents, and exact text."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import pickle
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pypdf
import pytest

from archive_service.journal.model import Journal
from archive_service.render import (
    PDF_PROFILE,
    PDF_PROFILE_A1B,
    PDF_PROFILE_A3A,
    DocumentInfo,
    RenderedDocument,
    RenderError,
    RenderTooLarge,
    RenderUnavailable,
    SourceAttachment,
    TypstRenderer,
    typst_compile,
)
from archive_service.render.layout import TEST_NOTICE

from .failing_jobs import DOOMED_CLASS, boom_job, crash_for_one_journal, crash_job, odd_job
from .journal_factory import full_year_journal, tiny_journal

REPO = Path(__file__).resolve().parents[2]
# Bytes a re-serialiser would change: key order, spacing, escapes, a BOM-less UTF-8 ї.
SOURCE = SourceAttachment(
    "journal.json", "application/json", b'{ "z": 1,\r\n  "a": "\\u0457 \xd1\x97" }\n'
)
INFO = DocumentInfo(
    document_id="6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b",
    version=2,
    test_pki=True,
    verification_note="Відкрийте файл у програмі перевірки КЕП.\nПорівняйте SHA-256.",
)
TEST_NOTICE_START = "ТЕСТОВИЙ ПІДПИС — НЕ КВАЛІФІКОВАНИЙ"


def full_year_source() -> tuple[Journal, SourceAttachment]:
    """The other helper's generator and parser when present, else this room's factory."""
    try:
        sys.path.insert(0, str(REPO / "scripts"))
        from generate_journal import generate_export

        from archive_service.journal.parse import parse_export
    except ImportError:
        return full_year_journal(), SOURCE
    finally:
        sys.path.remove(str(REPO / "scripts"))
    data = json.dumps(generate_export(pupils=30, subjects=14, seed=0), ensure_ascii=False).encode()
    parsed = parse_export(data, "application/json")
    return parsed.journal, SourceAttachment(parsed.filename, parsed.media_type, data)


def text_of(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def renderer() -> Iterator[TypstRenderer]:
    with TypstRenderer(in_process=True) as in_process:
        yield in_process


@pytest.fixture(scope="module")
def tiny(renderer: TypstRenderer) -> RenderedDocument:
    return renderer.render(tiny_journal(), SOURCE, INFO)


@pytest.fixture(scope="module")
def full_year(renderer: TypstRenderer) -> tuple[Journal, SourceAttachment, RenderedDocument]:
    journal, source = full_year_source()
    return journal, source, renderer.render(journal, source, dataclasses.replace(INFO, version=1))


@pytest.fixture(scope="module")
def full_year_text(full_year: tuple[Journal, SourceAttachment, RenderedDocument]) -> str:
    return text_of(full_year[2].pdf)


def test_result_names_profile_and_renderer(tiny: RenderedDocument) -> None:
    assert tiny.pdf.startswith(b"%PDF-")
    assert tiny.profile == PDF_PROFILE == "PDF/A-3u"
    assert re.fullmatch(r"typst \d+\.\d+\.\d+", tiny.renderer)


@pytest.fixture(scope="module")
def tiny_a1b(renderer: TypstRenderer) -> RenderedDocument:
    info = dataclasses.replace(INFO, profile=PDF_PROFILE_A1B)
    return renderer.render(tiny_journal(), SOURCE, info)


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="PDF/A-2b"):
        dataclasses.replace(INFO, profile="PDF/A-2b")


def test_a1b_is_identified_as_pdf_a_1b(tiny_a1b: RenderedDocument) -> None:
    assert tiny_a1b.profile == PDF_PROFILE_A1B == "PDF/A-1b"
    assert tiny_a1b.pdf.startswith(b"%PDF-1.4")
    reader = pypdf.PdfReader(io.BytesIO(tiny_a1b.pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>1</pdfaid:part>" in xmp
    assert "<pdfaid:conformance>B</pdfaid:conformance>" in xmp


def test_a1b_embeds_nothing_and_prints_the_export_hash(tiny_a1b: RenderedDocument) -> None:
    reader = pypdf.PdfReader(io.BytesIO(tiny_a1b.pdf))
    root = reader.trailer["/Root"]
    assert "/AF" not in root
    assert "/EmbeddedFiles" not in root.get("/Names", {})
    assert reader.attachments == {}
    text = text_of(tiny_a1b.pdf)
    assert f"SHA-256: {hashlib.sha256(SOURCE.data).hexdigest()}" in text
    assert "«journal.json», application/json" in text
    assert "вкладено в цей PDF" not in text


def test_a1b_pages_use_no_transparency(tiny_a1b: RenderedDocument) -> None:
    """PDF/A-1 forbids transparency; the shaded grid columns must be opaque fills."""
    reader = pypdf.PdfReader(io.BytesIO(tiny_a1b.pdf))
    for page in reader.pages:
        assert "/Group" not in page
        for state in page["/Resources"].get("/ExtGState", {}).values():
            state = state.get_object()
            assert "/SMask" not in state or state["/SMask"] == "/None"
            assert float(state.get("/CA", 1)) == float(state.get("/ca", 1)) == 1


@pytest.fixture(scope="module")
def tiny_a3a(renderer: TypstRenderer) -> RenderedDocument:
    info = dataclasses.replace(INFO, profile=PDF_PROFILE_A3A)
    return renderer.render(tiny_journal(), SOURCE, info)


def structure_types(pdf: bytes) -> set[str]:
    """Every structure element type (``/S``) in the document's structure tree."""
    root = pypdf.PdfReader(io.BytesIO(pdf)).trailer["/Root"]
    found: set[str] = set()
    pending = [root["/StructTreeRoot"].get_object()]
    while pending:
        node = pending.pop()
        if "/S" in node:
            found.add(str(node["/S"]))
        kids = node.get("/K", [])
        for kid in kids if isinstance(kids, list) else [kids]:
            kid = kid.get_object() if isinstance(kid, pypdf.generic.IndirectObject) else kid
            if isinstance(kid, dict) and kid.get("/Type") not in ("/MCR", "/OBJR"):
                pending.append(kid)
    return found


def test_a3a_is_identified_as_pdf_a_3a(tiny_a3a: RenderedDocument) -> None:
    assert tiny_a3a.profile == PDF_PROFILE_A3A == "PDF/A-3a"
    reader = pypdf.PdfReader(io.BytesIO(tiny_a3a.pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp
    assert "<pdfaid:conformance>A</pdfaid:conformance>" in xmp


def test_a3a_is_tagged_in_ukrainian_with_headings_and_table_headers(
    tiny_a3a: RenderedDocument,
) -> None:
    root = pypdf.PdfReader(io.BytesIO(tiny_a3a.pdf)).trailer["/Root"]
    assert root["/Lang"] == "uk"
    assert bool(root["/MarkInfo"]["/Marked"])
    types = structure_types(tiny_a3a.pdf)
    assert {"/Document", "/H1", "/H2", "/TOC", "/Table", "/THead", "/TH", "/TD"} <= types


def test_a3a_embeds_the_export_and_keeps_the_text(tiny_a3a: RenderedDocument) -> None:
    reader = pypdf.PdfReader(io.BytesIO(tiny_a3a.pdf))
    [spec] = [ref.get_object() for ref in reader.trailer["/Root"]["/AF"]]
    assert spec["/AFRelationship"] == "/Source"
    assert reader.attachments == {"journal.json": [SOURCE.data]}
    text = text_of(tiny_a3a.pdf)
    for expected in TINY_TEXTS:
        assert expected in text, expected


def test_untagged_profiles_carry_no_structure_tree(
    tiny: RenderedDocument, tiny_a1b: RenderedDocument
) -> None:
    """Tags cost memory and megabytes; only the profile that promises them pays."""
    for document in (tiny, tiny_a1b):
        root = pypdf.PdfReader(io.BytesIO(document.pdf)).trailer["/Root"]
        assert "/StructTreeRoot" not in root


def test_only_the_bundled_fonts_are_offered_to_typst() -> None:
    fonts = typst_compile.bundled_fonts(typst_compile.FONT_DIR)
    assert fonts.families() == ["DejaVu Sans"]
    assert len(fonts.fonts()) == len(list(typst_compile.FONT_DIR.glob("*.ttf")))


def test_table_of_contents_follows_the_title_page(
    full_year: tuple[Journal, SourceAttachment, RenderedDocument],
) -> None:
    journal, _, document = full_year
    reader = pypdf.PdfReader(io.BytesIO(document.pdf))
    contents = " ".join(reader.pages[1].extract_text().split())
    assert "Зміст Список учнів" in contents  # after the running header
    entries = ["Список учнів"]
    for subject in journal.subjects:
        entries += [subject.name, "Зміст уроків і домашні завдання", "Підсумкове оцінювання"]
    entries += ["Зведена відомість обліку навчальних досягнень учнів", "Облік відвідування"]
    position = contents.index("Зміст")
    for entry in entries:
        # the entry, its dot leader, its page number
        found = re.compile(rf"{re.escape(entry)}[^.\d]* ?\.[ .]*(\d+)").search(contents, position)
        assert found, entry
        position = found.end()
    # the pupils list comes right after the contents, on the page the contents names
    first = int(re.search(r"Список учнів[ .]*?(\d+)", contents).group(1))
    assert "Список учнів" in reader.pages[first - 1].extract_text()


def test_xmp_identifies_pdf_a_3u(tiny: RenderedDocument) -> None:
    reader = pypdf.PdfReader(io.BytesIO(tiny.pdf))
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert "<pdfaid:part>3</pdfaid:part>" in xmp
    assert "<pdfaid:conformance>U</pdfaid:conformance>" in xmp
    assert "/OutputIntents" in reader.trailer["/Root"]


def test_metadata_title_author_and_no_producer(tiny: RenderedDocument) -> None:
    reader = pypdf.PdfReader(io.BytesIO(tiny.pdf))
    info = reader.metadata
    assert info is not None
    assert info["/Title"] == (
        "Класний журнал 7-Б, 2023/2024 — Ліцей № 17 «Ґрунт» Їжакевицької міської ради"
    )
    assert info["/Author"] == "Ліцей № 17 «Ґрунт» Їжакевицької міської ради"
    assert info["/CreationDate"] == "D:20240628113005Z"  # the export time, in UTC
    # Signing appends revisions; PDF/A needs Info and XMP producers equal, so neither has one.
    assert "/Producer" not in info
    xmp = reader.trailer["/Root"]["/Metadata"].get_object().get_data().decode()
    assert "pdf:Producer" not in xmp


def test_source_export_is_attached_byte_for_byte(tiny: RenderedDocument) -> None:
    reader = pypdf.PdfReader(io.BytesIO(tiny.pdf))
    [spec] = [ref.get_object() for ref in reader.trailer["/Root"]["/AF"]]
    assert spec["/AFRelationship"] == "/Source"
    assert spec["/F"] == spec["/UF"] == "journal.json"
    assert "Оригінальний експорт" in spec["/Desc"]
    stream = spec["/EF"]["/F"].get_object()
    assert stream["/Subtype"] == "/application/json"
    assert stream.get_data() == SOURCE.data
    assert reader.attachments == {"journal.json": [SOURCE.data]}


def test_xml_source_gets_xml_mime_type(renderer: TypstRenderer) -> None:
    data = b"<?xml version='1.0'?><j>\xd1\x97</j>"
    xml = SourceAttachment("journal.xml", "application/xml", data)
    pdf = renderer.render(tiny_journal(), xml, INFO).pdf
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    spec = reader.trailer["/Root"]["/AF"][0].get_object()
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/application/xml"
    assert reader.attachments == {"journal.xml": [xml.data]}


def test_every_font_is_embedded(tiny: RenderedDocument) -> None:
    reader = pypdf.PdfReader(io.BytesIO(tiny.pdf))
    fonts = {}
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font["/DescendantFonts"][0].get_object()
            fonts[str(font["/BaseFont"])] = descendant["/FontDescriptor"].get_object()
    assert any("DejaVuSans-Bold" in name for name in fonts)
    assert any("Condensed" in name for name in fonts)
    assert all("/FontFile2" in descriptor for descriptor in fonts.values()), fonts


TINY_TEXTS = (
    "Ґалаґан Гліб",
    "Іваненко Ївга",
    "Чорновіл Мар’яна",
    "Яковенко Соломія",
    "Українська мова",
    "Фізична культура",
    "Апостроф: м’ята, п’ять, б’ють",
    "Контрольна робота № 1 з теми «Ґрунти і їжа»",
    "звільн.",
    "н/а",
    "Код ЄДРПОУ",
    "24681357",
    INFO.document_id,
    "Порівняйте SHA-256.",
    "Сторінка 1 з ",
)


def test_tiny_journal_text_is_exact(tiny: RenderedDocument) -> None:
    text = text_of(tiny.pdf)
    for expected in TINY_TEXTS:
        assert expected in text, expected
    # the Ґалаґан row of the Українська мова grid: number, name, н, (empty), 4
    assert re.search(r"1 Ґалаґан Гліб н 4\b", text)


def test_test_notice_only_with_test_pki(renderer: TypstRenderer, tiny: RenderedDocument) -> None:
    assert TEST_NOTICE_START in text_of(tiny.pdf)
    assert TEST_NOTICE.startswith(TEST_NOTICE_START)
    real = renderer.render(tiny_journal(), SOURCE, dataclasses.replace(INFO, test_pki=False))
    assert "ТЕСТОВИЙ" not in text_of(real.pdf)


def test_same_input_gives_the_same_bytes(renderer: TypstRenderer, tiny: RenderedDocument) -> None:
    assert renderer.render(tiny_journal(), SOURCE, INFO).pdf == tiny.pdf


def test_full_year_pdf_has_every_name_subject_and_sampled_topics(
    full_year: tuple[Journal, SourceAttachment, RenderedDocument], full_year_text: str
) -> None:
    journal, source, document = full_year
    reader = pypdf.PdfReader(io.BytesIO(document.pdf))
    assert reader.attachments == {source.filename: [source.data]}
    for pupil in journal.pupils:
        assert pupil.full_name in full_year_text, pupil.full_name
    for subject in journal.subjects:
        assert subject.name in full_year_text, subject.name
        assert subject.teacher in full_year_text
        for lesson in subject.lessons[:: max(1, len(subject.lessons) // 5)]:
            topic = " ".join(lesson.topic.split())
            assert topic in " ".join(full_year_text.split()), topic


def test_full_year_pdf_prints_every_mark(
    full_year: tuple[Journal, SourceAttachment, RenderedDocument], full_year_text: str
) -> None:
    """Every mark value occurs as a whole word, as often as the journal has it or more."""
    journal = full_year[0]
    expected: dict[str, int] = {}
    for subject in journal.subjects:
        for lesson in subject.lessons:
            for mark in lesson.marks:
                expected[mark.value] = expected.get(mark.value, 0) + 1
    for value, count in expected.items():
        found = len(re.findall(rf"(?<!\S){re.escape(value)}(?!\S)", full_year_text))
        assert found >= count, (value, found, count)
    pages = len(pypdf.PdfReader(io.BytesIO(full_year[2].pdf)).pages)
    assert f"Сторінка {pages} з {pages}" in full_year_text


def test_typst_error_becomes_render_error(
    renderer: TypstRenderer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(typst_compile, "_template_source", lambda: b"#let x = (1, 2).at(5)")
    with pytest.raises(RenderError, match="array index out of bounds") as caught:
        renderer.render(tiny_journal(), SOURCE, INFO)
    # The same journal fails the same way every time: the client's to change, never a 500.
    assert caught.value.code == "render_failed" and caught.value.status == 422
    assert [d.path for d in caught.value.details] == ["/"]


def test_typst_warning_becomes_render_error(
    renderer: TypstRenderer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Without the font folder Typst only warns ("unknown font family") and would produce
    # a PDF/A whose text is missing: that must fail.
    monkeypatch.setattr(typst_compile, "FONT_DIR", tmp_path)
    with pytest.raises(RenderError, match="unknown font family"):
        renderer.render(tiny_journal(), SOURCE, INFO)


@pytest.mark.parametrize(
    ("name", "media_type", "expected"),
    [
        ("journal.json", "application/json", "journal.json"),
        ("export-7b_2024.xml", "application/xml", "export-7b_2024.xml"),
        ("../../etc/passwd", "application/json", "passwd"),
        ("C:\\temp\\journal.xml", "application/xml", "journal.xml"),
        ("журнал.json", "application/json", "journal.json"),
        (".hidden", "application/xml", "journal.xml"),
        ("", "application/octet-stream", "journal.bin"),
    ],
)
def test_attachment_filename_is_a_plain_name(name: str, media_type: str, expected: str) -> None:
    assert typst_compile.attachment_filename(SourceAttachment(name, media_type, b"")) == expected


class TestWorkerProcesses:
    def test_renders_in_a_worker_and_recycles_it(self) -> None:
        with TypstRenderer(jobs_per_worker=2) as renderer:
            pids = []
            for _ in range(3):
                document = renderer.render(tiny_journal(), SOURCE, INFO)
                assert document.pdf.startswith(b"%PDF-")
                assert renderer.last_report is not None
                pids.append(renderer.last_report.pid)
        assert pids[0] == pids[1] != pids[2]
        assert renderer.last_report.peak_rss_bytes > 10 * 2**20

    def test_default_worker_renders_one_document_and_reports_its_memory(self) -> None:
        with TypstRenderer() as renderer:
            reports = []
            for _ in range(2):
                renderer.render(tiny_journal(), SOURCE, INFO)
                assert renderer.last_report is not None
                reports.append(renderer.last_report)
        assert reports[0].pid != reports[1].pid
        for report in reports:
            assert 10 * 2**20 < report.start_rss_bytes < report.peak_rss_bytes

    def test_typst_error_in_worker_becomes_render_error(self) -> None:
        journal = tiny_journal()
        unknown = dataclasses.replace(journal.subjects[0].lessons[0].marks[0], pupil_id="ghost")
        lesson = dataclasses.replace(journal.subjects[0].lessons[0], marks=(unknown,))
        subject = dataclasses.replace(journal.subjects[0], lessons=(lesson,))
        broken = dataclasses.replace(journal, subjects=(subject,))
        with TypstRenderer() as renderer, pytest.raises(RenderError, match="ghost"):
            renderer.render(broken, SOURCE, INFO)

    def test_crashed_worker_becomes_render_error_and_is_replaced(self) -> None:
        class CrashingRenderer(TypstRenderer):
            _job = staticmethod(crash_job)

        # Without a memory cap a dead worker is the service's trouble (503, retry) ...
        with CrashingRenderer(memory_limit_bytes=None) as renderer:
            with pytest.raises(RenderUnavailable, match="stopped unexpectedly") as caught:
                renderer.render(tiny_journal(), SOURCE, INFO)
            assert caught.value.status == 503
            CrashingRenderer._job = staticmethod(TypstRenderer._job)
            assert renderer.render(tiny_journal(), SOURCE, INFO).pdf.startswith(b"%PDF-")
        # ... under a cap it is a journal that needed more than the cap (413).
        CrashingRenderer._job = staticmethod(crash_job)
        try:
            with CrashingRenderer() as renderer, pytest.raises(RenderTooLarge) as too_large:
                renderer.render(tiny_journal(), SOURCE, INFO)
        finally:
            CrashingRenderer._job = staticmethod(TypstRenderer._job)
        assert too_large.value.status == 413 and too_large.value.code == "too_large_to_render"

    def test_memory_error_in_the_worker_is_too_large(self) -> None:
        class FailingRenderer(TypstRenderer):
            _job = staticmethod(boom_job)

        with FailingRenderer() as renderer, pytest.raises(RenderTooLarge, match="too large"):
            renderer.render(tiny_journal(), SOURCE, INFO)

    def test_unexpected_worker_exception_becomes_render_error(self) -> None:
        class FailingRenderer(TypstRenderer):
            _job = staticmethod(odd_job)

        with FailingRenderer() as renderer, pytest.raises(RenderError, match="LookupError"):
            renderer.render(tiny_journal(), SOURCE, INFO)

    def test_a_journal_beyond_the_memory_cap_is_refused_and_the_next_one_renders(self) -> None:
        """The worker's data segment is capped: the standard full-year journal needs ~370 MiB,
        so under 160 MiB its render fails cleanly (413) instead of growing, and the renderer
        goes on with a fresh worker."""
        journal, source = full_year_source()
        with TypstRenderer(memory_limit_bytes=160 * 2**20) as renderer:
            with pytest.raises(RenderTooLarge, match="160 MiB") as caught:
                renderer.render(journal, source, INFO)
            assert caught.value.status == 413
            assert caught.value.details[0].path == "/"
            document = renderer.render(tiny_journal(), SOURCE, INFO)
            assert document.pdf.startswith(b"%PDF-")
            assert renderer.last_report is not None
            assert renderer.last_report.peak_rss_bytes < 160 * 2**20 + 64 * 2**20

    def test_documents_queued_behind_a_dying_worker_are_rendered_by_a_fresh_one(self) -> None:
        """A worker that dies takes its pool's queued jobs with it; only the document it was
        rendering is refused, the one queued behind it is rendered by a new worker."""

        class OneDoomedRenderer(TypstRenderer):
            _job = staticmethod(crash_for_one_journal)

        journal = tiny_journal()
        doomed = dataclasses.replace(
            journal, school_class=dataclasses.replace(journal.school_class, name=DOOMED_CLASS)
        )
        outcomes: dict[str, object] = {}

        def render(name: str, which: Journal) -> None:
            try:
                outcomes[name] = renderer.render(which, SOURCE, INFO)
            except RenderError as error:
                outcomes[name] = error

        with OneDoomedRenderer() as renderer:
            first = threading.Thread(target=render, args=("doomed", doomed))
            first.start()
            time.sleep(0.3)  # the doomed job is running; the next one queues behind it
            second = threading.Thread(target=render, args=("innocent", journal))
            second.start()
            first.join(60)
            second.join(60)
        assert isinstance(outcomes["doomed"], RenderTooLarge)
        innocent = outcomes["innocent"]
        assert isinstance(innocent, RenderedDocument) and innocent.pdf.startswith(b"%PDF-")

    def test_render_errors_cross_the_process_boundary_with_their_status(self) -> None:
        for error in (RenderError("x"), RenderTooLarge("y"), RenderUnavailable("z")):
            again = pickle.loads(pickle.dumps(error))
            assert (type(again), again.status, again.message) == (
                type(error),
                error.status,
                error.message,
            )
            assert again.details == error.details
