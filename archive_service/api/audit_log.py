"""``GET /api/v1/audit`` (admin): the audit events, filtered, as pages or a streamed export."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from archive_service.api.auth import archive, authenticated, context
from archive_service.api.params import (
    MAX_INT32,
    choice_param,
    int_param,
    text_param,
    time_param,
)
from archive_service.audit.export import MEDIA_TYPES, export_lines
from archive_service.pipeline import AuditFilter

bp = Blueprint("audit", __name__, url_prefix="/api/v1")


def _format_arg() -> str:
    return choice_param("format", ("json", *MEDIA_TYPES), "json")


def _count(name: str, default: int, maximum: int) -> int:
    value = int_param(name, default, minimum=0, maximum=maximum)
    return default if value is None else value


@bp.get("/audit")
@authenticated
def list_audit_events() -> Response:
    """A page of events (``format=json``), or all of them streamed as JSON Lines or CSV."""
    export_format = _format_arg()
    filters = AuditFilter(
        document_id=text_param("document") or text_param("document_id"),
        actor=text_param("actor"),
        action=text_param("action"),
        since=time_param("since"),
        until=time_param("until"),
        after_seq=_count("after", 0, MAX_INT32),  # the seq column is a 32-bit integer
        limit=_count("limit", 100, MAX_INT32),  # the pipeline clamps it to 1–1000
    )
    if export_format != "json":
        streamed = archive().export_audit_events(filters, context())
        response = Response(export_lines(streamed, export_format), mimetype=None)
        response.headers["Content-Type"] = MEDIA_TYPES[export_format]
        response.headers["Content-Disposition"] = f'attachment; filename="audit.{export_format}"'
        response.headers["Cache-Control"] = "no-store"
        return response
    events = archive().audit_events(filters, context())
    next_after = events[-1]["seq"] if events else None
    return jsonify({"items": events, "next_after": next_after})
