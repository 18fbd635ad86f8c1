"""The ETSI TS 119 102-2 reports validate against the official schema (issue: ETSI report XSD).

The schema is fetched at test time from the EU DSS project's jars on Maven Central by
``scripts/install-etsi-xsd.sh`` (``scripts/test.sh`` runs it and exports ``ETSI_XSD_DIR``);
without it these tests skip, saying why, except in CI where they fail. The reports come from the
two endpoints, for every kind of file the archive answers about: a valid B-LTA journal, B-B and
B-T seals and a B-LTA after an archive timestamp renewal (the signing room's documents, whose
test root the archive is told to trust), a tampered copy, an unsigned PDF and a stored version
whose bytes no longer match the record.

This lives with the signing room's tests for their fixtures (``pki``, ``signed_at_level``,
``renewed_lta``, ``unsigned_pdf``); the API fixtures come from ``tests/conftest.py``.
"""

from __future__ import annotations

import base64
import os
from dataclasses import replace
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy import select

from archive_service.db import DocumentVersion
from archive_service.pipeline import Archive
from archive_service.signing import SignedDocument
from archive_service.signing.test_pki import TestPki
from tests.conftest import Tokens
from tests.etsi_schema import (
    EtsiSchemaMissing,
    ReportNotSchemaValid,
    assert_schema_valid,
    find_schema_dir,
    load_schema,
)
from tests.etsi_structure import NS, check_report
from tests.test_verification import archived_pdf, flip_byte_in_signed_range, post_pdf

VR = f"{{{NS}}}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
OBJECT_TYPE = "urn:etsi:019102:validationObject:"
MAIN_INDICATION = "urn:etsi:019102:mainindication:"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    try:
        directory = find_schema_dir()
    except EtsiSchemaMissing as missing:
        if os.environ.get("CI"):
            pytest.fail(f"{missing} (in CI the ETSI schemas are required)")
        pytest.skip(str(missing))
    return load_schema(directory)


@pytest.fixture
def trusting_signing_pki(archive: Archive, pki: TestPki, monkeypatch: pytest.MonkeyPatch) -> None:
    """The archive also trusts the signing room's test root (its ``signed_at_level`` seals)."""
    roots = [*archive.sealing.trust_roots, pki.root_cert]
    monkeypatch.setattr(archive, "sealing", replace(archive.sealing, trust_roots=roots))


def object_types(document: etree._Element) -> dict[str, str]:
    """Validation object id → its ObjectType's last part (``certificate``, ``timestamp``…)."""
    return {
        vo.get("id"): vo.findtext(f"{VR}ObjectType").removeprefix(OBJECT_TYPE)
        for vo in document.iterfind(f"{VR}SignatureValidationObjects/{VR}ValidationObject")
    }


def status(report: etree._Element) -> dict[str, str | None]:
    """A SignatureValidationReport's status the way the JSON report names it."""
    main = report.findtext(f"{VR}SignatureValidationStatus/{VR}MainIndication") or ""
    sub = report.findtext(f"{VR}SignatureValidationStatus/{VR}SubIndication")
    return {
        "main": main.removeprefix(MAIN_INDICATION),
        "sub": sub.rsplit(":", 1)[-1] if sub else None,
    }


def checked(schema: etree.XMLSchema, xml: bytes, json_report: dict) -> etree._Element:
    """Valid against the XSD and our structural check; the indications are those of the JSON
    form (both come from ``verification.model.indication``); each SignersDocument's digest is
    that of the signedData object it references."""
    document = etree.fromstring(xml)
    assert_schema_valid(schema, document)
    check_report(document)
    expected = [s["indication"] for s in json_report["signatures"]] or [
        {"main": "total-failed", "sub": "FORMAT_FAILURE"}
    ]
    assert [status(r) for r in document.iterfind(f"{VR}SignatureValidationReport")] == expected
    types = object_types(document)
    for signers_document in document.iter(f"{VR}SignersDocument"):
        reference = signers_document.find(f"{VR}SignersDocumentRef").get("VOReference")
        assert types[reference] == "signedData"
        target = document.find(f".//{VR}ValidationObject[@id='{reference}']")
        digest = f"{VR}DigestAlgAndValue/{DS}DigestValue"
        assert target.findtext(
            f"{VR}ValidationObjectRepresentation/{digest}"
        ) == signers_document.findtext(digest)
    return document


def json_and_xml(client: FlaskClient, token: str, pdf: bytes) -> tuple[dict, bytes]:
    answer = post_pdf(client, token, pdf)
    assert answer.status_code == 200, answer.get_json()
    xml = post_pdf(client, token, pdf, query="?format=etsi")
    assert xml.status_code == 200 and xml.mimetype == "application/xml"
    return answer.get_json(), xml.data


# ------------------------------------------------------------------------------------- tests


def test_the_schema_refuses_what_we_used_to_write(schema: etree.XMLSchema) -> None:
    """The old report put ``ValidationObject`` where ``ValidationObjectRepresentation`` goes."""
    old = f"""<ValidationReport xmlns="{NS}"><SignatureValidationReport>
<SignatureValidationStatus><MainIndication>{MAIN_INDICATION}total-passed</MainIndication>
</SignatureValidationStatus></SignatureValidationReport>
<SignatureValidationObjects><ValidationObject id="cert-1">
<ObjectType>{OBJECT_TYPE}certificate</ObjectType><ValidationObject><base64>AA==</base64>
</ValidationObject></ValidationObject></SignatureValidationObjects></ValidationReport>"""
    with pytest.raises(ReportNotSchemaValid, match="ValidationObjectRepresentation"):
        assert_schema_valid(schema, old.encode())
    fixed = old.replace("<ValidationObject><base64>", "<ValidationObjectRepresentation><base64>")
    fixed = fixed.replace(
        "</ValidationObject></ValidationObject>",
        "</ValidationObjectRepresentation></ValidationObject>",
    )
    assert_schema_valid(schema, fixed.encode())
    # A reference to an object the report does not list (libxml2 leaves IDREFs unchecked).
    reference = '<SignerInformation><SignerCertificate VOReference="cert-2"/></SignerInformation>'
    dangling = fixed.replace(
        "<SignatureValidationStatus>", reference + "<SignatureValidationStatus>"
    )
    with pytest.raises(ReportNotSchemaValid, match="'cert-2' names no id"):
        assert_schema_valid(schema, dangling.encode())


def test_valid_b_lta_journal(
    schema: etree.XMLSchema, client: FlaskClient, tokens: Tokens, archived: dict
) -> None:
    path = f"/api/v1/documents/{archived['document_id']}/verification"
    headers = Tokens.header(tokens.inspector)
    json_report = client.get(path, headers=headers).get_json()
    assert json_report["verdict"] == "valid"
    document = checked(schema, client.get(f"{path}?format=etsi", headers=headers).data, json_report)
    types = object_types(document)
    assert types["file"] == "other"
    assert set(types.values()) == {
        "other",
        "signedData",
        "certificate",
        "OCSPResponse",
        "CRL",
        "timestamp",
    }
    # The signature timestamp and the archive timestamp, each with the TSA's certificate.
    assert list(types.values()).count("timestamp") == 2
    report = document.find(f"{VR}SignatureValidationReport")
    attributes = report.find(f"{VR}SignatureAttributes")
    for name in ("SignatureTimeStamp", "DocTimeStamp"):
        stamp = attributes.find(f"{VR}{name}/{VR}AttributeObject").get("VOReference")
        assert types[stamp] == "timestamp"
        stamp_object = document.find(f".//{VR}ValidationObject[@id='{stamp}']")
        tsa = stamp_object.find(f"{VR}ValidationReport/{VR}SignerInformation/{VR}SignerCertificate")
        assert types[tsa.get("VOReference")] == "certificate"
        assert (
            stamp_object.findtext(
                f"{VR}ValidationReport/{VR}SignatureValidationStatus/{VR}MainIndication"
            )
            == f"{MAIN_INDICATION}total-passed"
        )
    dss = attributes.find(f"{VR}DSS")
    for name, kind in (("Certs", "certificate"), ("OCSPs", "OCSPResponse"), ("CRLs", "CRL")):
        references = dss.find(f"{VR}{name}").get("VOReference").split()
        assert references and {types[r] for r in references} == {kind}
    # The signer's certificate is listed, in base64, and proven to exist by the timestamp.
    signer = report.find(f"{VR}SignerInformation/{VR}SignerCertificate").get("VOReference")
    certificate = document.find(f".//{VR}ValidationObject[@id='{signer}']")
    assert base64.b64decode(
        certificate.findtext(f"{VR}ValidationObjectRepresentation/{VR}base64")
    ).startswith(b"\x30")
    assert types[certificate.find(f"{VR}POE/{VR}POEObject").get("VOReference")] == "timestamp"
    best = report.find(f"{VR}ValidationTimeInfo/{VR}BestSignatureTime/{VR}POEObject")
    assert types[best.get("VOReference")] == "timestamp"


@pytest.mark.parametrize("level", ["B-B", "B-T"])
def test_b_b_and_b_t_seals(
    schema: etree.XMLSchema,
    client: FlaskClient,
    tokens: Tokens,
    signed_at_level: dict[str, SignedDocument],
    trusting_signing_pki: None,
    level: str,
) -> None:
    json_report, xml = json_and_xml(client, tokens.inspector, signed_at_level[level].pdf)
    assert json_report["signatures"][0]["trust"]["trusted"] is True
    document = checked(schema, xml, json_report)
    types = object_types(document)
    assert list(types.values()).count("timestamp") == (level == "B-T")
    assert "OCSPResponse" not in types.values() and "CRL" not in types.values()
    # The signer's chain as the CMS carries it (seal and issuing CA), and for B-T the TSA's.
    assert list(types.values()).count("certificate") >= 2


def test_b_lta_after_an_archive_timestamp_renewal(
    schema: etree.XMLSchema,
    client: FlaskClient,
    tokens: Tokens,
    renewed_lta: bytes,
    trusting_signing_pki: None,
) -> None:
    json_report, xml = json_and_xml(client, tokens.inspector, renewed_lta)
    document = checked(schema, xml, json_report)
    types = object_types(document)
    stamps = document.findall(f".//{VR}DocTimeStamp/{VR}AttributeObject")
    assert list(types.values()).count("timestamp") == 3 and len(stamps) == 2
    # The renewal's timestamp proves the first archive timestamp existed at its time.
    first, renewal = (s.get("VOReference") for s in stamps)
    renewal_object = document.find(f".//{VR}ValidationObject[@id='{renewal}']")
    covered = [
        v.get("VOReference")
        for v in renewal_object.iterfind(f"{VR}POEProvisioning/{VR}ValidationObject")
    ]
    assert first in covered and renewal not in covered


def test_tampered_copy(
    schema: etree.XMLSchema, client: FlaskClient, tokens: Tokens, archived: dict
) -> None:
    altered = flip_byte_in_signed_range(archived_pdf(client, tokens, archived["document_id"]))
    json_report, xml = json_and_xml(client, tokens.inspector, altered)
    assert json_report["verdict"] != "valid"
    document = checked(schema, xml, json_report)
    # The changed bytes are listed by their digest, and no timestamp claims to cover them.
    reference = document.find(f".//{VR}SignersDocumentRef").get("VOReference")
    signed_data = document.find(f".//{VR}ValidationObject[@id='{reference}']")
    assert signed_data.find(f"{VR}POE/{VR}POEObject") is None
    covered = {v.get("VOReference") for v in document.iter(f"{VR}POEProvisioning") for v in v}
    assert reference not in covered


def test_unsigned_pdf(
    schema: etree.XMLSchema, client: FlaskClient, tokens: Tokens, unsigned_pdf: bytes
) -> None:
    json_report, xml = json_and_xml(client, tokens.inspector, unsigned_pdf)
    assert json_report["verdict"] == "unsigned"
    document = checked(schema, xml, json_report)
    assert object_types(document) == {"file": "other"}


def test_stored_version_whose_bytes_changed(
    schema: etree.XMLSchema,
    client: FlaskClient,
    tokens: Tokens,
    archive: Archive,
    archived: dict,
) -> None:
    with archive.sessions() as session:
        key = session.scalar(select(DocumentVersion.object_key))
    stored = next(
        p
        for p in Path(archive.store.root).rglob("*")  # type: ignore[attr-defined]
        if p.is_file() and p.as_posix().endswith(key)
    )
    os.chmod(stored, 0o644)
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0x01
    stored.write_bytes(bytes(data))
    path = f"/api/v1/documents/{archived['document_id']}/verification"
    headers = Tokens.header(tokens.inspector)
    json_report = client.get(path, headers=headers).get_json()
    assert json_report["verdict"] == "integrity_failure"
    document = checked(schema, client.get(f"{path}?format=etsi", headers=headers).data, json_report)
    assert object_types(document) == {"file": "other"}
