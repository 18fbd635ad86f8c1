"""The EU DSS harness works: DSS passes our B-LTA seal and fails it once a signed byte changes.

Only a smoke test of ``tests/signing/dss.py`` and ``scripts/dss-validator``: what DSS says about
each level and validation time belongs to the tests that use the ``dss`` fixture.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from archive_service.signing import SignedDocument
from archive_service.signing.test_pki import TestPki

from .alterations import flip_signed_byte
from .dss import DssError, DssValidator, pinned_version, source_hash


@pytest.fixture(scope="module")
def root_pem(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("dss-trust") / "root.pem"
    path.write_bytes(pki.root_pem())
    return path


def test_b_lta_passes_now(
    dss: DssValidator,
    signed_at_level: dict[str, SignedDocument],
    root_pem: Path,
    tmp_path: Path,
) -> None:
    etsi = tmp_path / "etsi.xml"
    before = dt.datetime.now(dt.UTC)

    report = dss.validate(signed_at_level["B-LTA"].pdf, [root_pem], etsi_report=etsi)

    signature = report.signature
    assert (signature.indication, signature.sub_indication) == ("TOTAL_PASSED", None), (
        signature.errors
    )
    assert signature.signature_format == "PAdES-BASELINE-LTA"
    assert signature.level == "B-LTA"
    # The best signature time is the signature timestamp's, not the validation time.
    assert signature.best_signature_time is not None
    assert signature.best_signature_time <= before
    assert report.validation_time >= before - dt.timedelta(seconds=1)
    kinds = sorted(ts.type for ts in report.timestamps_of(signature))
    assert kinds == ["DOCUMENT_TIMESTAMP", "SIGNATURE_TIMESTAMP"]
    assert all(ts.indication == "PASSED" for ts in report.timestamps)
    assert b"ValidationReport" in etsi.read_bytes()


def test_one_flipped_byte_fails(
    dss: DssValidator, signed_at_level: dict[str, SignedDocument], root_pem: Path
) -> None:
    tampered = flip_signed_byte(signed_at_level["B-LTA"].pdf)

    signature = dss.validate(tampered, [root_pem]).signature

    assert signature.indication == "TOTAL_FAILED"
    assert signature.sub_indication == "HASH_FAILURE"


def test_validation_time_is_used(
    dss: DssValidator, signed_at_level: dict[str, SignedDocument], pki: TestPki
) -> None:
    at = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)

    report = dss.validate(signed_at_level["B-LTA"].pdf, [pki.root_cert], at=at)

    assert report.validation_time == at


def test_a_bad_request_does_not_end_the_validator(
    dss: DssValidator, signed_at_level: dict[str, SignedDocument], pki: TestPki, tmp_path: Path
) -> None:
    with pytest.raises(DssError, match="no such file"):
        dss.validate(tmp_path / "missing.pdf", [pki.root_cert])

    assert dss.validate(signed_at_level["B-LTA"].pdf, [pki.root_cert]).signature.passed


def test_the_wrapper_names_the_install_scripts_folder(dss: DssValidator) -> None:
    """``find_launcher`` finds the script's folder only if both hash the sources alike."""
    if os.environ.get("DSS_VALIDATOR_HOME"):
        pytest.skip("DSS_VALIDATOR_HOME chooses the folder")

    assert dss.launcher.parent.name == f"dss-validator-{pinned_version()}-{source_hash()}"
    assert dss.dss_version == pinned_version()
