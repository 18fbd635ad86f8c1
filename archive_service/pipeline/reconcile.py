"""Reconcile glue: the pipeline hands its store and read sessions to the reconcile job."""

from __future__ import annotations

from collections.abc import Callable

from archive_service.pipeline.core import ArchiveCore
from archive_service.reconcile import ReconcileReport, reconcile


class ReconcileMixin(ArchiveCore):
    """The read-only consistency check between the store and the database."""

    def reconcile(self, progress: Callable[[int], None] | None = None) -> ReconcileReport:
        """Orphans, stale rows, incomplete writes, delete markers and unanchored audit events
        (read-only; see :mod:`reconcile`)."""
        window = self.checkpoints.window if self.checkpoints is not None else None
        return reconcile(self.store, self.reader, progress, window)
