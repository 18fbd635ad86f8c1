"""One translation of errors into JSON: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from archive_service.errors import ArchiveError

log = logging.getLogger(__name__)


def error_response(
    status: int, code: str, message: str, details: list[dict[str, str]] | None = None
) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "details": details or []}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="journal-archive"'
    return response


def _archive_error(exc: ArchiveError) -> Response:
    if exc.status >= 500:
        log.error("%s: %s", exc.code, exc.message, exc_info=exc.__cause__ or exc)
    details = [detail.as_dict() for detail in exc.details]
    return error_response(exc.status, exc.code, exc.message, details)


#: Where a refusal by the HTTP framework itself points: the part of the request at fault.
_HTTP_ERROR_PATHS = {
    400: "request",
    404: "path",
    405: "method",
    411: "header:Content-Length",
    414: "path",
    415: "header:Content-Type",
    431: "headers",
}


def _http_error(exc: HTTPException) -> Response:
    """Refusals of the framework (unknown URL, wrong method, body or headers too large…) in
    the same JSON shape as the service's own, with the part of the request at fault."""
    code = (exc.name or "error").lower().replace(" ", "_")
    status = exc.code or 500
    if exc.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return error_response(
            413,
            "payload_too_large",
            f"The upload is larger than this archive accepts ({limit} bytes); split the batch "
            "or ask the administrator to raise ARCHIVE_MAX_UPLOAD_BYTES.",
            [{"path": "body", "message": f"more than {limit} bytes"}],
        )
    message = exc.description or exc.name
    path = _HTTP_ERROR_PATHS.get(status)
    details = [{"path": path, "message": exc.name}] if path else None
    response = error_response(status, code, message, details)
    if status == 405 and isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error")
    return error_response(
        500, "internal_error", "Unexpected server error; it has been logged. Nothing was archived."
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(ArchiveError, _archive_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
