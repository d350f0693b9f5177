"""Table definitions (SQLAlchemy Core). Changes need an Alembic revision in ``migrations/``."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["fhir_resources", "fhir_search_index", "lookup_results", "lookups", "metadata"]

metadata = MetaData()

lookups = Table(
    "lookups",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("requester_finess", String(9), nullable=False),
    Column("requester_rpps", String(11)),
    Column("nir", String(15), nullable=False),
    Column("nir_kind", String(20), nullable=False),
    Column("birth_date", String(10)),
    Column("rang", Integer, nullable=False),
    Column("date_of_care", Date, nullable=False),
    Column("requested_regime", String(32)),
    Column("mode", String(12), nullable=False),
    Column("outcome", String(12), nullable=False),
    Column("in_force", Boolean, nullable=False),
    Column("elapsed_ms", Float, nullable=False),
    Column("warnings", JSON, nullable=False),
    Index("ix_lookups_nir", "nir"),
    Index("ix_lookups_created_at", "created_at"),
)

lookup_results = Table(
    "lookup_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("lookup_id", String(32), ForeignKey("lookups.id", ondelete="CASCADE"), nullable=False),
    Column("regime", String(32), nullable=False),
    Column("status", String(12), nullable=False),
    Column("in_force", Boolean, nullable=False),
    Column("reason", String(24), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("elapsed_ms", Float, nullable=False),
    Column("from_cache", Boolean, nullable=False),
    Column("detail", Text, nullable=False),
    Column("rights", JSON),
    Index("ix_lookup_results_lookup_id", "lookup_id"),
)

fhir_resources = Table(
    "fhir_resources",
    metadata,
    Column("resource_type", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", DateTime(timezone=True), nullable=False),
    Column("content", Text, nullable=False),
)

fhir_search_index = Table(
    "fhir_search_index",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("resource_type", String(64), nullable=False),
    Column("resource_id", String(64), nullable=False),
    Column("param", String(64), nullable=False),
    Column("system", String(255)),
    Column("value", String(255), nullable=False),
    Index("ix_fhir_search", "resource_type", "param", "value"),
    Index("ix_fhir_search_resource", "resource_type", "resource_id"),
)
