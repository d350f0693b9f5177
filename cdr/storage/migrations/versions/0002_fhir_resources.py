"""FHIR resources and their search index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fhir_resources",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
    )
    op.create_table(
        "fhir_search_index",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("resource_type", sa.String(64), nullable=False),
        sa.Column("resource_id", sa.String(64), nullable=False),
        sa.Column("param", sa.String(64), nullable=False),
        sa.Column("system", sa.String(255)),
        sa.Column("value", sa.String(255), nullable=False),
    )
    op.create_index("ix_fhir_search", "fhir_search_index", ["resource_type", "param", "value"])
    op.create_index(
        "ix_fhir_search_resource", "fhir_search_index", ["resource_type", "resource_id"]
    )


def downgrade() -> None:
    op.drop_table("fhir_search_index")
    op.drop_table("fhir_resources")
