"""journal-archive: class journals in, signed PDF/A archival documents out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Application factory.

    :param test_config: settings overrides (field names of
        :class:`~archive_service.config.Settings`)
        and optionally ``ARCHIVE`` — a ready :class:`~archive_service.pipeline.Archive` to use
        instead of building one (tests inject fault-injecting archives this way).
    """
    from archive_service import api
    from archive_service.config import load_settings
    from archive_service.factory import build_archive

    overrides = dict(test_config or {})
    archive = overrides.pop("ARCHIVE", None)
    settings = load_settings(overrides=overrides)
    app = Flask(__name__)
    app.config.update(
        ARCHIVE_SETTINGS=settings,
        # Multipart framing adds a little to the export itself.
        MAX_CONTENT_LENGTH=settings.max_upload_bytes + 64 * 1024,
        JSON_SORT_KEYS=False,
    )
    app.extensions["archive"] = archive or build_archive(settings)
    api.init_app(app)
    return app
