"""External signing: ``/api/v1/signing-requests`` (README "External signing").

An upload for an institution with an external signer answers ``202 Accepted`` with a signing
request; the outside party reads it here and posts its answer — a raw signature value or a
whole CMS — to ``…/{id}/signature``, which archives the document (``201``).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from asn1crypto import pem
from flask import Blueprint, Response, jsonify, request, url_for

from archive_service.api.auth import archive, authenticated, context
from archive_service.api.params import path_id
from archive_service.errors import ErrorDetail, MalformedInput
from archive_service.pipeline import IngestResult, PendingSignature
from archive_service.signing.sealing import CmsSignature, RawSignature, SignatureAnswer

bp = Blueprint("signing_requests", __name__, url_prefix="/api/v1/signing-requests")


def with_links(view: dict[str, Any]) -> dict[str, Any]:
    """The request plus where to read it and where to post the answer."""
    request_id = view["request_id"]
    return view | {
        "links": {
            "self": url_for("signing_requests.get_request", request_id=request_id),
            "signature": url_for("signing_requests.post_signature", request_id=request_id),
        }
    }


def pending_response(result: PendingSignature) -> Response:
    """``202 Accepted``: prepared, nothing archived yet; ``Location`` names the request."""
    body = with_links(result.request) | {"created": result.created}
    response = jsonify(body)
    response.status_code = 202
    response.headers["Location"] = body["links"]["self"]
    response.headers["Cache-Control"] = "no-store"
    return response


def archived_body(result: IngestResult) -> dict[str, Any]:
    """What an upload answers once a version exists (shared with ``POST /journals``)."""
    version = result.version
    return {
        "document_id": result.document["document_id"],
        "version": version["version"],
        "sha256": version["sha256"],
        "signature_level": version["signature_level"],
        "retain_until": version["retain_until"],
        "supersedes": version["supersedes"],
        "created": result.created,
        "document": result.document,
    }


def _base64_field(body: dict[str, Any], name: str) -> bytes | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise MalformedInput(
            f"'{name}' must be a base64 string.", [ErrorDetail(f"/{name}", "base64 expected")]
        )
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedInput(
            f"'{name}' is not valid base64 (standard alphabet, padded).",
            [ErrorDetail(f"/{name}", "not base64")],
        ) from None


def _certificate_field(body: dict[str, Any]) -> bytes | None:
    """The optional certificate, base64 DER or PEM text; returned as DER."""
    value = body.get("certificate")
    if isinstance(value, str) and "-----BEGIN" in value:
        try:
            return pem.unarmor(value.encode("ascii"))[2]
        except (ValueError, UnicodeEncodeError):
            raise MalformedInput(
                "'certificate' is not a PEM certificate.",
                [ErrorDetail("/certificate", "PEM or base64 DER expected")],
            ) from None
    return _base64_field(body, "certificate")


def _answer() -> SignatureAnswer:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise MalformedInput(
            'Send a JSON object: {"signature": "<base64>"} (a raw signature value over '
            'data_to_be_signed.signed_attributes) or {"cms": "<base64>"} (a detached CMS '
            "SignedData over the document's byte range).",
            [ErrorDetail("body", "JSON object expected")],
        )
    signature = _base64_field(body, "signature")
    container = _base64_field(body, "cms")
    if (signature is None) == (container is None):
        raise MalformedInput(
            "Send exactly one of 'signature' and 'cms'.",
            [ErrorDetail("/signature" if signature is None else "/cms", "exactly one of two")],
        )
    if container is not None:
        return CmsSignature(container)
    assert signature is not None
    return RawSignature(signature, _certificate_field(body))


@bp.get("")
@authenticated
def list_requests() -> Response:
    items = [with_links(view) for view in archive().signing_requests(context())]
    response = jsonify({"items": items})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/<request_id>")
@authenticated
def get_request(request_id: str) -> Response:
    request_id = path_id("request_id", request_id)
    response = jsonify(with_links(archive().signing_request(request_id, context())))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/<request_id>/signature")
@authenticated
def post_signature(request_id: str) -> Response:
    """``201`` with the archived version, exactly like a finished upload."""
    request_id = path_id("request_id", request_id)
    result = archive().finish_signing_request(request_id, _answer(), context())
    body = archived_body(result) | {"signing_request": request_id}
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = url_for(
        "documents.get_document", document_id=body["document_id"]
    )
    return response
