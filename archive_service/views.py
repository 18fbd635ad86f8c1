"""JSON-ready views of archive records, shared by the API and the CLI."""

from __future__ import annotations

import datetime as dt
from typing import Any

from archive_service.db import Document, DocumentVersion


def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC; SQLite hands back naive datetimes that are UTC by construction."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def version_view(version: DocumentVersion, supersedes: int | None = None) -> dict[str, Any]:
    return {
        "version": version.number,
        "supersedes": supersedes,
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
    versions = [version_view(v, by_id.get(v.supersedes_id or -1)) for v in document.versions]
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
