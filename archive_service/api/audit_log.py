"""``GET /api/v1/audit`` (admin): the audit events, filtered."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, request

from archive_service.api.auth import archive, authenticated, context
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


@bp.get("/audit")
@authenticated
def list_audit_events():  # type: ignore[no-untyped-def]
    filters = AuditFilter(
        document_id=request.args.get("document") or request.args.get("document_id") or None,
        actor=request.args.get("actor") or None,
        action=request.args.get("action") or None,
        since=_time_arg("since"),
        until=_time_arg("until"),
        after_seq=_count_arg("after", 0),
        limit=_count_arg("limit", 100),
    )
    events = archive().audit_events(filters, context())
    next_after = events[-1]["seq"] if events else None
    return jsonify({"items": events, "next_after": next_after})
