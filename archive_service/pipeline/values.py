"""What the use cases take and return: request context, filters and results (plain values)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from archive_service.access import Actor


@dataclass(frozen=True)
class RequestContext:
    """Who asks, from where and why: everything an audit event needs besides the action."""

    actor: Actor
    client_address: str | None = None
    purpose: str | None = None


@dataclass(frozen=True)
class IngestResult:
    document: dict[str, Any]
    version: dict[str, Any]
    #: False when the same export was already archived (idempotent upload).
    created: bool


@dataclass(frozen=True)
class PendingSignature:
    """An upload prepared for an external signer: nothing is archived until it answers."""

    #: The signing request as :func:`~archive_service.views.signing_request_view` shows it.
    request: dict[str, Any]
    #: False when these export bytes were already waiting (the same request is returned).
    created: bool

    @property
    def document(self) -> dict[str, Any]:
        """The planned document, shaped like :attr:`IngestResult.document` for printers."""
        return {"document_id": self.request["document_id"]}

    @property
    def version(self) -> dict[str, Any]:
        return {"version": self.request["version"], "signature_level": "awaiting signature"}


@dataclass(frozen=True)
class Retrieval:
    """Bytes that passed the hash check and whose retrieval is already in the audit log."""

    data: bytes
    media_type: str
    filename: str
    sha256: str
    document_id: str
    version: int
    #: The version's legal hold as recorded (what the document JSON shows)...
    legal_hold: bool = False
    #: ...and as the store holds it for this object now; None when the store could not say.
    store_legal_hold: bool | None = False

    @property
    def legal_hold_drift(self) -> bool:
        """The store's hold is not the recorded one (or could not be read)."""
        return self.store_legal_hold is not self.legal_hold


@dataclass(frozen=True)
class DocumentFilter:
    institution: str | None = None
    school_year: str | None = None
    class_name: str | None = None


@dataclass(frozen=True)
class AuditFilter:
    document_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    after_seq: int = 0
    limit: int = 100
