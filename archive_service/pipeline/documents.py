"""Document metadata: one document with its versions, or a page of documents in scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from archive_service.db import Document, Institution
from archive_service.errors import ErrorDetail, InvalidInput
from archive_service.pipeline.values import DocumentFilter, RequestContext
from archive_service.pipeline.visibility import ReadAccessMixin
from archive_service.views import document_view


class DocumentsMixin(ReadAccessMixin):
    """Metadata reads; every one is audited."""

    def get_document(self, document_id: str, ctx: RequestContext) -> dict[str, Any]:
        self._require_reader(ctx, "read_metadata", document_id)
        view = document_view(
            self._load_document(ctx, "read_metadata", document_id), all_versions=True
        )
        self._record(ctx, "read_metadata", "ok", document_id, None, None)
        return view

    def list_documents(
        self, filters: DocumentFilter, page: int, ctx: RequestContext
    ) -> dict[str, Any]:
        """A page of documents in the actor's scope, newest first."""
        self._require_reader(ctx, "search", None)
        if page < 1:
            raise InvalidInput("Pages are numbered from 1.", [ErrorDetail("page", "must be ≥ 1")])
        query = select(Document).join(Institution)
        institution = filters.institution
        if ctx.actor.institution is not None:
            if institution not in (None, ctx.actor.institution):
                institution = "-"  # outside the scope: an empty result, as for a missing one
            else:
                institution = ctx.actor.institution
        if institution:
            query = query.where(Institution.edrpou == institution)
        if filters.school_year:
            query = query.where(Document.school_year == filters.school_year)
        if filters.class_name:
            query = query.where(Document.class_name == filters.class_name)
        with self.reader() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            documents = session.scalars(
                query.options(selectinload(Document.versions))
                .order_by(Document.created_at.desc(), Document.id)
                .offset((page - 1) * self.page_size)
                .limit(self.page_size)
            ).all()
            items = [document_view(d, all_versions=False) for d in documents]
        self._record(
            ctx,
            "search",
            "ok",
            None,
            None,
            None,
            {k: v for k, v in vars(filters).items() if v} | {"page": page},
        )
        return {"items": items, "page": page, "page_size": self.page_size, "total": total}
