"""timestamp renewals as versions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 12:00:00

A renewal is a new version of a document that shares the renewed version's export: its bytes
(``source_sha256``) and its stored object (``source_object_key``). The unique constraints on
those two were meant for uploads ("each export is archived once per document"), so they become
partial unique indexes over uploads only (``renews_id IS NULL``) — SQLite and PostgreSQL both
have them. New columns: ``renews_id`` (the version renewed) and ``timestamp_expires_at`` (when
the newest timestamp's TSA certificate expires). Versions recorded before keep NULL there: the
renewal job then reads the date from the PDF itself.

SQLite cannot drop a constraint in place, hence batch mode (the table is copied).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "document_versions"
_UPLOADS_ONLY = sa.text("renews_id IS NULL")
_PARTIAL_UNIQUE = {
    "uq_document_versions_upload_source_sha256": ["document_id", "source_sha256"],
    "uq_document_versions_upload_source_object_key": ["source_object_key"],
}
_OLD_UNIQUE = {
    "uq_document_versions_document_id_source_sha256": ["document_id", "source_sha256"],
    "uq_document_versions_source_object_key": ["source_object_key"],
}
_RENEWS_FK = "fk_document_versions_renews_id_document_versions"


def upgrade() -> None:
    with op.batch_alter_table(_TABLE) as batch:
        batch.add_column(sa.Column("renews_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("timestamp_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.create_foreign_key(_RENEWS_FK, _TABLE, ["renews_id"], ["id"])
        for name in _OLD_UNIQUE:
            batch.drop_constraint(name, type_="unique")
    for name, columns in _PARTIAL_UNIQUE.items():
        op.create_index(
            name,
            _TABLE,
            columns,
            unique=True,
            sqlite_where=_UPLOADS_ONLY,
            postgresql_where=_UPLOADS_ONLY,
        )


def downgrade() -> None:
    """Back to 0002; fails (and changes nothing) while renewals exist, which 0002 cannot hold."""
    for name in _PARTIAL_UNIQUE:
        op.drop_index(name, table_name=_TABLE)
    with op.batch_alter_table(_TABLE) as batch:
        for name, columns in _OLD_UNIQUE.items():
            batch.create_unique_constraint(name, columns)
        batch.drop_constraint(_RENEWS_FK, type_="foreignkey")
        batch.drop_column("timestamp_expires_at")
        batch.drop_column("renews_id")
