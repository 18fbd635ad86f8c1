"""Legal holds (admin): ``PUT``/``DELETE /api/v1/documents/{id}/versions/{n}/legal-hold``.

Both take the reason as a JSON body ``{"reason": "..."}``: a reason often names a court case,
and a query string would copy it into every proxy's access log.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from archive_service.api.auth import archive, authenticated, context
from archive_service.errors import ErrorDetail, MalformedInput

bp = Blueprint("legal_holds", __name__, url_prefix="/api/v1/documents")


def _reason() -> str:
    """The body's ``reason``; emptiness and length are the pipeline's rules to judge."""
    body = request.get_json(silent=True) if request.get_data(cache=True) else {}
    if not isinstance(body, dict):
        raise MalformedInput(
            'Send a JSON object such as {"reason": "court order 123/45"}.',
            [ErrorDetail("body", "JSON object expected")],
        )
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise MalformedInput(
            "The reason must be a string.", [ErrorDetail("/reason", "string expected")]
        )
    return reason or ""


@bp.put("/<document_id>/versions/<int:version_number>/legal-hold")
@authenticated
def set_legal_hold(document_id: str, version_number: int):  # type: ignore[no-untyped-def]
    return jsonify(
        archive().set_legal_hold(
            document_id, version_number, on=True, reason=_reason(), ctx=context()
        )
    )


@bp.delete("/<document_id>/versions/<int:version_number>/legal-hold")
@authenticated
def clear_legal_hold(document_id: str, version_number: int):  # type: ignore[no-untyped-def]
    return jsonify(
        archive().set_legal_hold(
            document_id, version_number, on=False, reason=_reason(), ctx=context()
        )
    )
