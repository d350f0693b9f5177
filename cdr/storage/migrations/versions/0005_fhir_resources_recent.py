"""FHIR resources in search order: most recently updated first, then by id (issue 19).

A page of a broad search, and every page of a walk by ``next`` links, reads this index from
its position instead of sorting every match.

Revision ID: 0005
Revises: 0003 (numbered after 0004, hl7_relookups, of another branch: once both are merged,
this one revises 0004)
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_fhir_resources_recent",
        "fhir_resources",
        ["resource_type", sa.text("last_updated DESC"), "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_fhir_resources_recent", table_name="fhir_resources")
