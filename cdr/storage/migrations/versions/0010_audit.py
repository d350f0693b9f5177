"""The audit trail (issue 14, item 4): hash-chained AuditEvents, the head of the chain, and how
far each syslog collector has been sent it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_GENESIS = "0" * 64


def _seq() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", _seq(), primary_key=True, autoincrement=False),
        sa.Column("recorded", sa.DateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("subtype", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(2), nullable=False),
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("structure", sa.String(64)),
        sa.Column("professional", sa.String(64)),
        sa.Column("patient", sa.String(64)),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    for column in ("recorded", "patient", "client"):
        op.create_index(f"ix_audit_events_{column}", "audit_events", [column])
    chain = op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_seq", _seq(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("first_seq", _seq(), nullable=False),
        sa.Column("anchor_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_forwarded",
        sa.Column("target", sa.String(300), primary_key=True),
        sa.Column("last_seq", _seq(), nullable=False),
    )
    op.bulk_insert(
        chain,
        [{"id": 1, "last_seq": 0, "last_hash": _GENESIS, "first_seq": 1, "anchor_hash": _GENESIS}],
    )


def downgrade() -> None:
    op.drop_table("audit_forwarded")
    op.drop_table("audit_chain")
    for column in ("recorded", "patient", "client"):
        op.drop_index(f"ix_audit_events_{column}", table_name="audit_events")
    op.drop_table("audit_events")
