"""JSON-ready views of archive records, shared by the API and the CLI."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any

from archive_service.db import Document, DocumentVersion, SigningRequest


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC; SQLite hands back naive datetimes that are UTC by construction."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def version_view(
    version: DocumentVersion, supersedes: int | None = None, renews: int | None = None
) -> dict[str, Any]:
    """One version; ``supersedes`` and ``renews`` are version *numbers* (rows know only ids)."""
    return {
        "version": version.number,
        "supersedes": supersedes,
        # Set for a timestamp renewal: the version whose signed PDF it extends.
        "renews": renews,
        "sha256": version.sha256,
        "size": version.size,
        "pdf_profile": version.pdf_profile,
        "signature_level": version.signature_level,
        "signed_at": iso(version.signed_at),
        "signer": {
            "kind": version.signer_kind,
            "subject": version.signer_subject,
            "serial": version.signer_serial,
            "issuer": version.signer_issuer,
            "qualified": version.qualified,
        },
        "timestamp_expires_at": iso(version.timestamp_expires_at),
        "retain_until": iso(version.retain_until),
        "created_at": iso(version.created_at),
        "source": {
            "sha256": version.source_sha256,
            "size": version.source_size,
            "media_type": version.source_media_type,
        },
        "object_key": version.object_key,
        "legal_hold": legal_hold_view(version),
    }


def legal_hold_view(version: DocumentVersion) -> dict[str, Any]:
    """The hold state; ``reason``/``changed_*`` describe the last set *or* clear (if any)."""
    return {
        "active": bool(version.legal_hold),
        "reason": version.legal_hold_reason,
        "changed_by": version.legal_hold_changed_by,
        "changed_at": iso(version.legal_hold_changed_at),
    }


def document_view(document: Document, *, all_versions: bool) -> dict[str, Any]:
    """A document with either every version (detail) or only the latest (lists)."""
    by_id = {v.id: v.number for v in document.versions}
    versions = [
        version_view(v, by_id.get(v.supersedes_id or -1), by_id.get(v.renews_id or -1))
        for v in document.versions
    ]
    view: dict[str, Any] = {
        "document_id": document.id,
        "kind": document.kind,
        "institution": {
            "edrpou": document.institution.edrpou,
            "name": document.institution.name,
        },
        "school_year": document.school_year,
        "class_name": document.class_name,
        "created_at": iso(document.created_at),
        "latest_version": versions[-1]["version"] if versions else None,
    }
    if all_versions:
        view["versions"] = versions
    else:
        view["latest"] = versions[-1] if versions else None
    return view


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def signing_request_status(request: SigningRequest, now: dt.datetime) -> str:
    """``pending``, ``finishing``, ``finished`` or ``expired`` (pending past its expiry)."""
    if request.state != "finished" and _aware(request.expires_at) <= now:
        return "expired"
    return request.state


def signing_request_view(request: SigningRequest, now: dt.datetime) -> dict[str, Any]:
    """A signing request as the outside party needs it: what to sign, with which key, by when.

    Binary values are base64 (standard alphabet, padded). ``data_to_be_signed`` serves parties
    that sign a value (they sign ``signed_attributes``; "sign this hash" interfaces take
    ``digest``); ``document_digest`` serves parties that return a whole detached CMS.
    """
    return {
        "request_id": request.id,
        "status": signing_request_status(request, now),
        "document_id": request.document_id,
        "version": request.version_number,
        "institution": {"edrpou": request.institution_edrpou, "name": request.institution_name},
        "school_year": request.school_year,
        "class_name": request.class_name,
        "signature_level": request.signature_level,
        "certificate": {
            "subject": request.signer_subject,
            "serial": request.signer_serial,
            "issuer": request.signer_issuer,
            "der": _b64(request.certificate),
        },
        "data_to_be_signed": {
            "signed_attributes": _b64(request.signed_attributes),
            "digest_algorithm": "sha256",
            "digest": _b64(hashlib.sha256(request.signed_attributes).digest()),
            "signature_algorithm": request.signature_algorithm,
        },
        "document_digest": {
            "algorithm": "sha256",
            "value": _b64(bytes.fromhex(request.document_digest)),
        },
        "source_sha256": request.source_sha256,
        "created_by": request.created_by,
        "created_at": iso(request.created_at),
        "expires_at": iso(request.expires_at),
        "finished_at": iso(request.finished_at),
    }
