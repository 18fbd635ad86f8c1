"""legal hold state on document versions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 10:00:00

Adds the current legal-hold state of each version (flag, reason, who, when). Plain
``ADD COLUMN`` on both SQLite and PostgreSQL: the columns are nullable or have a server default,
so existing rows need no rewrite and no batch mode.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "document_versions",
        sa.Column("legal_hold", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("document_versions", sa.Column("legal_hold_reason", sa.Text(), nullable=True))
    op.add_column(
        "document_versions",
        sa.Column("legal_hold_changed_by", sa.String(length=250), nullable=True),
    )
    op.add_column(
        "document_versions",
        sa.Column("legal_hold_changed_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("document_versions") as batch:
        batch.drop_column("legal_hold_changed_at")
        batch.drop_column("legal_hold_changed_by")
        batch.drop_column("legal_hold_reason")
        batch.drop_column("legal_hold")
