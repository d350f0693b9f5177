"""API authentication (issue 14, item 1): the registered clients, and the ids of the client
assertions already used (kept until they expire, so that a replay is refused).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_clients",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("jwks", sa.Text),
        sa.Column("jwks_url", sa.String(2048)),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "auth_assertion_ids",
        sa.Column("client", sa.String(128), primary_key=True),
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_auth_assertion_ids_expires_at", "auth_assertion_ids", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_auth_assertion_ids_expires_at", table_name="auth_assertion_ids")
    op.drop_table("auth_assertion_ids")
    op.drop_table("auth_clients")
