"""veraPDF's verdict on the archival PDFs: PDF/A-3u when rendered and after every signature level.

All documents are validated in one veraPDF run (the JVM start costs about a second per run); the
tests then look up their file in the shared report. A plain, non-PDF/A file rides along so that
a wrapper that silently passes everything would be caught.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typst

from archive_service.journal.parse import parse_export
from archive_service.render import DocumentInfo, SourceAttachment, TypstRenderer
from archive_service.signing import TestPki
from archive_service.signing.pades import LEVELS

from .verapdf import FileReport, VeraPdfMissing, find_launcher, validate

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "schemas" / "examples"
#: The renderer's profile (``archive_service.render.PDF_PROFILE``) as a veraPDF flavour.
FLAVOUR = "3u"
INFO = DocumentInfo(
    document_id="0b9e3c4d-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
    version=1,
    test_pki=True,
    verification_note="Відкрийте файл у програмі перевірки КЕП.",
)
JOURNALS = ("journal-7b", "journal-2a", "full-year")
STAGES = ("rendered", *(f"signed-{level}" for level in LEVELS))
CONTROL = "control-not-pdfa"


@dataclass(frozen=True)
class Batch:
    """The files handed to veraPDF, by name, and its report on each."""

    files: dict[str, Path]
    reports: dict[Path, FileReport]

    def report(self, name: str) -> FileReport:
        return self.reports[self.files[name].resolve()]


def export_bytes(journal: str) -> bytes:
    if journal != "full-year":
        return (EXAMPLES / f"{journal}.json").read_bytes()
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from generate_journal import generate_export
    finally:
        sys.path.remove(str(REPO / "scripts"))
    export = generate_export(pupils=30, subjects=14, seed=0)
    return json.dumps(export, ensure_ascii=False).encode()


@pytest.fixture(scope="module")
def launcher() -> Path:
    try:
        return find_launcher()
    except VeraPdfMissing as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing} (in CI veraPDF is required)")
        pytest.skip(str(missing))


@pytest.fixture(scope="module")
def renderer() -> Iterator[TypstRenderer]:
    with TypstRenderer(in_process=True) as in_process:
        yield in_process


@pytest.fixture(scope="module")
def batch(
    launcher: Path, renderer: TypstRenderer, tmp_path_factory: pytest.TempPathFactory
) -> Batch:
    folder = tmp_path_factory.mktemp("pdfa")
    pki = TestPki.load_or_create(tmp_path_factory.mktemp("pdfa-pki"))
    signers = {level: pki.signer(level=level) for level in LEVELS}
    contents: dict[str, bytes] = {}
    for journal in JOURNALS:
        data = export_bytes(journal)
        parsed = parse_export(data, "application/json")
        source = SourceAttachment(parsed.filename, parsed.media_type, data)
        rendered = renderer.render(parsed.journal, source, INFO).pdf
        contents[f"{journal}-rendered"] = rendered
        for level, signer in signers.items():
            signed = signer.sign(rendered, reason="Архівування", location="Київ")
            assert signed.level == level
            contents[f"{journal}-signed-{level}"] = signed.pdf
    plain = folder / "control.typ"
    plain.write_text('#set document(title: "Control")\nNot PDF/A', encoding="utf-8")
    contents[CONTROL] = typst.compile(str(plain), format="pdf")
    files = {name: folder / f"{name}.pdf" for name in contents}
    for name, pdf in contents.items():
        files[name].write_bytes(pdf)
    return Batch(files, validate(list(files.values()), FLAVOUR, launcher=launcher))


def test_verapdf_reports_a_file_that_is_not_pdf_a(batch: Batch) -> None:
    report = batch.report(CONTROL)
    assert not report.compliant
    assert "PDF/A-3U" in report.profile
    assert any(rule.clause == "6.6.4" for rule in report.failed_rules), report.failed_rules


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("journal", JOURNALS)
def test_journal_is_pdf_a_3u(batch: Batch, journal: str, stage: str) -> None:
    report = batch.report(f"{journal}-{stage}")
    assert "PDF/A-3U" in report.profile
    assert report.failed_rules == (), "\n".join(map(str, report.failed_rules))
    assert report.compliant
