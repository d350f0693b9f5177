"""API clients known by their TLS certificate (issue 14, item 1, mutual TLS): the SHA-256
thumbprint of the certificate a client presents (RFC 8705 ``x5t#S256``), unique, and its
subject for display. Both nullable: a client of a JWK Set only has neither.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-16
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("auth_clients", sa.Column("cert_thumbprint", sa.String(43)))
    op.add_column("auth_clients", sa.Column("cert_subject", sa.Text))
    # Unique: a certificate names one client. NULLs (clients without one) are not equal to
    # each other on SQLite and PostgreSQL alike.
    op.create_index(
        "ix_auth_clients_cert_thumbprint", "auth_clients", ["cert_thumbprint"], unique=True
    )


def downgrade() -> None:
    op.drop_index("ix_auth_clients_cert_thumbprint", table_name="auth_clients")
    with op.batch_alter_table("auth_clients") as batch:
        batch.drop_column("cert_subject")
        batch.drop_column("cert_thumbprint")
