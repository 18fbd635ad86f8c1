"""Documents: list, metadata, signed PDF, original export, verification."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from archive_service.api.auth import archive, authenticated, context
from archive_service.api.params import int_param, path_id, text_param
from archive_service.api.verify import report_format, verification_response
from archive_service.pipeline import DocumentFilter, Retrieval

bp = Blueprint("documents", __name__, url_prefix="/api/v1/documents")


def _send(retrieval: Retrieval) -> Response:
    """Bytes already hash-checked and audited; personal data, so never cached."""
    response = Response(retrieval.data, mimetype=retrieval.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{retrieval.filename}"'
    response.headers["ETag"] = f'"{retrieval.sha256}"'
    response.headers["X-Content-SHA256"] = retrieval.sha256
    response.headers["X-Document-Version"] = str(retrieval.version)
    response.headers["X-Legal-Hold"] = _on_off(retrieval.legal_hold)
    if retrieval.legal_hold_drift:
        response.headers["X-Legal-Hold-Drift"] = (
            f"recorded={_on_off(retrieval.legal_hold)}; store={_on_off(retrieval.store_legal_hold)}"
        )
    response.headers["Cache-Control"] = "no-store"
    return response


def _on_off(hold: bool | None) -> str:
    """How a legal hold shows in the download headers: on, off, or unknown (store silent)."""
    return "unknown" if hold is None else ("on" if hold else "off")


@bp.get("")
@authenticated
def list_documents() -> Response:
    filters = DocumentFilter(
        institution=text_param("institution"),
        school_year=text_param("school_year"),
        class_name=text_param("class_name"),
    )
    page = int_param("page", 1) or 1
    return jsonify(archive().list_documents(filters, page, context()))


@bp.get("/<document_id>")
@authenticated
def get_document(document_id: str) -> Response:
    return jsonify(archive().get_document(path_id("document_id", document_id), context()))


@bp.get("/<document_id>/pdf")
@authenticated
def get_pdf(document_id: str) -> Response:
    version = int_param("version", None)
    document_id = path_id("document_id", document_id)
    return _send(archive().retrieve(document_id, version, "pdf", context()))


@bp.get("/<document_id>/source")
@authenticated
def get_source(document_id: str) -> Response:
    version = int_param("version", None)
    document_id = path_id("document_id", document_id)
    return _send(archive().retrieve(document_id, version, "source", context()))


@bp.get("/<document_id>/verification")
@authenticated
def get_verification(document_id: str) -> Response:
    chosen = report_format()
    version = int_param("version", None)
    document_id = path_id("document_id", document_id)
    return verification_response(archive().verify_document(document_id, version, context()), chosen)
