"""Legal holds (admin): ``PUT``/``DELETE /api/v1/documents/{id}/versions/{n}/legal-hold``.

Both take the reason as a JSON body ``{"reason": "..."}``: a reason often names a court case,
and a query string would copy it into every proxy's access log.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from archive_service.api.auth import archive, authenticated, context
from archive_service.api.params import MAX_INT32, checked_text, path_id
from archive_service.errors import ErrorDetail, MalformedInput

bp = Blueprint("legal_holds", __name__, url_prefix="/api/v1/documents")


def _reason() -> str:
    """The body's ``reason``; emptiness and length are the pipeline's rules to judge, its
    characters (it is recorded and exported) are checked here like every recorded text."""
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
    if not reason:
        return ""
    return checked_text(reason, "reason", max_length=None, what="The reason")


#: A version number in the URL: ASCII digits, 1 to PostgreSQL's largest ``integer``.
_VERSION = f"<int(min=1, max={MAX_INT32}):version_number>"


@bp.put(f"/<document_id>/versions/{_VERSION}/legal-hold")
@authenticated
def set_legal_hold(document_id: str, version_number: int) -> Response:
    document_id = path_id("document_id", document_id)
    return jsonify(
        archive().set_legal_hold(
            document_id, version_number, on=True, reason=_reason(), ctx=context()
        )
    )


@bp.delete(f"/<document_id>/versions/{_VERSION}/legal-hold")
@authenticated
def clear_legal_hold(document_id: str, version_number: int) -> Response:
    document_id = path_id("document_id", document_id)
    return jsonify(
        archive().set_legal_hold(
            document_id, version_number, on=False, reason=_reason(), ctx=context()
        )
    )
