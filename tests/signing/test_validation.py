from __future__ import annotations

import json
from io import BytesIO

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from archive_service.errors import InvalidInput
from archive_service.signing import SignedDocument, UnreadablePdf, validate_pdf
from archive_service.signing.test_pki import TestPki


def test_intact_signature_is_reported_in_full(signed_bt: SignedDocument, pki: TestPki) -> None:
    report = validate_pdf(signed_bt.pdf, [pki.root_cert])
    (signature,) = report.signatures
    assert (signature.intact, signature.valid, signature.trusted) == (True, True, True)
    assert signature.coverage == "entire_file"
    assert signature.modification_level == "none"
    assert signature.signer_subject == signed_bt.signer_subject
    assert signature.signing_time is not None
    # a B-T carries no revocation data: sound, but indeterminate (EN 319 102-1, DSS)
    assert (signature.indication, signature.sub_indication) == (
        "INDETERMINATE", "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    )
    assert signature.acceptable and signature.revocation == "not_checked"
    assert signature.summary.startswith("Indeterminate PAdES B-T signature by ")
    assert "\n" not in signature.summary


def test_changed_byte_in_signed_range_breaks_integrity(
    signed_bt: SignedDocument, pki: TestPki
) -> None:
    title = signed_bt.pdf.index(b"Klasnyi zhurnal")
    assert title < signed_bt.pdf.index(b"/ByteRange")  # inside the first signed range
    tampered = bytearray(signed_bt.pdf)
    tampered[title] = ord("C")  # Klasnyi -> Clasnyi: same length, still a well-formed PDF
    report = validate_pdf(bytes(tampered), [pki.root_cert])
    (signature,) = report.signatures
    assert signature.intact is False
    assert signature.level == "B-T"  # the structure is still there; the verdict says the rest
    assert (signature.indication, signature.sub_indication) == ("TOTAL_FAILED", "HASH_FAILURE")
    assert report.all_valid is False and report.any_failed
    assert "changed after signing" in signature.summary


def test_foreign_root_is_not_trusted(signed_bt: SignedDocument, foreign_pki: TestPki) -> None:
    report = validate_pdf(signed_bt.pdf, [foreign_pki.root_cert])
    (signature,) = report.signatures
    assert signature.intact and signature.valid
    assert signature.trusted is False
    assert report.all_valid is False
    assert "does not chain to a trusted root" in signature.summary
    assert signature.sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"


def test_unsigned_pdf_has_no_signatures(unsigned_pdf: bytes, pki: TestPki) -> None:
    report = validate_pdf(unsigned_pdf, [pki.root_cert])
    assert report.signatures == ()
    assert report.all_valid is False
    assert report.as_dict()["all_valid"] is False
    assert report.as_dict()["signatures"] == []


@pytest.mark.parametrize("garbage", [b"", b"not a pdf at all", b"%PDF-1.7\n%%EOF"])
def test_garbage_is_an_input_error(garbage: bytes, pki: TestPki) -> None:
    with pytest.raises(UnreadablePdf, match="not a readable PDF") as caught:
        validate_pdf(garbage, [pki.root_cert])
    assert isinstance(caught.value, InvalidInput)
    assert caught.value.status == 400


def test_update_after_signing_is_reported(signed_bt: SignedDocument, pki: TestPki) -> None:
    writer = IncrementalPdfFileWriter(BytesIO(signed_bt.pdf))
    info = writer.trailer["/Info"]
    info[generic.pdf_name("/Subject")] = generic.TextStringObject("added later")
    writer.update_container(info)
    output = BytesIO()
    writer.write(output)

    report = validate_pdf(output.getvalue(), [pki.root_cert])
    (signature,) = report.signatures
    assert signature.intact and signature.valid and signature.trusted
    assert signature.coverage == "entire_revision"
    assert signature.modification_level != "none"
    assert "extended after signing" in signature.summary
    assert report.all_valid is False  # the appended bytes are signed by no one


def test_as_dict_is_json_with_iso_times(signed_bt: SignedDocument, pki: TestPki) -> None:
    as_dict = validate_pdf(signed_bt.pdf, [pki.root_cert]).as_dict()
    decoded = json.loads(json.dumps(as_dict))
    assert decoded["all_valid"] is False  # B-T: indeterminate
    signature = decoded["signatures"][0]
    assert signature["indication"] == "INDETERMINATE"
    assert signature["best_signature_time"].endswith("Z")
    assert signature["level"] == "B-T"
    assert signature["timestamp_time"].endswith("Z")
    assert signature["timestamp_time"][:4].isdigit() and "T" in signature["timestamp_time"]


def test_trust_roots_may_be_pem_or_cryptography_objects(
    signed_bt: SignedDocument, pki: TestPki
) -> None:
    from cryptography import x509

    pyca_root = x509.load_pem_x509_certificate(pki.root_pem())
    assert validate_pdf(signed_bt.pdf, [pki.root_pem()]).all_acceptable
    assert validate_pdf(signed_bt.pdf, [pyca_root]).all_acceptable
