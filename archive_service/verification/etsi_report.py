"""The verification report as an ETSI TS 119 102-2 (V1.2.1) XML validation report.

Built with lxml element by element (never by pasting text). The tests validate it against the
official schema (the ``http://uri.etsi.org/19102/v1.2.1#`` one the EU DSS project publishes on
Maven Central, fetched by ``scripts/install-etsi-xsd.sh``; see ``tests/etsi_schema.py``).

``SignatureValidationObjects`` lists, as EU DSS does, every object the report refers to:

* ``file`` (ObjectType ``other``): the whole verified file by its SHA-256, the archive's identity
  of a version (for a stored version whose bytes are gone or changed: the recorded hash);
* per signature a ``signedData`` object: the bytes its ``/ByteRange`` covers, by the same
  digest ``SignersDocument`` gives, which references it;
* the ``certificate``\\ s (the signer's chain from the CMS, the TSAs' from their tokens, the DSS's
  ``/Certs``), the revocation data (``OCSPResponse`` and ``CRL`` from the DSS and the CMS), and
  the ``timestamp`` tokens (signature timestamps, document/archive timestamps), each in base64.

Identifiers are derived from the object's SHA-256 (``C-`` certificate, ``R-`` revocation data,
``T-`` timestamp, ``D-`` signed data), so an object found in several places is listed once.

``POE`` and a timestamp's ``POEProvisioning`` / ``ValidationReport`` are given only as far as the
signing room's verdicts support them. A good timestamp proves that what its bytes cover existed
at its time: a document timestamp is good when the signing room found it intact and trusted, and
covers every object in the revisions it signs except its own token; the signature timestamp is
good when the signing room took its time as the signature's best signature time, and covers the
signature, the signer's certificate (named in the signed attributes) if the signature verifies,
and the signed data if it is also intact. An object no good timestamp covers has POE at the
validation time only (it is at hand now). A timestamp that is not good provides no POE; its
``ValidationReport`` says ``total-failed`` when its bytes or signature are broken and is left out
when the verdicts do not say which ETSI indication applies.

The standard has no place for the archive's own findings, so the PAdES level, the timestamp
authority's name and the archived version that matches the file go into each
``SignatureValidationReport``'s open extension point, in the journal-archive namespace. A file
without signatures still gets one ``SignatureValidationReport`` (the schema requires at least
one) whose status is ``total-failed`` / ``FORMAT_FAILURE``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from lxml import etree

from archive_service.signing import SignatureReport, TimestampReport
from archive_service.verification.evidence import RawObject, SignatureEvidence, TimestampEvidence
from archive_service.verification.model import (
    TOTAL_FAILED,
    TOTAL_PASSED,
    UNSIGNED,
    Indication,
    Verification,
    indication,
)
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
#: Identifier prefix and listing order of each object type.
_PREFIX = {
    "other": "file",
    "signedData": "D-",
    "timestamp": "T-",
    "certificate": "C-",
    "OCSPResponse": "R-",
    "CRL": "R-",
}
_ORDER = tuple(_PREFIX)


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


# ---------------------------------------------------------------------- validation objects


@dataclass
class _Object:
    """One entry of ``SignatureValidationObjects``."""

    id: str
    kind: str
    #: Either the DER itself (shown in base64) or only a digest of the object.
    der: bytes | None = None
    digest: bytes | None = None
    #: (revision, carrier field) of every place in the PDF the object was found.
    locations: set[tuple[int, str | None]] = field(default_factory=set)


@dataclass
class _Stamp:
    """A timestamp token, with what the signing room concluded about it."""

    object_id: str
    evidence: TimestampEvidence
    #: ``True`` good, ``False`` broken (bytes or signature), ``None``: no verdict to map.
    passed: bool | None
    authority: str | None
    #: Object ids and signature field names it proves existed at its time (when it passed).
    covers: set[str] = field(default_factory=set)
    signatures: list[str] = field(default_factory=list)


class _Catalogue:
    """The validation objects of one report, and which good timestamp proves what."""

    def __init__(self, verification: Verification) -> None:
        self.verification = verification
        self.objects: dict[str, _Object] = {}
        self.stamps: dict[str, _Stamp] = {}
        #: field name → (revision, signed data object id, signer certificate object id)
        self.signed: dict[str, tuple[int | None, str | None, str | None]] = {}
        self._add(_Object(FILE_OBJECT_ID, "other", digest=bytes.fromhex(verification.sha256)))
        signatures = verification.validation.signatures if verification.validation else ()
        archive_verdicts = {
            stamp.field_name: stamp for s in signatures for stamp in s.archive_timestamps
        }
        documents_seen = False
        for signature in signatures:
            evidence = verification.evidence.get(signature.field_name)
            if evidence is None:
                continue
            self._signature(signature, evidence)
            if not documents_seen:  # the same DocumentEvidence hangs off every signature
                documents_seen = True
                for raw in evidence.document.dss:
                    self.raw(raw)
                for stamp in evidence.document.timestamps:
                    verdict = archive_verdicts.get(stamp.carrier)
                    self._timestamp(
                        stamp,
                        _archive_stamp_passed(verdict),
                        verdict.authority if verdict is not None else None,
                    )
        self._prove_existence()

    # -- collecting

    def _add(self, candidate: _Object) -> _Object:
        return self.objects.setdefault(candidate.id, candidate)

    def _der_object(self, kind: str, der: bytes, location: tuple[int | None, str | None]) -> str:
        object_id = _PREFIX[kind] + hashlib.sha256(der).hexdigest().upper()
        entry = self._add(_Object(object_id, kind, der=der))
        revision, carrier = location
        if revision is not None:
            entry.locations.add((revision, carrier))
        return object_id

    def raw(self, raw: RawObject) -> str:
        return self._der_object(raw.kind, raw.der, (raw.revision, raw.carrier))

    def _signature(self, signature: SignatureReport, evidence: SignatureEvidence) -> None:
        where = (evidence.revision, signature.field_name)
        data_id = None
        if evidence.signed_bytes_sha256 is not None:
            data_id = "D-" + evidence.signed_bytes_sha256.hex().upper()
            entry = self._add(_Object(data_id, "signedData", digest=evidence.signed_bytes_sha256))
            if evidence.revision is not None:
                entry.locations.add((evidence.revision, signature.field_name))
        certificate_id = None
        if evidence.signer_certificate is not None:
            certificate_id = self._der_object("certificate", evidence.signer_certificate, where)
        for raw in evidence.objects:
            self.raw(raw)
        self.signed[signature.field_name] = (evidence.revision, data_id, certificate_id)
        if evidence.signature_timestamp is None:
            return
        stamp = self._timestamp(
            evidence.signature_timestamp,
            _signature_stamp_passed(signature, evidence.signature_timestamp),
            signature.timestamp_authority,
        )
        if not stamp.passed:
            return
        # The token covers the signature value. That value signs the signed attributes (the
        # signer's certificate by hash, the message digest) only if it verifies, and the
        # message digest is that of the bytes in the file only if they are intact.
        stamp.signatures.append(signature.field_name)
        verifies = bool(getattr(signature, "valid", False))
        if verifies and certificate_id is not None:
            stamp.covers.add(certificate_id)
        if verifies and getattr(signature, "intact", False) and data_id is not None:
            stamp.covers.add(data_id)

    def _timestamp(
        self, evidence: TimestampEvidence, passed: bool | None, authority: str | None
    ) -> _Stamp:
        where = (evidence.revision, evidence.carrier)
        object_id = self._der_object("timestamp", evidence.token, where)
        for raw in evidence.objects:
            self.raw(raw)
        return self.stamps.setdefault(object_id, _Stamp(object_id, evidence, passed, authority))

    def _prove_existence(self) -> None:
        """What each good document timestamp covers: everything in the revisions it signs."""
        for stamp in self.stamps.values():
            if not stamp.passed or stamp.evidence.kind != "document":
                continue
            signed_revision, own = stamp.evidence.revision, stamp.evidence.carrier
            if signed_revision is None:
                continue
            stamp.covers.update(
                entry.id
                for entry in self.objects.values()
                if entry.id != stamp.object_id
                and any(r <= signed_revision and c != own for r, c in entry.locations)
            )
            stamp.signatures.extend(
                name
                for name, (revision, _, _) in self.signed.items()
                if revision is not None and revision <= signed_revision and name != own
            )

    # -- reading back

    def good_stamps(self) -> list[_Stamp]:
        """Timestamps that prove existence, oldest first."""
        good = [
            (gen_time, s)
            for s in self.stamps.values()
            if s.passed and (gen_time := s.evidence.gen_time) is not None
        ]
        return [s for _, s in sorted(good, key=lambda timed: timed[0])]

    def earliest_proof(self, object_id: str) -> _Stamp | None:
        return next((s for s in self.good_stamps() if object_id in s.covers), None)

    def stamp_for(self, carrier: str, kind: str) -> _Stamp | None:
        return next(
            (
                s
                for s in self.stamps.values()
                if s.evidence.carrier == carrier and s.evidence.kind == kind
            ),
            None,
        )

    def ids_of(self, objects: Iterable[RawObject]) -> list[str]:
        return list(dict.fromkeys(_PREFIX[o.kind] + o.sha256.hex().upper() for o in objects))

    # -- writing

    def listing(self) -> etree._Element:
        listing = etree.Element(f"{{{VR}}}SignatureValidationObjects")
        ordered = sorted(self.objects.values(), key=lambda entry: _ORDER.index(entry.kind))
        for entry in ordered:
            listing.append(self._element(entry))
        return listing

    def _element(self, entry: _Object) -> etree._Element:
        element = etree.Element(f"{{{VR}}}ValidationObject", id=entry.id)
        _vr(element, "ObjectType", OBJECT_TYPE + entry.kind)
        representation = _vr(element, "ValidationObjectRepresentation")
        if entry.der is not None:
            _vr(representation, "base64", base64.b64encode(entry.der).decode())
        else:
            _digest(representation, "DigestAlgAndValue", entry.digest or b"")
        if entry.kind != "other":
            proof = self.earliest_proof(entry.id)
            _poe(element, "POE", proof, self.verification.validated_at)
        stamp = self.stamps.get(entry.id)
        if stamp is not None:
            self._stamp_details(element, stamp)
        return element

    def _stamp_details(self, element: etree._Element, stamp: _Stamp) -> None:
        if stamp.passed and stamp.evidence.gen_time is not None:
            provisioning = _vr(element, "POEProvisioning")
            _vr(provisioning, "POETime", _time(stamp.evidence.gen_time))
            for covered in sorted(stamp.covers, key=lambda i: _ORDER.index(self.objects[i].kind)):
                _vr(provisioning, "ValidationObject", VOReference=covered)
            # The v1.2.1 schema allows one SignatureReference: given when exactly one is covered.
            if len(stamp.signatures) == 1:
                reference = _vr(provisioning, "SignatureReference")
                _vr(reference, "PAdESFieldName", stamp.signatures[0])
        if stamp.passed is None:
            return
        report = _vr(element, "ValidationReport")
        tsa = stamp.evidence.tsa_certificate
        if tsa is not None:
            signer = _vr(report, "SignerInformation")
            _vr(signer, "SignerCertificate", VOReference="C-" + _sha256_hex(tsa))
            if stamp.authority:
                _vr(signer, "Signer", stamp.authority)
        _status(report, Indication(TOTAL_PASSED if stamp.passed else TOTAL_FAILED))


def _signature_stamp_passed(signature: SignatureReport, stamp: TimestampEvidence) -> bool | None:
    """Good: the signing room took the token as the signature's proof of existence.

    ``timestamp_valid`` alone may be a chain-only verdict (revocation aside), so when the signing
    room reports a best signature time (EN 319 102-1; read defensively, it is new) the token is
    good only if that time is the token's. Otherwise there is no verdict to map (``None``).
    """
    if not getattr(signature, "timestamp_valid", None):
        return None
    if not hasattr(signature, "best_signature_time"):
        return True
    best = signature.best_signature_time
    return True if best is not None and best == stamp.gen_time else None


def _archive_stamp_passed(verdict: TimestampReport | None) -> bool | None:
    """Good: intact and trusted; broken: not intact; untrusted is not mapped (expired? unknown
    root?), so it gets no ``ValidationReport``."""
    if verdict is None:
        return None
    if not getattr(verdict, "intact", True):
        return False
    return True if getattr(verdict, "trusted", False) else None


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest().upper()


def _poe(
    parent: etree._Element, name: str, proof: _Stamp | None, validated_at: dt.datetime
) -> None:
    """A ``POEType``: the earliest good timestamp's time (and reference), else validation time."""
    poe = _vr(parent, name)
    moment = proof.evidence.gen_time if proof is not None else None
    _vr(poe, "POETime", _time(moment or validated_at))
    _vr(poe, "TypeOfProof", POE_VALIDATION)
    if proof is not None:
        _vr(poe, "POEObject", VOReference=proof.object_id)


# ----------------------------------------------------------------------------------- report


def etsi_report_xml(verification: Verification) -> bytes:
    """The ETSI report as UTF-8 XML bytes with a declaration."""
    root = etree.Element(f"{{{VR}}}ValidationReport", nsmap=NSMAP)
    catalogue = _Catalogue(verification)
    signatures = verification.validation.signatures if verification.validation else ()
    for number, signature in enumerate(signatures, start=1):
        evidence = verification.evidence.get(signature.field_name)
        root.append(_signature_report(verification, signature, evidence, number, catalogue))
    if not signatures:
        report = _vr(root, "SignatureValidationReport")
        _status(report, UNSIGNED)
        _archive_extension(report, verification)
    root.append(catalogue.listing())
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _signature_report(
    verification: Verification,
    signature: SignatureReport,
    evidence: SignatureEvidence | None,
    number: int,
    catalogue: _Catalogue,
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
    _best_signature_time(time_info, signature, catalogue, verification.validated_at)

    _revision, data_id, certificate_id = catalogue.signed.get(
        signature.field_name, (None, None, None)
    )
    if evidence is not None and evidence.signed_bytes_sha256 is not None and data_id:
        signers_document = _vr(report, "SignersDocument")
        _digest(signers_document, "DigestAlgAndValue", evidence.signed_bytes_sha256)
        _vr(signers_document, "SignersDocumentRef", VOReference=data_id)

    attributes = _signature_attributes(signature, evidence, catalogue)
    if len(attributes):
        report.append(attributes)

    if certificate_id is not None:
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
        etree.SubElement(
            extension, f"{{{JA}}}TimestampAuthority"
        ).text = signature.timestamp_authority
    etree.SubElement(extension, f"{{{JA}}}Issuer").text = signature.signer_issuer
    etree.SubElement(extension, f"{{{JA}}}Serial").text = signature.signer_serial
    etree.SubElement(extension, f"{{{JA}}}Coverage").text = signature.coverage
    etree.SubElement(extension, f"{{{JA}}}Summary").text = signature.summary
    _archive_extension(report, verification)
    return report


def _best_signature_time(
    time_info: etree._Element,
    signature: SignatureReport,
    catalogue: _Catalogue,
    validated_at: dt.datetime,
) -> None:
    """The signing room's best signature time if it reports one, else the earliest good
    timestamp over the signature, else the validation time; with the timestamp that proves it.
    """
    proofs = [s for s in catalogue.good_stamps() if signature.field_name in s.signatures]
    # Read defensively: the signing room is gaining EN 319 102-1's best signature time.
    reported = getattr(signature, "best_signature_time", None)
    if not isinstance(reported, dt.datetime):
        _poe(time_info, "BestSignatureTime", proofs[0] if proofs else None, validated_at)
        return
    best = _vr(time_info, "BestSignatureTime")
    _vr(best, "POETime", _time(reported))
    _vr(best, "TypeOfProof", POE_VALIDATION)
    proof = next((s for s in proofs if s.evidence.gen_time == reported), None)
    if proof is not None:
        _vr(best, "POEObject", VOReference=proof.object_id)


def _signature_attributes(
    signature: SignatureReport, evidence: SignatureEvidence | None, catalogue: _Catalogue
) -> etree._Element:
    attributes = etree.Element(f"{{{VR}}}SignatureAttributes")
    if signature.signing_time is not None:
        _vr(_vr(attributes, "SigningTime", Signed="true"), "Time", _time(signature.signing_time))
    stamp = catalogue.stamp_for(signature.field_name, "signature")
    stamp_time = signature.timestamp_time or (stamp.evidence.gen_time if stamp else None)
    if stamp_time is not None:
        element = _vr(attributes, "SignatureTimeStamp", Signed="false")
        if stamp is not None:
            _vr(element, "AttributeObject", VOReference=stamp.object_id)
        _vr(element, "TimeStampValue", _time(stamp_time))
    for archive in signature.archive_timestamps:
        if archive.time is None:
            continue
        element = _vr(attributes, "DocTimeStamp", Signed="false")
        document_stamp = catalogue.stamp_for(archive.field_name, "document")
        if document_stamp is not None:
            _vr(element, "AttributeObject", VOReference=document_stamp.object_id)
        _vr(element, "TimeStampValue", _time(archive.time))
    if evidence is not None and evidence.document.dss:
        _dss_attribute(attributes, evidence.document.dss, catalogue)
    if evidence is not None and evidence.byte_range:
        _vr(attributes, "ByteRange", " ".join(str(n) for n in evidence.byte_range))
    return attributes


def _dss_attribute(
    attributes: etree._Element, dss: Sequence[RawObject], catalogue: _Catalogue
) -> None:
    """The PDF's document security store: which listed objects its three arrays hold."""
    element = _vr(attributes, "DSS", Signed="false")
    for name, kind in (("Certs", "certificate"), ("CRLs", "CRL"), ("OCSPs", "OCSPResponse")):
        ids = catalogue.ids_of(o for o in dss if o.kind == kind)
        if ids:
            _vr(element, name, VOReference=" ".join(ids))


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
