"""The search index names the gateway's resource types by two-letter codes (issue 19 item 4).

``cdr/storage/index_types.py`` holds the codes; the rows stored before are recoded here. The
codes are written out, not imported: a migration states the data as it was at its revision.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_CODES = {
    "CoverageEligibilityResponse": "er",
    "CoverageEligibilityRequest": "eq",
    "Coverage": "co",
    "Patient": "pa",
    "Organization": "or",
    "Practitioner": "pr",
    "CodeSystem": "cs",
    "StructureDefinition": "sd",
}


def _recode(mapping: dict[str, str]) -> None:
    index = sa.table("fhir_search_index", sa.column("resource_type", sa.String))
    op.execute(
        index.update()
        .where(index.c.resource_type.in_(list(mapping)))
        .values(resource_type=sa.case(mapping, value=index.c.resource_type))
    )


def upgrade() -> None:
    _recode(_CODES)


def downgrade() -> None:
    _recode({code: name for name, code in _CODES.items()})
