"""Revision 0002 (legal hold): versions archived before it come out as not held."""

from __future__ import annotations

from alembic import command
from sqlalchemy import Engine, text

from archive_service.db import upgrade
from archive_service.db.migrate import _config, current_revision


def _insert_version_at_0001(engine: Engine) -> None:
    now = "2024-07-01 10:00:00+00:00"
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO institutions (id, edrpou, name, created_at) "
                "VALUES (1, '12345678', 'Ліцей', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO documents (id, institution_id, school_year, class_name, kind, "
                "created_at) VALUES ('d', 1, '2023/2024', '7-Б', 'class_journal', :now)"
            ),
            {"now": now},
        )
        connection.execute(
            text(
                "INSERT INTO document_versions (id, document_id, number, object_key, "
                "object_version_id, sha256, size, pdf_profile, renderer, source_object_key, "
                "source_object_version_id, source_sha256, source_size, source_media_type, "
                "signature_level, signed_at, signer_kind, signer_subject, signer_serial, "
                "signer_issuer, qualified, retain_until, created_at) VALUES (1, 'd', 1, 'k.pdf', "
                "'1', :h, 1, 'PDF/A-3u', 'typst', 'k.json', '1', :h, 1, 'application/json', "
                "'B-T', :now, 'test-pki', 's', '1', 'i', false, :now, :now)"
            ),
            {"now": now, "h": "0" * 64},
        )


def test_versions_archived_before_0002_are_not_held(engine: Engine) -> None:
    upgrade(engine, "0001")
    _insert_version_at_0001(engine)
    upgrade(engine, "0002")
    assert current_revision(engine) == "0002"
    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT legal_hold, legal_hold_reason, legal_hold_changed_by, "
                "legal_hold_changed_at FROM document_versions"
            )
        ).one()
    assert (bool(row[0]), row[1], row[2], row[3]) == (False, None, None, None)


def test_0002_downgrades_to_0001(engine: Engine) -> None:
    upgrade(engine)
    with engine.begin() as connection:
        command.downgrade(_config(connection), "0001")
    assert current_revision(engine) == "0001"
