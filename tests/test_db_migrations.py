"""Alembic migrations: the migrated schema is exactly what the models describe."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from archive_service.db import Base, create_schema, upgrade
from archive_service.db.migrate import INITIAL_REVISION, current_revision, head_revision


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_migrated_schema_equals_the_models(engine: Engine) -> None:
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert _differences(engine) == []


def test_an_empty_database_differs_from_the_models(engine: Engine) -> None:
    """The comparison above can fail: without migrations every table is missing."""
    added = {d[1].name for d in _differences(engine) if d[0] == "add_table"}  # type: ignore[index]
    assert added == set(Base.metadata.tables)


def test_upgrading_twice_changes_nothing(engine: Engine) -> None:
    create_schema(engine)
    create_schema(engine)
    assert current_revision(engine) == head_revision()


def test_a_schema_made_before_migrations_is_adopted(engine: Engine) -> None:
    Base.metadata.create_all(engine)  # what create_schema did before migrations existed
    upgrade(engine, INITIAL_REVISION)
    assert current_revision(engine) == INITIAL_REVISION
    assert "alembic_version" in inspect(engine).get_table_names()


def test_cli_db_upgrade_reports_the_head_revision(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from archive_service.cli import main

    result = CliRunner().invoke(main, ["db", "upgrade"], env={"ARCHIVE_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"database at revision {head_revision()}"
