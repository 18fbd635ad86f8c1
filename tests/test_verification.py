"""Verification reports and endpoints on genuine, altered and foreign PDFs (issue 5)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask.testing import FlaskClient
from lxml import etree
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pypdf import PdfWriter

from archive_service.pipeline import Archive
from archive_service.verification import etsi_report_xml
from tests.conftest import Tokens
from tests.etsi_structure import check_report

VR = "{http://uri.etsi.org/19102/v1.2.1#}"
#: Checks one ETSI report document (raises when it is not well formed).
ReportCheck = Callable[[etree._Element], None]
PASSED = "urn:etsi:019102:mainindication:total-passed"
FAILED = "urn:etsi:019102:mainindication:total-failed"
INDETERMINATE = "urn:etsi:019102:mainindication:indeterminate"


@pytest.fixture(scope="module")
def etsi_check() -> ReportCheck:
    """How reports are checked: the standard's structure (see tests/etsi_structure.py)."""
    return check_report


def archived_pdf(client: FlaskClient, tokens: Tokens, document_id: str) -> bytes:
    response = client.get(
        f"/api/v1/documents/{document_id}/pdf", headers=Tokens.header(tokens.admin)
    )
    assert response.status_code == 200
    return response.data


def post_pdf(
    client: FlaskClient, token: str, data: bytes, *, query: str = "", content_type: str = ""
):  # type: ignore[no-untyped-def]
    return client.post(
        f"/api/v1/verify{query}",
        data=data,
        content_type=content_type or "application/pdf",
        headers=Tokens.header(token),
    )


def flip_byte_in_signed_range(pdf: bytes) -> bytes:
    """Change one byte inside the first content stream: still a readable PDF, not the signed one."""
    at = pdf.index(b"stream", pdf.index(b"/Length")) + 40
    return pdf[:at] + bytes([pdf[at] ^ 0x01]) + pdf[at + 1 :]


def unsigned_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    buffer = BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def foreign_signed_pdf() -> bytes:
    """A PAdES signature by a throw-away CA the archive has never heard of."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Foreign Test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Чужий підписувач")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(ca_cert.public_bytes(serialization.Encoding.DER))]
        ),
    )
    output = signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(unsigned_pdf())),
        signers.PdfSignatureMetadata(field_name="Foreign", subfilter=SigSeedSubFilter.PADES),
        signer=signer,
    )
    return output.getvalue()


def statuses(xml: bytes, check: ReportCheck) -> list[tuple[str, list[str]]]:
    """Check the ETSI report's structure; (main, [sub…]) per SignatureValidationReport."""
    document = etree.fromstring(xml)
    check(document)
    return [
        (
            report.findtext(f"{VR}SignatureValidationStatus/{VR}MainIndication"),
            [s.text for s in report.iterfind(f"{VR}SignatureValidationStatus/{VR}SubIndication")],
        )
        for report in document.iterfind(f"{VR}SignatureValidationReport")
    ]


def audit_events(client: FlaskClient, tokens: Tokens, action: str) -> list[dict]:
    response = client.get(f"/api/v1/audit?action={action}", headers=Tokens.header(tokens.admin))
    assert response.status_code == 200
    return response.get_json()["items"]


# --------------------------------------------------------------------------- stored documents


def test_stored_document_report_in_json(
    client: FlaskClient, tokens: Tokens, archived: dict
) -> None:
    document_id = archived["document_id"]
    report = client.get(
        f"/api/v1/documents/{document_id}/verification", headers=Tokens.header(tokens.inspector)
    ).get_json()
    assert report["valid"] is True and report["verdict"] == "valid"
    assert report["integrity"] == {"recorded_sha256": archived["sha256"], "matches": True}
    assert report["file"]["sha256"] == archived["sha256"]
    assert report["archived"] == {"matches": True, "document_id": document_id, "version": 1}
    (signature,) = report["signatures"]
    assert signature["level"] == "B-LTA"
    assert signature["signer"]["subject"] and signature["signer"]["issuer"]
    assert signature["signer"]["serial"]
    assert signature["signing_time"].endswith("Z")
    # B-LTA: the signature timestamp, then the archive timestamp over the whole file.
    signature_stamp, archive_stamp = signature["timestamps"]
    assert signature_stamp["kind"] == "signature_timestamp"
    assert archive_stamp["kind"] == "archive_timestamp"
    assert archive_stamp["coverage"] == "entire_file"
    for timestamp in (signature_stamp, archive_stamp):
        assert timestamp["authority"] and timestamp["valid"] is True and timestamp["time"]
    assert signature["integrity"] == {"intact": True, "signature_valid": True}
    assert signature["trust"] == {"trusted": True}
    assert signature["revocation"] == {"checked": True, "status": "good"}
    assert signature["best_signature_time"] == signature["timestamps"][0]["time"]
    # The DSS and the archive timestamp follow the signature: permitted, LTA-style updates.
    assert signature["modifications"]["coverage"] == "entire_revision"
    assert signature["modifications"]["permitted"] is True
    assert signature["indication"] == {"main": "total-passed", "sub": None}
    assert len(signature["signed_bytes_sha256"]) == 64


def test_stored_document_report_in_etsi_form(
    client: FlaskClient, tokens: Tokens, archived: dict, etsi_check: ReportCheck
) -> None:
    response = client.get(
        f"/api/v1/documents/{archived['document_id']}/verification?format=etsi",
        headers=Tokens.header(tokens.inspector),
    )
    assert response.status_code == 200 and response.mimetype == "application/xml"
    assert statuses(response.data, etsi_check) == [(PASSED, [])]
    document = etree.fromstring(response.data)
    report = document.find(f"{VR}SignatureValidationReport")
    assert report.find(f"{VR}SignatureIdentifier/{VR}DigestAlgAndValue") is not None
    assert report.find(f"{VR}SignersDocument") is not None
    assert report.findtext(f"{VR}SignatureAttributes/{VR}SignatureTimeStamp/{VR}TimeStampValue")
    reference = report.find(f"{VR}SignerInformation/{VR}SignerCertificate").get("VOReference")
    objects = document.find(f"{VR}SignatureValidationObjects")
    certificate = objects.find(f"{VR}ValidationObject[@id='{reference}']")
    assert certificate.findtext(f"{VR}ObjectType").endswith(":certificate")


def test_unknown_format_is_refused(client: FlaskClient, tokens: Tokens, archived: dict) -> None:
    response = client.get(
        f"/api/v1/documents/{archived['document_id']}/verification?format=pdf",
        headers=Tokens.header(tokens.inspector),
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["details"][0]["path"] == "format"


# ----------------------------------------------------------------------------------- uploads


def test_genuine_upload_matches_the_archived_version(
    client: FlaskClient, tokens: Tokens, archived: dict, etsi_check: ReportCheck
) -> None:
    pdf = archived_pdf(client, tokens, archived["document_id"])
    response = post_pdf(client, tokens.archivist, pdf)
    assert response.status_code == 200
    report = response.get_json()
    assert report["valid"] is True and report["verdict"] == "valid"
    assert report["archived"] == {
        "matches": True,
        "document_id": archived["document_id"],
        "version": 1,
    }
    assert report["file"] == {"sha256": archived["sha256"], "size": len(pdf)}
    assert "integrity" not in report
    xml = post_pdf(client, tokens.inspector, pdf, query="?format=etsi").data
    assert statuses(xml, etsi_check) == [(PASSED, [])]
    assert b'matches="true"' in xml and archived["document_id"].encode() in xml
    events = audit_events(client, tokens, "verify_upload")
    assert [e["outcome"] for e in events] == ["valid", "valid"]
    assert events[0]["sha256"] == archived["sha256"]
    assert events[0]["document_id"] == archived["document_id"]
    assert events[0]["version"] == 1


def test_match_outside_scope_looks_exactly_like_no_match(
    client: FlaskClient, tokens: Tokens, archived: dict
) -> None:
    pdf = archived_pdf(client, tokens, archived["document_id"])
    hidden = post_pdf(client, tokens.inspector_other, pdf).get_json()
    assert hidden["archived"] == {"matches": False, "document_id": None, "version": None}
    assert archived["document_id"] not in json.dumps(hidden)
    # A genuinely unknown, equally valid copy answers in exactly the same shape.
    in_scope = post_pdf(client, tokens.inspector, pdf).get_json()
    strip = ("archived", "document_id", "version", "validation_time")
    assert {k: v for k, v in hidden.items() if k not in strip} == {
        k: v for k, v in in_scope.items() if k not in strip
    }
    assert set(hidden) == set(in_scope) - {"document_id", "version"}
    (event, _) = audit_events(client, tokens, "verify_upload")
    assert event["document_id"] is None and event["sha256"] == archived["sha256"]


def test_flipped_byte_in_signed_range_fails_the_hash(
    client: FlaskClient, tokens: Tokens, archived: dict, etsi_check: ReportCheck
) -> None:
    altered = flip_byte_in_signed_range(archived_pdf(client, tokens, archived["document_id"]))
    report = post_pdf(client, tokens.inspector, altered).get_json()
    assert report["valid"] is False and report["verdict"] == "invalid"
    assert report["archived"]["matches"] is False
    (signature,) = report["signatures"]
    assert signature["integrity"]["intact"] is False
    assert signature["indication"] == {"main": "total-failed", "sub": "HASH_FAILURE"}
    xml = post_pdf(client, tokens.inspector, altered, query="?format=etsi").data
    assert statuses(xml, etsi_check) == [(FAILED, ["urn:etsi:019102:subindication:HASH_FAILURE"])]
    assert [e["outcome"] for e in audit_events(client, tokens, "verify_upload")] == [
        "invalid",
        "invalid",
    ]


def test_bytes_appended_after_the_signature_make_it_invalid(
    client: FlaskClient, tokens: Tokens, archived: dict, etsi_check: ReportCheck
) -> None:
    extended = archived_pdf(client, tokens, archived["document_id"]) + b"\n% appended later\n"
    report = post_pdf(client, tokens.inspector, extended).get_json()
    assert report["valid"] is False and report["verdict"] == "invalid"
    assert report["archived"]["matches"] is False
    (signature,) = report["signatures"]
    assert signature["modifications"]["coverage"] != "entire_file"
    xml = post_pdf(client, tokens.inspector, extended, query="?format=etsi").data
    statuses(xml, etsi_check)  # well-formed whatever the per-signature indication


def test_foreign_pki_is_not_trusted(
    client: FlaskClient, tokens: Tokens, archived: dict, etsi_check: ReportCheck
) -> None:
    foreign = foreign_signed_pdf()
    report = post_pdf(client, tokens.inspector, foreign).get_json()
    assert report["valid"] is False and report["archived"]["matches"] is False
    (signature,) = report["signatures"]
    assert signature["signer"]["subject"].endswith("Чужий підписувач")
    assert signature["integrity"] == {"intact": True, "signature_valid": True}
    assert signature["trust"]["trusted"] is False
    assert signature["indication"] == {
        "main": "indeterminate",
        "sub": "NO_CERTIFICATE_CHAIN_FOUND",
    }
    xml = post_pdf(client, tokens.inspector, foreign, query="?format=etsi").data
    assert statuses(xml, etsi_check) == [
        (INDETERMINATE, ["urn:etsi:019102:subindication:NO_CERTIFICATE_CHAIN_FOUND"])
    ]


def test_unsigned_pdf(client: FlaskClient, tokens: Tokens, etsi_check: ReportCheck) -> None:
    report = post_pdf(client, tokens.inspector, unsigned_pdf()).get_json()
    assert report["valid"] is False and report["verdict"] == "unsigned"
    assert report["signatures"] == []
    xml = post_pdf(client, tokens.inspector, unsigned_pdf(), query="?format=etsi").data
    assert statuses(xml, etsi_check) == [(FAILED, ["urn:etsi:019102:subindication:FORMAT_FAILURE"])]


def test_not_a_pdf_is_refused_and_audited(client: FlaskClient, tokens: Tokens) -> None:
    response = post_pdf(client, tokens.inspector, b"just some text, not a PDF")
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["path"] == "body"
    broken = post_pdf(client, tokens.inspector, b"%PDF-1.7\nthis is no PDF at all\n")
    assert broken.status_code == 400
    events = audit_events(client, tokens, "verify_upload")
    assert [e["outcome"] for e in events] == ["not_a_pdf", "not_a_pdf"]
    assert all(len(e["sha256"]) == 64 for e in events)


def test_wrong_type_empty_and_too_large(
    client: FlaskClient, tokens: Tokens, archive: Archive
) -> None:
    wrong = post_pdf(client, tokens.inspector, unsigned_pdf(), content_type="application/json")
    assert wrong.status_code == 415 and wrong.get_json()["error"]["code"]
    assert post_pdf(client, tokens.inspector, b"").status_code == 400
    archive.max_upload_bytes = 100
    too_large = post_pdf(client, tokens.inspector, unsigned_pdf())
    assert too_large.status_code == 413
    assert too_large.get_json()["error"]["details"][0]["path"] == "body"


def test_job_may_not_verify(client: FlaskClient, tokens: Tokens) -> None:
    assert post_pdf(client, tokens.job, unsigned_pdf()).status_code == 403
    (event,) = audit_events(client, tokens, "verify_upload")
    assert event["outcome"] == "denied"


def test_etsi_form_of_an_integrity_failure_is_well_formed(
    etsi_check: ReportCheck,
) -> None:
    from archive_service.verification import ArchivedVersion, Verification

    verification = Verification(
        sha256="00" * 32,
        size=None,
        validated_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        validation=None,
        archived=ArchivedVersion("doc", 1),
        recorded_sha256="00" * 32,
        integrity_problem="stored bytes differ",
    )
    assert verification.verdict == "integrity_failure" and not verification.valid
    assert statuses(etsi_report_xml(verification), etsi_check) == [
        (FAILED, ["urn:etsi:019102:subindication:FORMAT_FAILURE"])
    ]


# ------------------------------------------------------------------------------------- CLI




def test_cli_verify_stored_and_local_files(
    run_cli, client: FlaskClient, tokens: Tokens, archived: dict, tmp_path: Path, etsi_check
) -> None:  # type: ignore[no-untyped-def]
    document_id = archived["document_id"]
    readable = run_cli("verify", document_id)
    assert readable.exit_code == 0, readable.output
    first, *rest = readable.output.splitlines()
    assert first.startswith("VALID")
    text = "\n".join(rest)
    for label in ("signer:", "level:         B-LTA", "timestamp:", "trust:", "revocation:"):
        assert label in text
    as_json = run_cli("verify", document_id, "--version", "1", "--json")
    assert json.loads(as_json.output)["archived"]["document_id"] == document_id
    as_xml = run_cli("verify", document_id, "--xml")
    assert statuses(as_xml.output.encode(), etsi_check) == [(PASSED, [])]

    genuine = tmp_path / "copy.pdf"
    genuine.write_bytes(archived_pdf(client, tokens, document_id))
    local = run_cli("verify", "--file", str(genuine))
    assert local.exit_code == 0, local.output
    assert f"archived: document {document_id} version 1" in local.output
    altered = tmp_path / "altered.pdf"
    altered.write_bytes(flip_byte_in_signed_range(genuine.read_bytes()))
    refused = run_cli("verify", "--file", str(altered))
    assert refused.exit_code == 1
    assert refused.output.startswith("NOT VALID") and "archived: no" in refused.output
    not_pdf = tmp_path / "notes.txt"
    not_pdf.write_text("hello")
    assert run_cli("verify", "--file", str(not_pdf)).exit_code == 2
    assert run_cli("verify").exit_code == 2  # neither a document nor a file
