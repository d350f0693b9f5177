"""HL7 v2 durable inbox and outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hl7_inbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("sender_key", sa.String(255), nullable=False),
        sa.Column("control_id", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_type", sa.String(16), nullable=False),
        sa.Column("patient_key", sa.String(64), nullable=False),
        sa.Column("charset", sa.String(16), nullable=False),
        sa.Column("raw", sa.LargeBinary, nullable=False),
        sa.Column("ack", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("lookup_id", sa.String(32)),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("sender_key", "control_id", name="uq_hl7_inbox_sender_control"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_hl7_inbox_status_id", "hl7_inbox", ["status", "id"])
    op.create_table(
        "hl7_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "inbox_id",
            sa.Integer,
            sa.ForeignKey("hl7_inbox.id", ondelete="SET NULL"),
        ),
        sa.Column("destination", sa.String(255), nullable=False),
        sa.Column("control_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text, nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("ack_code", sa.String(4), nullable=False),
        sa.UniqueConstraint("inbox_id", "destination", name="uq_hl7_outbox_inbox_destination"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_hl7_outbox_destination_status_id", "hl7_outbox", ["destination", "status", "id"]
    )


def downgrade() -> None:
    op.drop_table("hl7_outbox")
    op.drop_table("hl7_inbox")
