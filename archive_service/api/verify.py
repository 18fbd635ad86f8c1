"""``POST /api/v1/verify``: is this PDF an archived version, and is it validly signed?

Also home of the one function that turns a verification into a response, in the form the
caller chose with ``?format=json`` (default) or ``?format=etsi`` (ETSI TS 119 102-2 XML).
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from archive_service.api.auth import archive, authenticated, context
from archive_service.api.params import choice_param
from archive_service.verification import Verification, etsi_report_xml, verification_json

bp = Blueprint("verify", __name__, url_prefix="/api/v1")

REPORT_FORMATS = ("json", "etsi")


def report_format() -> str:
    """The requested form; checked before any work is done or audited."""
    return choice_param("format", REPORT_FORMATS, "json")


def verification_response(verification: Verification, chosen: str) -> Response:
    if chosen == "etsi":
        response = Response(etsi_report_xml(verification), mimetype="application/xml")
    else:
        response = jsonify(verification_json(verification))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/verify")
@authenticated
def verify_upload() -> Response:
    chosen = report_format()
    data = request.get_data(cache=False)
    return verification_response(
        archive().verify_upload(data, request.mimetype or None, context()), chosen
    )
