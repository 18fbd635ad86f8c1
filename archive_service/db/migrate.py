"""Bring a database to the current schema with the packaged Alembic migrations.

Migrations run programmatically (no alembic.ini) so that the service, the CLI and the tests all
take the same path; the schema is never created any other way.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from archive_service.db.session import create_db_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: The revision that created the schema ``create_all`` used to make before migrations existed.
INITIAL_REVISION = "0001"
#: Arbitrary constant naming the PostgreSQL advisory lock that serialises concurrent upgrades.
_PG_MIGRATION_LOCK = 0x4A41_4D49


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def _adopt_unversioned_schema(connection: Connection, config: Config) -> None:
    """Stamp databases made by the old ``create_all`` as the initial revision.

    Such a database has the initial tables but no ``alembic_version``; upgrading it from nothing
    would fail on "table already exists".
    """
    if MigrationContext.configure(connection).get_current_revision() is not None:
        return
    tables = set(inspect(connection).get_table_names())
    if "audit_events" in tables and "alembic_version" not in tables:
        command.stamp(config, INITIAL_REVISION)


def upgrade(bind: Engine | str, revision: str = "head") -> None:
    """Migrate the database behind ``bind`` (an engine or a SQLAlchemy URL) to ``revision``.

    Everything happens in one transaction; on PostgreSQL an advisory lock makes processes that
    start together wait for the first one's upgrade instead of racing it.
    """
    engine = create_db_engine(bind) if isinstance(bind, str) else bind
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
            config = _config(connection)
            _adopt_unversioned_schema(connection, config)
            command.upgrade(config, revision)
    finally:
        if isinstance(bind, str):
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def create_schema(engine: Engine) -> None:
    """Upgrade to the newest revision: the one way the service creates or updates its schema."""
    upgrade(engine)
