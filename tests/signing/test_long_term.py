"""B-LT and B-LTA: revocation data in hard-fail mode, offline validation years ahead, renewal.

Lifetimes of the test PKI (signing/test_pki): seal 3 years, first TSA 6, renewal TSA 14,
issuing CA 15, root 25. The moments below are chosen between them:

* ``AFTER_SEAL`` (4 years): the seal has expired, the first TSA has not;
* ``AFTER_TSA1`` (12 years, the issue's example): the seal and the first TSA have expired, the
  renewal TSA has not;
* ``AFTER_TSA2`` (15 years): every TSA has expired.
"""

from __future__ import annotations

import datetime as dt
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pypdf import PdfReader

from archive_service.errors import ServiceUnavailable
from archive_service.signing import (
    LEVELS,
    SignedDocument,
    SigningError,
    add_archive_timestamp,
    validate_pdf,
)
from archive_service.signing.test_pki import TestPki

NOW = dt.datetime.now(dt.UTC)
AFTER_SEAL = NOW + dt.timedelta(days=4 * 366)
AFTER_TSA1 = NOW + dt.timedelta(days=12 * 366)
AFTER_TSA2 = NOW + dt.timedelta(days=15 * 366)


@pytest.mark.parametrize("level", LEVELS)
def test_each_level_is_confirmed_and_validates_now(
    signed_at_level: dict[str, SignedDocument], pki: TestPki, level: str
) -> None:
    signed = signed_at_level[level]
    assert signed.level == level
    assert (signed.signer_kind, signed.qualified) == ("test-pki", False)
    assert signed.signer_serial == format(pki.seal_cert.serial_number, "x")
    report = validate_pdf(signed.pdf, [pki.root_cert])
    assert report.all_acceptable, report.signatures[0].summary
    (signature,) = report.signatures
    assert signature.level == level
    if level in ("B-B", "B-T"):
        # Sound, but nothing in the file says the seal was not revoked (as DSS says too).
        assert not report.all_valid
        assert (signature.indication, signature.sub_indication) == (
            "INDETERMINATE", "CERTIFICATE_CHAIN_GENERAL_FAILURE"
        )
        assert signature.summary.startswith(f"Indeterminate PAdES {level} signature by ")
    else:
        assert report.all_valid
        assert signature.summary.startswith(f"Valid PAdES {level} signature by ")


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_dss_covers_signer_and_tsa_chains(
    signed_at_level: dict[str, SignedDocument], pki: TestPki, level: str
) -> None:
    reader = PdfFileReader(BytesIO(signed_at_level[level].pdf))
    dss = reader.root["/DSS"]
    embedded = {cert.dump() for cert in _dss_certs(dss)}
    for cert in (pki.seal_cert, pki.tsa_cert, pki.issuing_ca_cert):
        assert cert.dump() in embedded
    assert len(dss["/OCSPs"]) == 2  # seal and TSA
    assert len(dss["/CRLs"]) == 1  # the root's, for the issuing CA
    signature = validate_pdf(signed_at_level[level].pdf, [pki.root_cert]).signatures[0]
    assert signature.revocation == "good"
    assert signature.modifications_ok
    # pyHanko files the new document timestamp field under form filling; DSS alone is LTA
    assert signature.modification_level == ("lta_updates" if level == "B-LT" else "form_filling")


def test_b_lta_ends_with_a_document_timestamp(
    signed_at_level: dict[str, SignedDocument], pki: TestPki
) -> None:
    (signature,) = validate_pdf(signed_at_level["B-LTA"].pdf, [pki.root_cert]).signatures
    (archive,) = signature.archive_timestamps
    assert archive.field_name == "ArchiveTimestamp1"
    assert archive.coverage == "entire_file" and archive.intact and archive.trusted
    assert archive.authority is not None and "TEST TSA" in archive.authority
    assert archive.time is not None and signature.timestamp_time is not None
    assert archive.time >= signature.timestamp_time
    assert signature.indication == "TOTAL_PASSED"
    assert signature.best_signature_time == signature.timestamp_time


def test_b_lt_has_no_document_timestamp(
    signed_at_level: dict[str, SignedDocument], pki: TestPki
) -> None:
    (signature,) = validate_pdf(signed_at_level["B-LT"].pdf, [pki.root_cert]).signatures
    assert signature.archive_timestamps == ()
    assert signature.only_validation_data_after  # the unsigned DSS revision is all there is


@pytest.mark.parametrize(
    ("level", "passes"), [("B-B", False), ("B-T", False), ("B-LT", True), ("B-LTA", True)]
)
def test_after_the_seal_expires_long_term_levels_validate_offline(
    signed_at_level: dict[str, SignedDocument], pki: TestPki, level: str, passes: bool
) -> None:
    """B-LT and B-LTA carry revocation data from signing time and a timestamp still valid:
    the seal is judged at the timestamp's time. B-B and B-T have nothing to prove it."""
    report = validate_pdf(signed_at_level[level].pdf, [pki.root_cert], at=AFTER_SEAL)
    (signature,) = report.signatures
    assert report.all_valid is passes, signature.summary
    assert signature.level == level
    assert signature.intact and signature.valid  # the bytes are fine; time is the problem
    assert signature.validated_at == AFTER_SEAL
    if not passes:
        assert signature.indication == "INDETERMINATE"


@pytest.mark.parametrize("level", LEVELS)
def test_after_the_first_tsa_expires_nothing_unrenewed_validates(
    signed_at_level: dict[str, SignedDocument], pki: TestPki, level: str
) -> None:
    """The newest archive timestamp must be renewed before its TSA certificate expires."""
    report = validate_pdf(signed_at_level[level].pdf, [pki.root_cert], at=AFTER_TSA1)
    assert not report.all_valid and not report.any_failed
    (signature,) = report.signatures
    assert signature.level == level
    # as DSS names it: no revocation data at all (B-B, B-T), or revocation data saying "good"
    # for a seal that has expired with no proof the signature existed before
    expected = "CERTIFICATE_CHAIN_GENERAL_FAILURE" if level in ("B-B", "B-T") else (
        "OUT_OF_BOUNDS_NOT_REVOKED"
    )
    assert (signature.indication, signature.sub_indication) == ("INDETERMINATE", expected)


def test_renewed_b_lta_validates_after_seal_and_first_tsa_expire(
    renewed_lta: bytes, pki: TestPki
) -> None:
    for moment in (None, AFTER_SEAL, AFTER_TSA1):
        report = validate_pdf(renewed_lta, [pki.root_cert], at=moment)
        (signature,) = report.signatures
        assert report.all_valid, (moment, signature.summary)
        assert signature.level == "B-LTA"
        first, second = signature.archive_timestamps
        assert "TSA 2 (renewal)" in (second.authority or "")
        assert first.time is not None and second.time is not None and first.time <= second.time
        assert second.coverage == "entire_file"


def test_renewal_does_not_outlive_the_renewal_tsa(renewed_lta: bytes, pki: TestPki) -> None:
    report = validate_pdf(renewed_lta, [pki.root_cert], at=AFTER_TSA2)
    assert not report.all_valid
    assert report.signatures[0].indication == "INDETERMINATE"


def test_renewal_is_an_incremental_update_that_keeps_pdfa_metadata(
    renewed_lta: bytes, signed_at_level: dict[str, SignedDocument], unsigned_pdf: bytes
) -> None:
    original = signed_at_level["B-LTA"].pdf
    assert renewed_lta.startswith(original)
    before, after = PdfReader(BytesIO(unsigned_pdf)), PdfReader(BytesIO(renewed_lta))
    assert dict(after.trailer["/Info"].get_object()) == dict(before.trailer["/Info"].get_object())
    assert (
        after.trailer["/Root"]["/Metadata"].get_object().get_data()
        == before.trailer["/Root"]["/Metadata"].get_object().get_data()
    )
    assert set(after.trailer["/Root"]["/Extensions"]) == {"/ESIC"}


def test_renewal_of_a_document_without_archive_timestamp_is_refused(
    signed_at_level: dict[str, SignedDocument], pki: TestPki
) -> None:
    with pytest.raises(SigningError, match="not B-LTA"):
        add_archive_timestamp(
            signed_at_level["B-LT"].pdf,
            pki.timestamper(renewal=True),
            trust_roots=[pki.root_cert],
            fetcher_backend=pki.fetcher_backend(),
        )


def test_tampered_b_lta_is_invalid(
    signed_at_level: dict[str, SignedDocument], pki: TestPki
) -> None:
    pdf = signed_at_level["B-LTA"].pdf
    title = pdf.index(b"Klasnyi zhurnal")
    tampered = bytearray(pdf)
    tampered[title] = ord("C")
    report = validate_pdf(bytes(tampered), [pki.root_cert], at=AFTER_SEAL)
    assert not report.all_valid
    assert report.signatures[0].intact is False


def test_b_lta_from_a_foreign_root_is_not_trusted(
    signed_at_level: dict[str, SignedDocument], foreign_pki: TestPki
) -> None:
    report = validate_pdf(signed_at_level["B-LTA"].pdf, [foreign_pki.root_cert])
    assert not report.all_valid
    (signature,) = report.signatures
    assert signature.level == "B-LTA"  # what the file is; trust is another question
    assert (signature.indication, signature.sub_indication) == (
        "INDETERMINATE", "NO_CERTIFICATE_CHAIN_FOUND"
    )


# ---------------------------------------------------------------------------- revocation


@pytest.fixture
def fresh_pki(tmp_path: Path) -> TestPki:
    return TestPki.load_or_create(tmp_path / "pki")


@pytest.mark.parametrize("level", ["B-LT", "B-LTA"])
def test_revoked_seal_cannot_sign(fresh_pki: TestPki, unsigned_pdf: bytes, level: str) -> None:
    fresh_pki.revoke(fresh_pki.seal_cert)
    with pytest.raises(SigningError, match="revoked") as caught:
        fresh_pki.signer(level).sign(unsigned_pdf, reason="r")
    assert isinstance(caught.value, ServiceUnavailable)


def test_revoked_tsa_cannot_timestamp_a_long_term_signature(
    fresh_pki: TestPki, unsigned_pdf: bytes
) -> None:
    fresh_pki.revoke(fresh_pki.tsa_cert)
    with pytest.raises(SigningError, match="TSA certificate is revoked"):
        fresh_pki.signer("B-LTA").sign(unsigned_pdf, reason="r")


def test_revocation_after_signing_shows_in_a_later_renewal(
    fresh_pki: TestPki, unsigned_pdf: bytes
) -> None:
    signed = fresh_pki.signer("B-LTA").sign(unsigned_pdf, reason="r")
    fresh_pki.revoke(fresh_pki.tsa_cert)
    with pytest.raises(SigningError, match="revoked"):
        add_archive_timestamp(
            signed.pdf,
            fresh_pki.timestamper(renewal=True),
            trust_roots=[fresh_pki.root_cert],
            fetcher_backend=fresh_pki.fetcher_backend(),
        )


def _dss_certs(dss: object) -> list[object]:
    from asn1crypto import x509

    refs = dss["/Certs"]  # type: ignore[index]
    return [x509.Certificate.load(ref.get_object().data) for ref in refs]


@pytest.mark.parametrize("level", ["B-B", "B-T"])
def test_revoked_seal_cannot_sign_at_levels_without_revocation_data(
    fresh_pki: TestPki, unsigned_pdf: bytes, level: str
) -> None:
    """B-B and B-T embed no revocation data, so no validator could tell: the signer checks."""
    fresh_pki.revoke(fresh_pki.seal_cert)
    with pytest.raises(SigningError, match="revoked"):
        fresh_pki.signer(level).sign(unsigned_pdf, reason="r")
