"""Lookups and their per-regime results.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lookups",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requester_finess", sa.String(9), nullable=False),
        sa.Column("requester_rpps", sa.String(11)),
        sa.Column("nir", sa.String(15), nullable=False),
        sa.Column("nir_kind", sa.String(20), nullable=False),
        sa.Column("birth_date", sa.String(10)),
        sa.Column("rang", sa.Integer, nullable=False),
        sa.Column("date_of_care", sa.Date, nullable=False),
        sa.Column("requested_regime", sa.String(32)),
        sa.Column("mode", sa.String(12), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        sa.Column("in_force", sa.Boolean, nullable=False),
        sa.Column("elapsed_ms", sa.Float, nullable=False),
        sa.Column("warnings", sa.JSON, nullable=False),
    )
    op.create_index("ix_lookups_nir", "lookups", ["nir"])
    op.create_index("ix_lookups_created_at", "lookups", ["created_at"])
    op.create_table(
        "lookup_results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "lookup_id",
            sa.String(32),
            sa.ForeignKey("lookups.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("regime", sa.String(32), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("in_force", sa.Boolean, nullable=False),
        sa.Column("reason", sa.String(24), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("elapsed_ms", sa.Float, nullable=False),
        sa.Column("from_cache", sa.Boolean, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("rights", sa.JSON),
    )
    op.create_index("ix_lookup_results_lookup_id", "lookup_results", ["lookup_id"])


def downgrade() -> None:
    op.drop_table("lookup_results")
    op.drop_table("lookups")
