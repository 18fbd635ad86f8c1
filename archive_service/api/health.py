"""Liveness and readiness."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from archive_service.api.auth import archive
from archive_service.api.errors import error_response

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """Ready when the database answers and the store is usable.

    Settings that leave the store usable but differ from how it was set up (an S3 bucket's
    default retention, a backstop only) are reported under ``warnings``, never as a 503: a
    load balancer must not take the service out of rotation over them.
    """
    checks: dict[str, str] = {}
    warnings: list[dict[str, str]] = []
    try:
        with archive().reader() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        found = archive().store.check()
        warnings += [{"check": "storage", "message": message} for message in found or ()]
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"unavailable: {type(exc).__name__}"
    if any(v != "ok" for v in checks.values()):
        return error_response(503, "not_ready", f"Not ready: {checks}")
    return jsonify({"status": "ok", "checks": checks, "warnings": warnings})
