"""``POST /api/v1/journals``: upload one journal export."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request, url_for

from archive_service.api.auth import archive, authenticated, context
from archive_service.api.signing_requests import archived_body, pending_response
from archive_service.errors import ErrorDetail, InvalidInput
from archive_service.pipeline import PendingSignature

bp = Blueprint("journals", __name__, url_prefix="/api/v1")

_MEDIA_BY_EXTENSION = {"json": "application/json", "xml": "application/xml"}


def _uploaded_export() -> tuple[bytes, str | None]:
    """The export's bytes and declared media type, from a raw body or multipart field ``file``."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise InvalidInput(
                "Send the export in the multipart field 'file'.",
                [ErrorDetail("file", "missing")],
            )
        media_type = upload.mimetype
        if media_type in ("", "application/octet-stream") and upload.filename:
            extension = upload.filename.rsplit(".", 1)[-1].lower()
            media_type = _MEDIA_BY_EXTENSION.get(extension, media_type)
        return upload.read(), media_type or None
    data = request.get_data(cache=False)
    if not data:
        raise InvalidInput(
            "The request body is empty: send a JSON or XML journal export.",
            [ErrorDetail("body", "empty")],
        )
    return data, request.mimetype or None


@bp.post("/journals")
@authenticated
def upload_journal() -> Response:
    """201 with a new version, or 200 when these exact bytes were archived before.

    202 with a signing request when the institution's journals are signed externally.
    """
    data, media_type = _uploaded_export()
    result = archive().ingest(data, media_type, context())
    if isinstance(result, PendingSignature):
        return pending_response(result)
    body = archived_body(result)
    response = jsonify(body)
    response.status_code = 201 if result.created else 200
    response.headers["Location"] = url_for(
        "documents.get_document", document_id=body["document_id"]
    )
    return response
