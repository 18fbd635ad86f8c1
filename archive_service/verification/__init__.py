"""Verification reports: one :class:`Verification` per checked file, three ways to show it.

The signing room says what the signatures prove (its ``ValidationReport``); this room adds
what the archive knows (the file's hash, the archived version it matches) and renders the
whole as JSON (:mod:`.json_report`), as an ETSI TS 119 102-2 validation report
(:mod:`.etsi_report`) and as text for the CLI (:mod:`.text_report`). Each output form reads
the signing room's fields in exactly one mapping function, so new fields there need one local
change per form.
"""

from archive_service.verification.etsi_report import etsi_report_xml
from archive_service.verification.evidence import SignatureEvidence, signature_evidence
from archive_service.verification.json_report import verification_json
from archive_service.verification.model import ArchivedVersion, Indication, Verification, indication
from archive_service.verification.text_report import verification_text

__all__ = [
    "ArchivedVersion",
    "Indication",
    "SignatureEvidence",
    "Verification",
    "etsi_report_xml",
    "indication",
    "signature_evidence",
    "verification_json",
    "verification_text",
]
