"""Alembic environment: runs on the connection handed over by :func:`archive_service.db.upgrade`.

There is no alembic.ini at runtime; the caller builds the configuration and passes an open
connection in ``config.attributes["connection"]`` so that migrations run inside its transaction
(and, on PostgreSQL, under its advisory lock).
"""

from __future__ import annotations

from alembic import context

from archive_service.db.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "Run migrations through archive_service.db.upgrade() or `archive-service db upgrade`."
    )
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place; batch mode copies the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
