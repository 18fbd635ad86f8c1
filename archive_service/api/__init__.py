"""HTTP API v1: Flask blueprints over the pipeline; no business rules live here."""

from __future__ import annotations

from flask import Flask

from archive_service.api import (
    audit_log,
    documents,
    errors,
    health,
    journals,
    legal_holds,
    signing_requests,
    verify,
)


def init_app(app: Flask) -> None:
    errors.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(journals.bp)
    app.register_blueprint(documents.bp)
    app.register_blueprint(audit_log.bp)
    app.register_blueprint(legal_holds.bp)
    app.register_blueprint(verify.bp)
    app.register_blueprint(signing_requests.bp)
