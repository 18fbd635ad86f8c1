"""The :class:`Archive`: the use cases, composed from one part per job.

Each base class holds one job (ingest, retrieval, verification, …) over the shared backends of
:class:`~archive_service.pipeline.core.ArchiveCore`; this class only puts them together, so the
HTTP layer and the CLI keep one object to call.
"""

from __future__ import annotations

from archive_service.pipeline.audit_log import AuditLogMixin
from archive_service.pipeline.documents import DocumentsMixin
from archive_service.pipeline.ingest import IngestMixin
from archive_service.pipeline.legal_holds import LegalHoldsMixin
from archive_service.pipeline.reconcile import ReconcileMixin
from archive_service.pipeline.renewals import RenewalsMixin
from archive_service.pipeline.retrieval import RetrievalMixin
from archive_service.pipeline.verification import VerificationMixin


class Archive(
    IngestMixin,
    RetrievalMixin,
    VerificationMixin,
    DocumentsMixin,
    LegalHoldsMixin,
    RenewalsMixin,
    AuditLogMixin,
    ReconcileMixin,
):
    """The archive's use cases over injected backends (chosen by configuration elsewhere).

    A dataclass through :class:`~archive_service.pipeline.core.ArchiveCore`, whose fields are
    its constructor's keywords; external signing requests come with :class:`IngestMixin`.
    """
