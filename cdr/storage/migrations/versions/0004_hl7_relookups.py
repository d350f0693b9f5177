"""HL7 re-lookups: admissions looked up again while a regime could not be asked.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hl7_relookups",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "inbox_id",
            sa.Integer,
            sa.ForeignKey("hl7_inbox.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("patient_key", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waiting_for", sa.String(255), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("inbox_id", name="uq_hl7_relookups_inbox"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_hl7_relookups_status_next", "hl7_relookups", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_table("hl7_relookups")
