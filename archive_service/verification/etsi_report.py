"""The verification report as an ETSI TS 119 102-2 (V1.2.1) XML validation report.

Built with lxml element by element (never by pasting text), and checked against the ETSI schema
in the tests (``schemas/etsi/``). The standard has no place for the archive's own findings, so
the PAdES level, the timestamp authority's name and the archived version that matches the file
go into each ``SignatureValidationReport``'s open extension point, in the journal-archive
namespace. A file without signatures still gets one ``SignatureValidationReport`` (the schema
requires at least one) whose status is ``total-failed`` / ``FORMAT_FAILURE``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

from lxml import etree

from archive_service.signing import SignatureReport
from archive_service.verification.evidence import SignatureEvidence
from archive_service.verification.model import UNSIGNED, Indication, Verification, indication
from archive_service.views import iso

VR = "http://uri.etsi.org/19102/v1.2.1#"
DS = "http://www.w3.org/2000/09/xmldsig#"
XADES = "http://uri.etsi.org/01903/v1.3.2#"
JA = "urn:journal-archive:verification:1"
NSMAP = {"vr": VR, "ds": DS, "XAdES": XADES, "ja": JA}

SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
OBJECT_TYPE = "urn:etsi:019102:validationObject:"
POE_VALIDATION = "urn:etsi:019102:poetype:validation"
#: Signature quality as the EU DSS names it; the test PKI's seals are never qualified here.
QUALITY_ADES = "urn:cef:dss:signatureQualification:AdESig"
QUALITY_NONE = "urn:cef:dss:signatureQualification:NA"

FILE_OBJECT_ID = "file"


def _vr(parent: etree._Element, name: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{VR}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def _digest(parent: etree._Element, name: str, digest: bytes, namespace: str = VR) -> None:
    holder = etree.SubElement(parent, f"{{{namespace}}}{name}")
    etree.SubElement(holder, f"{{{DS}}}DigestMethod", Algorithm=SHA256)
    etree.SubElement(holder, f"{{{DS}}}DigestValue").text = base64.b64encode(digest).decode()


def _time(moment: dt.datetime) -> str:
    return iso(moment) or ""


def etsi_report_xml(verification: Verification) -> bytes:
    """The ETSI report as UTF-8 XML bytes with a declaration."""
    root = etree.Element(f"{{{VR}}}ValidationReport", nsmap=NSMAP)
    objects: list[etree._Element] = [_file_object(verification)]
    signatures = verification.validation.signatures if verification.validation else ()
    for number, signature in enumerate(signatures, start=1):
        evidence = verification.evidence.get(signature.field_name)
        root.append(_signature_report(verification, signature, evidence, number, objects))
    if not signatures:
        report = _vr(root, "SignatureValidationReport")
        _status(report, UNSIGNED)
        _archive_extension(report, verification)
    listing = _vr(root, "SignatureValidationObjects")
    listing.extend(objects)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _file_object(verification: Verification) -> etree._Element:
    """The whole verified file, by its SHA-256 (the archive's identity of a version)."""
    element = etree.Element(f"{{{VR}}}ValidationObject", id=FILE_OBJECT_ID)
    _vr(element, "ObjectType", OBJECT_TYPE + "signedData")
    representation = _vr(element, "ValidationObject")
    _digest(representation, "DigestAlgAndValue", bytes.fromhex(verification.sha256))
    return element


def _certificate_object(object_id: str, der: bytes) -> etree._Element:
    element = etree.Element(f"{{{VR}}}ValidationObject", id=object_id)
    _vr(element, "ObjectType", OBJECT_TYPE + "certificate")
    _vr(_vr(element, "ValidationObject"), "base64", base64.b64encode(der).decode())
    return element


def _signature_report(
    verification: Verification,
    signature: SignatureReport,
    evidence: SignatureEvidence | None,
    number: int,
    objects: list[etree._Element],
) -> etree._Element:
    """The one mapping from the signing room's per-signature report to ETSI elements."""
    report = etree.Element(f"{{{VR}}}SignatureValidationReport")
    identifier = _vr(report, "SignatureIdentifier", id=f"sig-{number}")
    if evidence is not None and evidence.signature_value is not None:
        _digest(identifier, "DigestAlgAndValue", hashlib.sha256(evidence.signature_value).digest())
        etree.SubElement(identifier, f"{{{DS}}}SignatureValue").text = base64.b64encode(
            evidence.signature_value
        ).decode()
    _vr(identifier, "HashOnly", "false")
    _vr(identifier, "DocHashOnly", "false")
    _vr(identifier, "DAIdentifier", signature.field_name)

    time_info = _vr(report, "ValidationTimeInfo")
    _vr(time_info, "ValidationTime", _time(verification.validated_at))
    best = _vr(time_info, "BestSignatureTime")
    proven = signature.timestamp_time if signature.timestamp_valid else None
    _vr(best, "POETime", _time(proven or verification.validated_at))
    _vr(best, "TypeOfProof", POE_VALIDATION)

    if evidence is not None and evidence.signed_bytes_sha256 is not None:
        signers_document = _vr(report, "SignersDocument")
        _digest(signers_document, "DigestAlgAndValue", evidence.signed_bytes_sha256)
        _vr(signers_document, "SignersDocumentRef", VOReference=FILE_OBJECT_ID)

    attributes = _signature_attributes(signature, evidence)
    if len(attributes):
        report.append(attributes)

    if evidence is not None and evidence.signer_certificate is not None:
        certificate_id = f"cert-{number}"
        objects.append(_certificate_object(certificate_id, evidence.signer_certificate))
        signer = _vr(report, "SignerInformation")
        _vr(signer, "SignerCertificate", VOReference=certificate_id)
        _vr(signer, "Signer", signature.signer_subject)

    status = indication(signature)
    quality = _vr(report, "SignatureQuality")
    passed = status.sub is None
    _vr(quality, "SignatureQualityInformation", QUALITY_ADES if passed else QUALITY_NONE)
    _status(report, status)

    extension = etree.SubElement(report, f"{{{JA}}}Signature")
    if signature.level:
        etree.SubElement(extension, f"{{{JA}}}PAdESLevel").text = signature.level
    if signature.timestamp_authority:
        etree.SubElement(extension, f"{{{JA}}}TimestampAuthority").text = (
            signature.timestamp_authority
        )
    etree.SubElement(extension, f"{{{JA}}}Issuer").text = signature.signer_issuer
    etree.SubElement(extension, f"{{{JA}}}Serial").text = signature.signer_serial
    etree.SubElement(extension, f"{{{JA}}}Coverage").text = signature.coverage
    etree.SubElement(extension, f"{{{JA}}}Summary").text = signature.summary
    _archive_extension(report, verification)
    return report


def _signature_attributes(
    signature: SignatureReport, evidence: SignatureEvidence | None
) -> etree._Element:
    attributes = etree.Element(f"{{{VR}}}SignatureAttributes")
    if signature.signing_time is not None:
        _vr(_vr(attributes, "SigningTime", Signed="true"), "Time", _time(signature.signing_time))
    if signature.timestamp_time is not None:
        stamp = _vr(attributes, "SignatureTimeStamp", Signed="false")
        _vr(stamp, "TimeStampValue", _time(signature.timestamp_time))
    for stamp in signature.archive_timestamps:
        if stamp.time is not None:
            archive_stamp = _vr(attributes, "DocTimeStamp", Signed="false")
            _vr(archive_stamp, "TimeStampValue", _time(stamp.time))
    if evidence is not None and evidence.byte_range:
        _vr(attributes, "ByteRange", " ".join(str(n) for n in evidence.byte_range))
    return attributes


def _status(report: etree._Element, status: Indication) -> None:
    element = _vr(report, "SignatureValidationStatus")
    _vr(element, "MainIndication", status.main)
    if status.sub_uri:
        _vr(element, "SubIndication", status.sub_uri)


def _archive_extension(report: etree._Element, verification: Verification) -> None:
    """Whether these bytes are an archived version (within the caller's scope)."""
    match = verification.archived
    element = etree.SubElement(report, f"{{{JA}}}ArchivedVersion", matches=str(bool(match)).lower())
    if match is not None:
        element.set("documentId", match.document_id)
        element.set("version", str(match.version))
