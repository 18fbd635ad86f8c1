"""``GET /api/v1/audit`` (admin): the audit events, filtered, as pages or a streamed export."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, jsonify, request

from archive_service.api.auth import archive, authenticated, context
from archive_service.audit_export import MEDIA_TYPES, export_lines
from archive_service.errors import ErrorDetail, InvalidInput
from archive_service.pipeline import AuditFilter

bp = Blueprint("audit", __name__, url_prefix="/api/v1")


def _time_arg(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"Query parameter {name!r} must be an ISO 8601 time such as 2024-06-20T10:00:00Z.",
            [ErrorDetail(name, "ISO 8601 time expected")],
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _count_arg(name: str, default: int) -> int:
    raw = request.args.get(name, "")
    if not raw:
        return default
    if not raw.isdigit():
        raise InvalidInput(
            f"Query parameter {name!r} must be a whole number.", [ErrorDetail(name, "integer")]
        )
    return int(raw)


def _format_arg() -> str:
    value = request.args.get("format") or "json"
    if value != "json" and value not in MEDIA_TYPES:
        raise InvalidInput(
            f"Query parameter 'format' must be json, jsonl or csv, not {value!r}.",
            [ErrorDetail("format", "one of json, jsonl, csv")],
        )
    return value


@bp.get("/audit")
@authenticated
def list_audit_events():  # type: ignore[no-untyped-def]
    """A page of events (``format=json``), or all of them streamed as JSON Lines or CSV."""
    export_format = _format_arg()
    filters = AuditFilter(
        document_id=request.args.get("document") or request.args.get("document_id") or None,
        actor=request.args.get("actor") or None,
        action=request.args.get("action") or None,
        since=_time_arg("since"),
        until=_time_arg("until"),
        after_seq=_count_arg("after", 0),
        limit=_count_arg("limit", 100),
    )
    if export_format != "json":
        events = archive().export_audit_events(filters, context())
        response = Response(export_lines(events, export_format), mimetype=None)
        response.headers["Content-Type"] = MEDIA_TYPES[export_format]
        response.headers["Content-Disposition"] = f'attachment; filename="audit.{export_format}"'
        response.headers["Cache-Control"] = "no-store"
        return response
    events = archive().audit_events(filters, context())
    next_after = events[-1]["seq"] if events else None
    return jsonify({"items": events, "next_after": next_after})
