"""The verification report as lines for a terminal: a verdict first, then each signature."""

from __future__ import annotations

from archive_service.signing import SignatureReport
from archive_service.verification.model import Verification, indication
from archive_service.views import iso


def verification_text(verification: Verification) -> list[str]:
    verdict = {"valid": "VALID", "indeterminate": "INDETERMINATE"}.get(
        verification.verdict, "NOT VALID"
    )
    lines = [f"{verdict} — {verification.summary}"]
    lines.append(f"  file sha256 {verification.sha256}")
    if verification.recorded_sha256 is not None:
        matches = verification.integrity_problem is None
        lines.append(f"  stored bytes match the record: {'yes' if matches else 'NO'}")
    match = verification.archived
    lines.append(
        f"  archived: document {match.document_id} version {match.version}"
        if match
        else "  archived: no (these bytes are not an archived version visible to you)"
    )
    lines.append(f"  validated at {iso(verification.validated_at)}")
    signatures = verification.validation.signatures if verification.validation else ()
    for number, signature in enumerate(signatures, start=1):
        lines.extend(signature_text(number, signature))
    return lines


_REVOCATION = {
    "good": "not revoked (embedded or fetched revocation data)",
    "revoked": "REVOKED",
    "not_checked": "not established (no revocation data valid at the best signature time)",
}


def signature_text(number: int, signature: SignatureReport) -> list[str]:
    """The one mapping from the signing room's per-signature report to text."""
    status = indication(signature)
    timestamp = (
        f"{iso(signature.timestamp_time)} by {signature.timestamp_authority}"
        + ("" if signature.timestamp_valid else " (NOT valid or not trusted)")
        if signature.timestamp_time is not None
        else "none"
    )
    modifications = (
        "none (covers the entire file)"
        if signature.coverage == "entire_file"
        else f"{signature.modification_level}, "
        f"{'permitted' if signature.modifications_ok else 'NOT permitted'}"
    )
    return [
        f"signature {number} ({signature.field_name}): {status.main_name}"
        + (f" / {status.sub}" if status.sub else ""),
        f"  signer:        {signature.signer_subject}",
        f"  issuer:        {signature.signer_issuer} (serial {signature.signer_serial})",
        f"  level:         {signature.level or 'none'}",
        f"  signing time:  {iso(signature.signing_time) or 'not stated'} (claimed by the signer)",
        f"  timestamp:     {timestamp}",
        f"  judged at:     {iso(signature.best_signature_time) or 'n/a'} (best signature time)",
        f"  integrity:     {'intact' if signature.intact else 'CHANGED'}, signature "
        f"{'verifies' if signature.valid else 'does NOT verify'}",
        f"  trust:         {'chains to a trusted root' if signature.trusted else 'NOT trusted'}",
        f"  revocation:    {_REVOCATION[signature.revocation]}",
        *(
            f"  archive stamp: {iso(stamp.time)} by {stamp.authority}"
            + ("" if stamp.intact and stamp.trusted else " (NOT intact or not trusted)")
            for stamp in signature.archive_timestamps
        ),
        f"  modifications: {modifications}",
        f"  {signature.summary}",
    ]
