"""The use cases: ingest, retrieve, verify, list. The only package that knows every room.

Order matters for the invariants (see DESIGN.md):

* ingest writes both objects (with retention) before the database row, in one transaction with
  its audit event — a crash in between leaves an orphan object, never a row without an object;
* retrieve reads and re-hashes the bytes, then commits the audit event, and only then hands the
  bytes to the caller — if the event cannot be written nothing is returned;
* nothing here updates or deletes a version: a changed export becomes a new version.

One module per job (:mod:`.ingest`, :mod:`.signing_requests`, :mod:`.retrieval`,
:mod:`.verification`, :mod:`.documents`, :mod:`.legal_holds`, :mod:`.renewals`,
:mod:`.audit_log`, :mod:`.reconcile`), composed into :class:`Archive` in :mod:`.archive`.
"""

from archive_service.access import Actor
from archive_service.pipeline.archive import Archive
from archive_service.pipeline.ingest import TEST_VERIFICATION_NOTE, VERIFICATION_NOTE
from archive_service.pipeline.legal_holds import MAX_LEGAL_HOLD_REASON
from archive_service.pipeline.signing_requests import (
    EXTERNAL_VERIFICATION_NOTE,
    SIGNING_CLAIM_TIMEOUT,
)
from archive_service.pipeline.values import (
    AuditFilter,
    DocumentFilter,
    IngestResult,
    PendingSignature,
    RequestContext,
    Retrieval,
)
from archive_service.pipeline.versions import DOCUMENT_KIND, SIGNING_REASON

__all__ = [
    "DOCUMENT_KIND",
    "EXTERNAL_VERIFICATION_NOTE",
    "MAX_LEGAL_HOLD_REASON",
    "SIGNING_CLAIM_TIMEOUT",
    "SIGNING_REASON",
    "TEST_VERIFICATION_NOTE",
    "VERIFICATION_NOTE",
    "Actor",
    "Archive",
    "AuditFilter",
    "DocumentFilter",
    "IngestResult",
    "PendingSignature",
    "RequestContext",
    "Retrieval",
]
