"""One translation of errors into JSON: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify
from werkzeug.exceptions import HTTPException

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
    body = exc.as_dict()["error"]
    return error_response(exc.status, body["code"], body["message"], body["details"])


def _http_error(exc: HTTPException) -> Response:
    code = (exc.name or "error").lower().replace(" ", "_")
    if exc.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return error_response(
            413,
            "payload_too_large",
            f"The upload is larger than this archive accepts ({limit} bytes); split the batch "
            "or ask the administrator to raise ARCHIVE_MAX_UPLOAD_BYTES.",
            [{"path": "body", "message": f"more than {limit} bytes"}],
        )
    return error_response(exc.code or 500, code, exc.description or exc.name)


def _unexpected(exc: Exception) -> Response:
    log.exception("unexpected error")
    return error_response(
        500, "internal_error", "Unexpected server error; it has been logged. Nothing was archived."
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(ArchiveError, _archive_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
