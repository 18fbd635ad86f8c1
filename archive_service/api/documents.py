"""Documents: list, metadata, signed PDF, original export, verification."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from archive_service.api.auth import archive, authenticated, context
from archive_service.api.verify import report_format, verification_response
from archive_service.errors import ErrorDetail, InvalidInput
from archive_service.pipeline import DocumentFilter, Retrieval

bp = Blueprint("documents", __name__, url_prefix="/api/v1/documents")


def _int_arg(name: str, default: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput(
            f"Query parameter {name!r} must be a positive whole number, not {raw!r}.",
            [ErrorDetail(name, "positive integer expected")],
        )
    return int(raw)


def _send(retrieval: Retrieval) -> Response:
    """Bytes already hash-checked and audited; personal data, so never cached."""
    response = Response(retrieval.data, mimetype=retrieval.media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{retrieval.filename}"'
    response.headers["ETag"] = f'"{retrieval.sha256}"'
    response.headers["X-Content-SHA256"] = retrieval.sha256
    response.headers["X-Document-Version"] = str(retrieval.version)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("")
@authenticated
def list_documents():  # type: ignore[no-untyped-def]
    filters = DocumentFilter(
        institution=request.args.get("institution") or None,
        school_year=request.args.get("school_year") or None,
        class_name=request.args.get("class_name") or None,
    )
    page = _int_arg("page", 1) or 1
    return jsonify(archive().list_documents(filters, page, context()))


@bp.get("/<document_id>")
@authenticated
def get_document(document_id: str):  # type: ignore[no-untyped-def]
    return jsonify(archive().get_document(document_id, context()))


@bp.get("/<document_id>/pdf")
@authenticated
def get_pdf(document_id: str) -> Response:
    version = _int_arg("version", None)
    return _send(archive().retrieve(document_id, version, "pdf", context()))


@bp.get("/<document_id>/source")
@authenticated
def get_source(document_id: str) -> Response:
    version = _int_arg("version", None)
    return _send(archive().retrieve(document_id, version, "source", context()))


@bp.get("/<document_id>/verification")
@authenticated
def get_verification(document_id: str) -> Response:
    chosen = report_format()
    version = _int_arg("version", None)
    return verification_response(archive().verify_document(document_id, version, context()), chosen)
