"""Builds the archive from settings: the one place where configuration picks the backends."""

from __future__ import annotations

import logging

from archive_service.audit.anchors import AuditCheckpoints
from archive_service.config import ConfigurationError, Settings
from archive_service.db import (
    create_db_engine,
    create_read_session_factory,
    create_schema,
    create_session_factory,
)
from archive_service.pipeline import Archive
from archive_service.render import PDF_PROFILES, TypstRenderer
from archive_service.signers import build_sealing
from archive_service.storage import open_object_store


def _check_profiles(settings: Settings) -> None:
    chosen = {settings.pdf_profile, *settings.pdf_profile_by_institution.values()}
    unknown = sorted(chosen - set(PDF_PROFILES))
    if unknown:
        raise ConfigurationError(
            f"Unknown PDF/A profile {unknown[0]!r} in ARCHIVE_PDF_PROFILE or "
            f"ARCHIVE_PDF_PROFILE_BY_INSTITUTION; choose one of {', '.join(PDF_PROFILES)}."
        )


def build_archive(settings: Settings) -> Archive:
    """Connect the database, store, renderer and signer the settings name."""
    _check_profiles(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_db_engine(settings.resolved_database_url)
    create_schema(engine)
    store = open_object_store(settings.resolved_storage_url)
    for warning in store.check():
        logging.getLogger(__name__).warning("%s", warning)
    sealing = build_sealing(settings)
    sessions = create_session_factory(engine)
    read_sessions = create_read_session_factory(engine)
    return Archive(
        sessions=sessions,
        read_sessions=read_sessions,
        store=store,
        renderer=TypstRenderer(
            in_process=settings.render_in_process,
            memory_limit_bytes=settings.render_memory_mb * 2**20,
        ),
        sealing=sealing,
        retention_years=settings.retention_for,
        pdf_profile_for=settings.pdf_profile_for,
        max_upload_bytes=settings.max_upload_bytes,
        require_purpose=settings.require_purpose,
        page_size=settings.page_size,
        # Checkpoints only read the chain: on SQLite a read session never queues behind writers
        # (a checkpoint falls due inside a download, before its bytes are sent).
        checkpoints=AuditCheckpoints(
            store,
            read_sessions,
            every=settings.audit_checkpoint_every,
            retention_years=settings.audit_checkpoint_retention_years,
            timestamper=sealing.audit_timestamper,
            trust_roots=sealing.trust_roots,
            anchor_seconds=settings.audit_anchor_seconds,
        ),
    )
