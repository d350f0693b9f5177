"""The resources' JSON and the lookups' rights stored packed (issue 19 item 4, footprint).

``fhir_resources.content`` and ``lookup_results.rights`` become binary columns holding the JSON
deflated with a dictionary (``cdr/storage/packed.py``). Rows written before keep their JSON text
(PostgreSQL: its UTF-8 bytes; SQLite keeps the text value in the binary column), which reads
back as it is; only rows written from now on are packed. The space of existing rows is not
given back by this migration (SQLite: ``VACUUM``; PostgreSQL: ``VACUUM FULL``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot change a column's type: the tables are copied (values unchanged).
        _copy_sqlite_resources()
        with op.batch_alter_table("lookup_results") as batch:
            batch.alter_column("rights", type_=sa.LargeBinary, existing_nullable=True)
        return
    op.alter_column(
        "fhir_resources",
        "content",
        type_=sa.LargeBinary,
        existing_nullable=False,
        postgresql_using="convert_to(content, 'UTF8')",
    )
    op.alter_column(
        "lookup_results",
        "rights",
        type_=sa.LargeBinary,
        existing_nullable=True,
        postgresql_using="convert_to(rights::text, 'UTF8')",
    )


def _copy_sqlite_resources() -> None:
    """``fhir_resources`` copied into its new shape by hand: alembic's batch copy would lose
    the DESC of ``ix_fhir_resources_recent``. The table is clustered by its primary key
    (WITHOUT ROWID): the key is stored once, not again in an index of its own."""
    op.create_table(
        "fhir_resources_packed",
        sa.Column("resource_type", sa.String(64), primary_key=True),
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("version_id", sa.Integer, nullable=False),
        sa.Column("last_updated", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO fhir_resources_packed (resource_type, id, version_id, last_updated, content) "
        "SELECT resource_type, id, version_id, last_updated, content FROM fhir_resources"
    )
    op.drop_table("fhir_resources")  # and its index
    op.rename_table("fhir_resources_packed", "fhir_resources")
    op.create_index(
        "ix_fhir_resources_recent",
        "fhir_resources",
        ["resource_type", sa.text("last_updated DESC"), "id"],
    )


def downgrade() -> None:
    raise NotImplementedError("packed rows cannot go back to text columns: restore a backup")
