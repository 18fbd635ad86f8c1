"""Settings from the environment, and the per-institution PDF/A profile end to end."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from archive_service import create_app
from archive_service.config import ConfigurationError, load_settings
from tests.conftest import EXAMPLES, Tokens, example_edrpou, upload


def test_mapping_settings_from_the_environment() -> None:
    settings = load_settings(
        {
            "ARCHIVE_RETENTION_YEARS": "class_journal=75, summary=10",
            "ARCHIVE_PDF_PROFILE_BY_INSTITUTION": "26453182=PDF/A-1b",
            "ARCHIVE_REQUIRE_PURPOSE": "yes",
        }
    )
    assert settings.retention_for("class_journal") == 75
    assert settings.pdf_profile_for("26453182") == "PDF/A-1b"
    assert settings.pdf_profile_for("12345678") == "PDF/A-3u"
    assert settings.require_purpose is True
    assert settings.render_memory_mb == 1024  # the render worker's cap unless configured
    assert load_settings({"ARCHIVE_RENDER_MEMORY_MB": "0"}).render_memory_mb == 0


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("ARCHIVE_RETENTION_YEARS", "class_journal=five", "whole years"),
        ("ARCHIVE_PDF_PROFILE_BY_INSTITUTION", "26453182", "26453182=PDF/A-1b"),
        ("ARCHIVE_REQUIRE_PURPOSE", "perhaps", "true or false"),
        ("ARCHIVE_SIGNATURE_LEVEL", "B-Z", "B-B, B-T, B-LT, B-LTA"),
        ("ARCHIVE_RENDER_MEMORY_MB", "64", "0 \\(no cap\\) or at least 128"),
        ("ARCHIVE_RENDER_MEMORY_MB", "-1", "0 \\(no cap\\) or at least 128"),
    ],
)
def test_bad_settings_say_what_to_write(variable: str, value: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        load_settings({variable: value})


def test_unknown_profile_is_refused_at_start(data_dir: Path) -> None:
    with pytest.raises(ConfigurationError, match="PDF/A-1b"):
        create_app({"data_dir": data_dir, "pdf_profile": "PDF/A-2b"})


def test_institution_configured_for_pdf_a_1b(data_dir: Path, tokens_factory) -> None:  # type: ignore[no-untyped-def]
    app = create_app(
        {
            "data_dir": data_dir,
            "render_in_process": True,
            "pdf_profile_by_institution": {example_edrpou(): "PDF/A-1b"},
        }
    )
    tokens = tokens_factory(app.extensions["archive"])
    client = app.test_client()
    export = (EXAMPLES / "journal-7b.json").read_bytes()
    created = upload(client, tokens.archivist, export)
    assert created.status_code == 201, created.get_json()
    document_id = created.get_json()["document_id"]
    assert created.get_json()["document"]["versions"][0]["pdf_profile"] == "PDF/A-1b"
    pdf = client.get(
        f"/api/v1/documents/{document_id}/pdf", headers=Tokens.header(tokens.inspector)
    ).data
    assert pdf.startswith(b"%PDF-1.4")
    reader = PdfReader(io.BytesIO(pdf))
    assert not reader.attachments  # PDF/A-1 cannot embed files: the hash is printed instead
    title_page = reader.pages[0].extract_text()
    assert hashlib.sha256(export).hexdigest() in title_page.replace("\n", "").replace(" ", "")
    report = client.get(
        f"/api/v1/documents/{document_id}/verification", headers=Tokens.header(tokens.inspector)
    ).get_json()
    assert report["valid"] is True
