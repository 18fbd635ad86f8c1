"""SQLite sessions: readers never queue behind a writer holding the lock."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from archive_service.db import (
    create_db_engine,
    create_lookup_engine,
    create_read_session_factory,
    create_schema,
    create_session_factory,
)
from tests.conftest import sqlite_only

pytestmark = sqlite_only


def test_reader_is_not_blocked_by_a_writer_holding_the_lock(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    create_schema(engine)
    writer = create_session_factory(engine)()
    writer.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is now held
    try:
        with create_read_session_factory(engine)() as reader:
            assert reader.execute(text("SELECT count(*) FROM audit_events")).scalar() == 0
    finally:
        writer.rollback()
        writer.close()


def test_lookups_hold_no_transaction_and_see_each_commit_at_once(tmp_path: Path) -> None:
    """A pooled lookup connection must see a commit made after it was last used (a revoked
    token is refused on the very next request), and must not pin an old snapshot either."""
    engine = create_db_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    create_schema(engine)
    lookups = create_lookup_engine(engine)
    count = text("SELECT count(*) FROM audit_events")
    with lookups.connect() as lookup:
        assert lookup.execute(count).scalar() == 0
        assert lookup.connection.dbapi_connection.in_transaction is False
        with create_session_factory(engine).begin() as writer:  # not blocked by the lookup
            writer.execute(
                text(
                    "INSERT INTO audit_events (seq, occurred_at, action, outcome, detail, "
                    "prev_hash, hash) VALUES (1, '2026-01-01', 'a', 'ok', '{}', 'p', 'h')"
                )
            )
        assert lookup.execute(count).scalar() == 1
        assert lookup.connection.dbapi_connection.in_transaction is False
