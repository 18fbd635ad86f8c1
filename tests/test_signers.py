"""Signers chosen by configuration: a key file with a real HTTP TSA and real OCSP/CRL fetching
(the test PKI's responders served on 127.0.0.1), levels per institution, and start-up errors
that name the setting to fix."""

from __future__ import annotations

from pathlib import Path

import pytest
import typst

from archive_service.config import ConfigurationError, load_settings
from archive_service.signers import build_sealing, load_trust_anchors
from archive_service.signing import LEVELS, SigningError, validate_pdf
from archive_service.signing.test_pki import TEST_PKCS12_PASSPHRASE, TSA_PATH, TestPki, serve_pki
from tests.signing.conftest import SAMPLE_SOURCE

EDRPOU = "26453182"


@pytest.fixture
def pki(tmp_path: Path) -> TestPki:
    """A PKI of its own, so its loopback port is not held by another test's server."""
    return TestPki.load_or_create(tmp_path / "pki")


@pytest.fixture
def pdf(tmp_path: Path) -> bytes:
    source = tmp_path / "sample.typ"
    source.write_bytes(SAMPLE_SOURCE)
    return typst.compile(str(source), format="pdf", pdf_standards=["a-3u"])


@pytest.fixture
def anchors(tmp_path: Path, pki: TestPki) -> Path:
    folder = tmp_path / "anchors"
    folder.mkdir()
    (folder / "root.pem").write_bytes(pki.root_pem())
    return folder


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_bytes(TEST_PKCS12_PASSPHRASE + b"\n")
    return path


def _pkcs12_settings(
    tmp_path: Path, pki: TestPki, anchors: Path, passphrase_file: Path, **extra: object
) -> object:
    return load_settings(
        {},
        {
            "data_dir": tmp_path / "var",
            "signer": "pkcs12",
            "pkcs12_file": str(pki.pkcs12_path),
            "pkcs12_passphrase_file": str(passphrase_file),
            "trust_anchors_dir": str(anchors),
            "tsa_url": pki.base_url + TSA_PATH,
            **extra,
        },
    )


def test_pkcs12_signer_reaches_b_lta_over_http(
    tmp_path: Path, pki: TestPki, anchors: Path, passphrase_file: Path, pdf: bytes
) -> None:
    settings = _pkcs12_settings(
        tmp_path, pki, anchors, passphrase_file, signature_level_by_institution={EDRPOU: "B-T"}
    )
    with serve_pki(pki):
        setup = build_sealing(settings)  # type: ignore[arg-type]
        default = setup.sealer_for("00000000").seal(pdf, reason="Архівування")
        exception = setup.sealer_for(EDRPOU).seal(pdf, reason="Архівування")
    assert setup.test_pki is False
    assert (default.level, default.signer_kind, default.qualified) == ("B-LTA", "pkcs12", False)
    assert exception.level == "B-T"
    # Everything needed later is embedded: validation needs no server.
    report = validate_pdf(default.pdf, setup.trust_roots)
    assert report.all_valid and report.signatures[0].level == "B-LTA"


@pytest.mark.parametrize("level", LEVELS)
def test_pkcs12_signer_at_every_level(
    tmp_path: Path, pki: TestPki, anchors: Path, passphrase_file: Path, pdf: bytes, level: str
) -> None:
    settings = _pkcs12_settings(tmp_path, pki, anchors, passphrase_file, signature_level=level)
    with serve_pki(pki):
        setup = build_sealing(settings)  # type: ignore[arg-type]
        signed = setup.sealer_for(EDRPOU).seal(pdf, reason="Архівування")
    assert (signed.level, signed.signer_kind) == (level, "pkcs12")
    report = validate_pdf(signed.pdf, setup.trust_roots)
    assert report.all_acceptable and report.signatures[0].level == level
    # B-B and B-T carry no revocation data: sound, but indeterminate (as EU DSS says)
    assert report.all_valid is (level in ("B-LT", "B-LTA"))


def test_unreachable_tsa_fails_the_signature_never_a_weaker_level(
    tmp_path: Path, pki: TestPki, anchors: Path, passphrase_file: Path, pdf: bytes
) -> None:
    settings = _pkcs12_settings(tmp_path, pki, anchors, passphrase_file, signature_level="B-T")
    setup = build_sealing(settings)  # type: ignore[arg-type]
    # Nothing listens on the PKI's port now.
    with pytest.raises(SigningError) as caught:
        setup.sealer_for(EDRPOU).seal(pdf, reason="Архівування")
    assert caught.value.status == 503


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"trust_anchors_dir": ""}, "ARCHIVE_TRUST_ANCHORS_DIR"),
        ({"tsa_url": ""}, "ARCHIVE_TSA_URL"),
        ({"pkcs12_file": ""}, "ARCHIVE_PKCS12_FILE"),
        ({"pkcs12_passphrase_file": "/nonexistent/passphrase"}, "cannot be read"),
    ],
)
def test_misconfiguration_stops_the_start_naming_the_setting(
    tmp_path: Path,
    pki: TestPki,
    anchors: Path,
    passphrase_file: Path,
    override: dict,
    fragment: str,
) -> None:
    settings = _pkcs12_settings(tmp_path, pki, anchors, passphrase_file, **override)
    with pytest.raises(ConfigurationError) as caught:
        build_sealing(settings)  # type: ignore[arg-type]
    assert fragment in caught.value.message


def test_wrong_passphrase_stops_the_start(
    tmp_path: Path, pki: TestPki, anchors: Path, passphrase_file: Path
) -> None:
    passphrase_file.write_bytes(b"not the passphrase")
    settings = _pkcs12_settings(tmp_path, pki, anchors, passphrase_file)
    with pytest.raises(ConfigurationError) as caught:
        build_sealing(settings)  # type: ignore[arg-type]
    assert "pkcs12 signer could not be opened" in caught.value.message


def test_trust_anchors_read_pem_bundles_and_der(tmp_path: Path, pki: TestPki) -> None:
    folder = tmp_path / "anchors"
    folder.mkdir()
    (folder / "bundle.pem").write_bytes(pki.root_pem() + pki.root_pem())
    (folder / "root.der").write_bytes(pki.root_cert.dump())
    (folder / ".hidden").write_bytes(b"ignored")
    assert [cert.sha256 for cert in load_trust_anchors(str(folder))] == [pki.root_cert.sha256] * 3
    (folder / "broken.pem").write_bytes(b"not a certificate")
    with pytest.raises(ConfigurationError, match=r"broken\.pem"):
        load_trust_anchors(str(folder))


def test_unknown_signer_and_level_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="ARCHIVE_SIGNER "):
        load_settings({"ARCHIVE_SIGNER": "smartcard"})
    with pytest.raises(ConfigurationError, match="ARCHIVE_SIGNATURE_LEVEL_BY_INSTITUTION"):
        load_settings({"ARCHIVE_SIGNATURE_LEVEL_BY_INSTITUTION": f"{EDRPOU}=B-Q"})
