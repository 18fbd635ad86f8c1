"""veraPDF's verdict on the archival PDFs, per profile, when rendered and after signing.

Every profile's documents are validated in one veraPDF run (the JVM takes about a second to
start); the tests then look up their file in the shared report. A plain, non-PDF/A file rides
along in each run so that a wrapper that silently passes everything would be caught.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import typst

from archive_service.journal.parse import parse_export
from archive_service.render import (
    PDF_PROFILE,
    PDF_PROFILE_A1B,
    PDF_PROFILE_A3A,
    DocumentInfo,
    SourceAttachment,
    TypstRenderer,
)
from archive_service.signing import add_archive_timestamp
from archive_service.signing.pades import LEVELS
from archive_service.signing.test_pki import TestPki

from .verapdf import FileReport, VeraPdfMissing, find_launcher, validate

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "schemas" / "examples"
INFO = DocumentInfo(
    document_id="0b9e3c4d-5f6a-4b7c-8d9e-0f1a2b3c4d5e",
    version=1,
    test_pki=True,
    verification_note="Відкрийте файл у програмі перевірки КЕП.",
)
#: Synthetic journals (pupils, subjects) beside the schema examples.
SYNTHETIC = {"full-year": (30, 14), "large": (35, 18)}
CONTROL = "control-not-pdfa"


@dataclass(frozen=True)
class Plan:
    """What one profile's veraPDF run checks: which journals, at which stages."""

    profile: str
    #: veraPDF's name for the profile (``--flavour``) and the profile name it reports.
    flavour: str
    reported: str
    #: journal → stages (``rendered``, ``signed-<level>``).
    journals: dict[str, tuple[str, ...]]

    def names(self) -> list[tuple[str, str]]:
        return [(journal, stage) for journal, stages in self.journals.items() for stage in stages]


#: ``renewed-B-LTA``: a B-LTA copy after one archive timestamp renewal (second TSA).
ALL_STAGES = ("rendered", *(f"signed-{level}" for level in LEVELS), "renewed-B-LTA")
PLANS = {
    PDF_PROFILE: Plan(
        PDF_PROFILE,
        "3u",
        "PDF/A-3U",
        {
            "journal-7b": ALL_STAGES,
            "journal-2a": ALL_STAGES,
            "full-year": ALL_STAGES,
            # the largest journal, only rendered and at the strongest level, to keep the run short
            "large": ("rendered", "signed-B-LTA"),
        },
    ),
    PDF_PROFILE_A1B: Plan(
        PDF_PROFILE_A1B,
        "1b",
        "PDF/A-1B",
        {"journal-7b": ALL_STAGES, "full-year": ALL_STAGES},
    ),
    # Tagged: veraPDF also checks the structure tree, language and Unicode mapping. The
    # full-year file is ~9 MB (~8 s of veraPDF each), so only it and its B-LTA copy.
    PDF_PROFILE_A3A: Plan(
        PDF_PROFILE_A3A,
        "3a",
        "PDF/A-3A",
        {
            "journal-7b": ALL_STAGES,
            "full-year": ("rendered", "signed-B-LTA"),
        },
    ),
}
CASES = [
    pytest.param(profile, journal, stage, id=f"{plan.flavour}-{journal}-{stage}")
    for profile, plan in PLANS.items()
    for journal, stage in plan.names()
]


@dataclass(frozen=True)
class Batch:
    """The files handed to veraPDF, by name, and its report on each."""

    files: dict[str, Path]
    reports: dict[Path, FileReport]

    def report(self, name: str) -> FileReport:
        return self.reports[self.files[name].resolve()]


def export_bytes(journal: str) -> bytes:
    if journal not in SYNTHETIC:
        return (EXAMPLES / f"{journal}.json").read_bytes()
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        from generate_journal import generate_export
    finally:
        sys.path.remove(str(REPO / "scripts"))
    pupils, subjects = SYNTHETIC[journal]
    export = generate_export(pupils=pupils, subjects=subjects, seed=0)
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
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.load_or_create(tmp_path_factory.mktemp("pdfa-pki"))


@pytest.fixture(scope="module")
def batches(
    launcher: Path,
    renderer: TypstRenderer,
    pki: TestPki,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Batch]:
    """One veraPDF run per profile, each over all of that profile's files."""
    signers = {level: pki.signer(level=level) for level in LEVELS}
    plain = tmp_path_factory.mktemp("control") / "control.typ"
    plain.write_text('#set document(title: "Control")\nNot PDF/A', encoding="utf-8")
    control = typst.compile(str(plain), format="pdf")
    batches = {}
    for profile, plan in PLANS.items():
        folder = tmp_path_factory.mktemp(f"pdfa-{plan.flavour}")
        contents: dict[str, bytes] = {CONTROL: control}
        for journal, stages in plan.journals.items():
            data = export_bytes(journal)
            parsed = parse_export(data, "application/json")
            source = SourceAttachment(parsed.filename, parsed.media_type, data)
            rendered = renderer.render(parsed.journal, source, replace(INFO, profile=profile))
            assert rendered.profile == profile
            for stage in stages:
                if stage == "rendered":
                    contents[f"{journal}-{stage}"] = rendered.pdf
                    continue
                level = stage.split("-", 1)[1]
                signed = signers[level].sign(rendered.pdf, reason="Архівування", location="Київ")
                assert signed.level == level
                pdf = signed.pdf
                if stage.startswith("renewed-"):
                    pdf = add_archive_timestamp(
                        pdf,
                        pki.timestamper(renewal=True),
                        trust_roots=[pki.root_cert],
                        fetcher_backend=pki.fetcher_backend(),
                    )
                contents[f"{journal}-{stage}"] = pdf
        files = {name: folder / f"{name}.pdf" for name in contents}
        for name, pdf in contents.items():
            files[name].write_bytes(pdf)
        reports = validate(list(files.values()), plan.flavour, launcher=launcher)
        batches[profile] = Batch(files, reports)
    return batches


@pytest.mark.parametrize("profile", PLANS)
def test_verapdf_reports_a_file_that_is_not_pdf_a(batches: dict[str, Batch], profile: str) -> None:
    report = batches[profile].report(CONTROL)
    assert not report.compliant
    assert PLANS[profile].reported in report.profile
    assert report.failed_rules, "a plain PDF passed as PDF/A"


@pytest.mark.parametrize(("profile", "journal", "stage"), CASES)
def test_journal_conforms_to_its_profile(
    batches: dict[str, Batch], profile: str, journal: str, stage: str
) -> None:
    report = batches[profile].report(f"{journal}-{stage}")
    assert PLANS[profile].reported in report.profile
    assert report.failed_rules == (), "\n".join(map(str, report.failed_rules))
    assert report.compliant
