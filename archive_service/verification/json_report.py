"""The verification report as JSON: the body of both verification endpoints and ``--json``."""

from __future__ import annotations

from typing import Any

from archive_service.signing import SignatureReport
from archive_service.verification.evidence import SignatureEvidence
from archive_service.verification.model import Verification, indication
from archive_service.views import iso

#: Bumped when a field changes meaning or disappears (adding fields does not bump it).
REPORT_FORMAT = 1


def verification_json(verification: Verification) -> dict[str, Any]:
    report: dict[str, Any] = {
        "report_format": REPORT_FORMAT,
        "valid": verification.valid,
        "verdict": verification.verdict,
        "summary": verification.summary,
        "validation_time": iso(verification.validated_at),
        "file": {"sha256": verification.sha256, "size": verification.size},
        "archived": _archived(verification),
        "signatures": [
            signature_json(signature, verification.evidence.get(signature.field_name))
            for signature in (verification.validation.signatures if verification.validation else ())
        ],
    }
    if verification.recorded_sha256 is not None:
        report["integrity"] = {
            "recorded_sha256": verification.recorded_sha256,
            "matches": verification.integrity_problem is None,
        }
        if verification.integrity_problem is not None:
            report["integrity"]["message"] = verification.integrity_problem
        report["recorded_signature_level"] = verification.recorded_signature_level
    if verification.archived is not None:
        report["document_id"] = verification.archived.document_id
        report["version"] = verification.archived.version
    return report


def _archived(verification: Verification) -> dict[str, Any]:
    match = verification.archived
    if match is None:
        return {"matches": False, "document_id": None, "version": None}
    return {"matches": True, "document_id": match.document_id, "version": match.version}


def signature_json(
    signature: SignatureReport, evidence: SignatureEvidence | None
) -> dict[str, Any]:
    """The one mapping from the signing room's per-signature report to JSON."""
    status = indication(signature)
    timestamps = []
    if signature.timestamp_time is not None:
        timestamps.append(
            {
                "kind": "signature_timestamp",
                "time": iso(signature.timestamp_time),
                "authority": signature.timestamp_authority,
                "valid": signature.timestamp_valid,
            }
        )
    timestamps.extend(
        {
            "kind": "archive_timestamp",
            "field_name": stamp.field_name,
            "time": iso(stamp.time),
            "authority": stamp.authority,
            "valid": stamp.intact and stamp.trusted,
            "intact": stamp.intact,
            "trusted": stamp.trusted,
            "coverage": stamp.coverage,
        }
        for stamp in signature.archive_timestamps
    )
    return {
        "field_name": signature.field_name,
        "signer": {
            "subject": signature.signer_subject,
            "issuer": signature.signer_issuer,
            "serial": signature.signer_serial,
        },
        "signing_time": iso(signature.signing_time),
        "timestamps": timestamps,
        "level": signature.level,
        "integrity": {"intact": signature.intact, "signature_valid": signature.valid},
        "trust": {"trusted": signature.trusted},
        "revocation": {
            "checked": signature.revocation != "not_checked",
            "status": signature.revocation,
        },
        "best_signature_time": iso(signature.best_signature_time),
        "modifications": {
            "coverage": signature.coverage,
            "level": signature.modification_level,
            "permitted": signature.modifications_ok,
        },
        "indication": {"main": status.main_name, "sub": status.sub},
        "acceptable": signature.acceptable,
        "summary": signature.summary,
        "signed_bytes_sha256": (
            evidence.signed_bytes_sha256.hex()
            if evidence is not None and evidence.signed_bytes_sha256 is not None
            else None
        ),
    }
