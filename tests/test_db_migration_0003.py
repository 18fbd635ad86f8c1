"""Revision 0003 (renewals): existing rows survive, renewals may share an export, uploads not."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from archive_service.db import upgrade
from archive_service.db.migrate import _config, current_revision
from tests.test_db_migration_0002 import _insert_version_at_0001

_COLUMNS = (
    "id, document_id, number, object_key, object_version_id, sha256, size, pdf_profile, renderer, "
    "source_object_key, source_object_version_id, source_sha256, source_size, "
    "source_media_type, signature_level, signed_at, signer_kind, signer_subject, "
    "signer_serial, signer_issuer, qualified, retain_until, created_at"
)


def _insert_version(engine: Engine, number: int, pdf_key: str, renews: int | None) -> None:
    """Another version of document 'd' with version 1's export (key 'k.json', hash 0…0).

    Ids are explicit, as in the 0001 row (PostgreSQL's sequence has not moved past it).
    """
    now = "2025-07-01 10:00:00+00:00"
    # An upload leaves the column out, so the same statement also runs on a 0002 schema.
    renews_column, renews_value = (", renews_id", ", :renews") if renews is not None else ("", "")
    with engine.begin() as connection:
        connection.execute(
            text(
                f"INSERT INTO document_versions ({_COLUMNS}{renews_column}) VALUES (:n, 'd', :n, "
                ":key, '1', :h, 1, 'PDF/A-3u', 'typst', 'k.json', '1', :h, 1, "
                "'application/json', 'B-LTA', :now, 'test-pki', 's', '1', 'i', false, :now, "
                f":now{renews_value})"
            ),
            {"n": number, "key": pdf_key, "h": "0" * 64, "now": now, "renews": renews},
        )


@pytest.fixture
def upgraded_with_a_version(engine: Engine) -> Engine:
    """A version archived under 0002 (legal hold columns and all), then upgraded to 0003."""
    upgrade(engine, "0001")
    _insert_version_at_0001(engine)
    upgrade(engine, "0002")
    upgrade(engine, "0003")
    return engine


def test_versions_archived_before_0003_are_uploads_without_expiry(
    upgraded_with_a_version: Engine,
) -> None:
    assert current_revision(upgraded_with_a_version) == "0003"
    with upgraded_with_a_version.connect() as connection:
        row = connection.execute(
            text(
                "SELECT number, source_object_key, renews_id, timestamp_expires_at, legal_hold "
                "FROM document_versions"
            )
        ).one()
    assert tuple(row) == (1, "k.json", None, None, False)


def test_a_renewal_may_share_the_export_of_the_version_it_renews(
    upgraded_with_a_version: Engine,
) -> None:
    _insert_version(upgraded_with_a_version, 2, "k2.pdf", renews=1)
    with upgraded_with_a_version.connect() as connection:
        rows = connection.execute(
            text("SELECT number, renews_id FROM document_versions ORDER BY number")
        ).all()
    assert [tuple(r) for r in rows] == [(1, None), (2, 1)]


def test_an_export_is_still_uploaded_only_once_per_document(
    upgraded_with_a_version: Engine,
) -> None:
    with pytest.raises(IntegrityError):
        _insert_version(upgraded_with_a_version, 2, "k2.pdf", renews=None)


def test_a_renewal_must_name_an_existing_version(upgraded_with_a_version: Engine) -> None:
    if upgraded_with_a_version.dialect.name == "sqlite":
        with upgraded_with_a_version.connect() as connection:
            enforced = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
        if not enforced:
            pytest.skip("SQLite enforces foreign keys only when the connection enables them")
    with pytest.raises(IntegrityError):
        _insert_version(upgraded_with_a_version, 2, "k2.pdf", renews=999)


def test_0003_downgrades_to_0002_without_renewals(upgraded_with_a_version: Engine) -> None:
    with upgraded_with_a_version.begin() as connection:
        command.downgrade(_config(connection), "0002")
    assert current_revision(upgraded_with_a_version) == "0002"
    with pytest.raises(IntegrityError):  # the old constraint is back
        _insert_version(upgraded_with_a_version, 2, "k2.pdf", renews=None)
