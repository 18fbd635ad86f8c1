"""Fixtures of the signing room: one test PKI and one small PDF/A for the whole run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import typst

from archive_service.signing import SignedDocument
from archive_service.signing.test_pki import TestPki

if TYPE_CHECKING:
    from .dss import DssValidator

#: Typst source of the stand-in for a rendered journal: PDF/A-3u with Info and XMP metadata.
SAMPLE_SOURCE = b'#set document(title: "Klasnyi zhurnal", author: "journal-archive")\nHello'


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    return TestPki.load_or_create(tmp_path_factory.mktemp("signing-pki"))


@pytest.fixture(scope="session")
def foreign_pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """Another organisation's PKI: same shape, different root."""
    return TestPki.load_or_create(tmp_path_factory.mktemp("foreign-pki"), organisation="elsewhere")


@pytest.fixture(scope="session")
def unsigned_pdf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    source = tmp_path_factory.mktemp("typst") / "sample.typ"
    source.write_bytes(SAMPLE_SOURCE)
    return typst.compile(str(source), format="pdf", pdf_standards=["a-3u"])


@pytest.fixture(scope="session")
def signed_bt(pki: TestPki, unsigned_pdf: bytes) -> SignedDocument:
    return pki.signer().sign(unsigned_pdf, reason="Архівування", location="Київ")


@pytest.fixture(scope="session")
def pki_dir(pki: TestPki) -> Path:
    return pki.directory


@pytest.fixture(scope="session")
def signed_at_level(pki: TestPki, unsigned_pdf: bytes) -> dict[str, SignedDocument]:
    """One document per PAdES level, signed once for the whole run."""
    from archive_service.signing import LEVELS

    return {
        level: pki.signer(level).sign(unsigned_pdf, reason="Архівування", location="Київ")
        for level in LEVELS
    }


@pytest.fixture(scope="session")
def renewed_lta(pki: TestPki, signed_at_level: dict[str, SignedDocument]) -> bytes:
    """The B-LTA document after one archive timestamp renewal with the second TSA."""
    from archive_service.signing import add_archive_timestamp

    return add_archive_timestamp(
        signed_at_level["B-LTA"].pdf,
        pki.timestamper(renewal=True),
        trust_roots=[pki.root_cert],
        fetcher_backend=pki.fetcher_backend(),
    )


@pytest.fixture(scope="session")
def dss() -> Iterator[DssValidator]:
    """EU DSS (scripts/install-dss.sh), one JVM for the whole run.

    Outside CI a machine without the validator skips these tests, saying how to install it; in
    CI (``CI`` set) a missing validator fails them.
    """
    from .dss import DssMissing, DssValidator, find_launcher

    try:
        launcher = find_launcher()
    except DssMissing as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing} (in CI the DSS validator is required)")
        pytest.skip(str(missing))
    with DssValidator(launcher) as validator:
        yield validator
