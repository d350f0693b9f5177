"""The staff portal (issue 15): who accepted which version of the terms of use (CGU) and when,
one row per user and version (a new version asks again); and the professional's recent
lookups on the home page, found by an index on the requester's RPPS and the time.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_terms_acceptances",
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("terms_version", sa.String(32), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "terms_version"),
    )
    op.create_index(
        "ix_lookups_requester_rpps_created_at", "lookups", ["requester_rpps", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_lookups_requester_rpps_created_at", table_name="lookups")
    op.drop_table("portal_terms_acceptances")
