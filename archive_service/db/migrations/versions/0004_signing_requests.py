"""signing requests of the external signer

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 14:00:00

Journals of institutions with an external signer are prepared for an outside party's signature
and wait in ``signing_requests`` (prepared PDF, export, signed attributes, certificate, expiry)
until the answer comes; only then are they stored and recorded as a version. A new table, so
nothing existing is touched and no batch mode is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "signing_requests"


def upgrade() -> None:
    op.create_table(
        _TABLE,
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("institution_edrpou", sa.String(length=8), nullable=False),
        sa.Column("institution_name", sa.String(length=500), nullable=False),
        sa.Column("school_year", sa.String(length=9), nullable=False),
        sa.Column("class_name", sa.String(length=50), nullable=False),
        sa.Column("document_id", sa.String(length=36), nullable=False),
        sa.Column("version_number", sa.Integer(), nullable=False),
        sa.Column("source", sa.LargeBinary(), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("source_media_type", sa.String(length=100), nullable=False),
        sa.Column("source_filename", sa.String(length=255), nullable=False),
        sa.Column("prepared_pdf", sa.LargeBinary(), nullable=False),
        sa.Column("pdf_profile", sa.String(length=20), nullable=False),
        sa.Column("renderer", sa.String(length=100), nullable=False),
        sa.Column("reserved_start", sa.Integer(), nullable=False),
        sa.Column("reserved_end", sa.Integer(), nullable=False),
        sa.Column("field_name", sa.String(length=100), nullable=False),
        sa.Column("document_digest", sa.String(length=64), nullable=False),
        sa.Column("signed_attributes", sa.LargeBinary(), nullable=False),
        sa.Column("signature_algorithm", sa.String(length=50), nullable=False),
        sa.Column("signature_level", sa.String(length=10), nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.Column("certificate_chain", sa.Text(), nullable=False),
        sa.Column("signer_subject", sa.Text(), nullable=False),
        sa.Column("signer_serial", sa.String(length=100), nullable=False),
        sa.Column("signer_issuer", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=250), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signing_requests")),
    )
    op.create_index(
        op.f("ix_signing_requests_institution_edrpou"),
        _TABLE,
        ["institution_edrpou"],
        unique=False,
    )
    op.create_index(
        op.f("ix_signing_requests_source_sha256"), _TABLE, ["source_sha256"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_signing_requests_source_sha256"), table_name=_TABLE)
    op.drop_index(op.f("ix_signing_requests_institution_edrpou"), table_name=_TABLE)
    op.drop_table(_TABLE)
