"""Table definitions (SQLAlchemy Core). Changes need an Alembic revision in ``migrations/``."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from cdr.storage.packed import PackedAuditText, PackedJson, PackedText

__all__ = [
    "audit_chain",
    "audit_events",
    "audit_forwarded",
    "auth_assertion_ids",
    "auth_clients",
    "fhir_resources",
    "fhir_search_index",
    "hl7_inbox",
    "hl7_outbox",
    "hl7_relookups",
    "lookup_results",
    "lookups",
    "metadata",
    "portal_terms_acceptances",
]

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
    # migration 0012: a professional's recent lookups (the portal's home page)
    Index("ix_lookups_requester_rpps_created_at", "requester_rpps", "created_at"),
)

# migration 0012: the portal's terms of use, accepted once per user and version
portal_terms_acceptances = Table(
    "portal_terms_acceptances",
    metadata,
    Column("user_id", String(32), primary_key=True),
    Column("terms_version", String(32), primary_key=True),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
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
    Column("rights", PackedJson),  # migration 0006: packed (cdr/storage/packed.py)
    Index("ix_lookup_results_lookup_id", "lookup_id"),
)

fhir_resources = Table(
    "fhir_resources",
    metadata,
    Column("resource_type", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("version_id", Integer, nullable=False),
    Column("last_updated", DateTime(timezone=True), nullable=False),
    Column("content", PackedText, nullable=False),  # the JSON text, packed (migration 0006)
    # SQLite: clustered by the primary key, which is then stored once (migration 0006).
    sqlite_with_rowid=False,
)
# Search order (migration 0005): a page of a broad search reads it from its position.
Index(
    "ix_fhir_resources_recent",
    fhir_resources.c.resource_type,
    fhir_resources.c.last_updated.desc(),
    fhir_resources.c.id,
)

# The versions a change replaced (migration 0008): vread and _history read them. A row is
# written only when a resource changes, never for the unchanged ones a lookup writes again.
fhir_resource_history = Table(
    "fhir_resource_history",
    metadata,
    Column("resource_type", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("version_id", Integer, primary_key=True),
    Column("last_updated", DateTime(timezone=True), nullable=False),
    Column("content", PackedText, nullable=False),
    sqlite_with_rowid=False,
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

# HL7 v2 durable inbox: a message is stored here before its AA is sent (issue 5, durability).
# sqlite_autoincrement: ids are never reused, so the worker's "after id" cursor and the outbox
# order stay monotonic even if old rows are purged.
hl7_inbox = Table(
    "hl7_inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sender_key", String(255), nullable=False),
    Column("control_id", String(64), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("message_type", String(16), nullable=False),
    Column("patient_key", String(64), nullable=False),
    Column("charset", String(16), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("ack", LargeBinary, nullable=False),
    Column("status", String(12), nullable=False),
    Column("lookup_id", String(32)),
    Column("error", Text, nullable=False),
    Column("processed_at", DateTime(timezone=True)),
    UniqueConstraint("sender_key", "control_id", name="uq_hl7_inbox_sender_control"),
    Index("ix_hl7_inbox_status_id", "status", "id"),
    sqlite_autoincrement=True,
)

# Store-and-forward of the results: one row per (inbox message, destination).
hl7_outbox = Table(
    "hl7_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("inbox_id", Integer, ForeignKey("hl7_inbox.id", ondelete="SET NULL")),
    Column("destination", String(255), nullable=False),
    Column("control_id", String(64), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    Column("ack_code", String(4), nullable=False),
    UniqueConstraint("inbox_id", "destination", name="uq_hl7_outbox_inbox_destination"),
    Index("ix_hl7_outbox_destination_status_id", "destination", "status", "id"),
    sqlite_autoincrement=True,
)

# Re-lookups (issue 18 item 5): an admission whose lookup could not ask every regime is looked
# up again, with backoff, until every regime answers or its window ends; the later result goes
# to the outbox like the first. One row per inbox message at most.
hl7_relookups = Table(
    "hl7_relookups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("inbox_id", Integer, ForeignKey("hl7_inbox.id", ondelete="CASCADE"), nullable=False),
    Column("patient_key", String(64), nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("deadline_at", DateTime(timezone=True), nullable=False),
    Column("waiting_for", String(255), nullable=False),  # regimes not asked yet: "cnam,msa"
    Column("closed_at", DateTime(timezone=True)),
    UniqueConstraint("inbox_id", name="uq_hl7_relookups_inbox"),
    Index("ix_hl7_relookups_status_next", "status", "next_attempt_at"),
    sqlite_autoincrement=True,
)

# API clients (migration 0009; docs/decisions/0010-api-authentication.md): each with its public
# keys, inline (a JWK Set document) or at a URL, and the scopes it may be granted
# (space-separated).
auth_clients = Table(
    "auth_clients",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("jwks", Text),
    Column("jwks_url", String(2048)),
    Column("scopes", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # A client known by its TLS certificate (migration 0011): the SHA-256 thumbprint of the
    # certificate (RFC 8705 x5t#S256, base64url), one client per certificate, and its subject
    # for `cdr clients list`.
    Column("cert_thumbprint", String(43)),
    Column("cert_subject", Text),
    Index("ix_auth_clients_cert_thumbprint", "cert_thumbprint", unique=True),
)

# The ids (jti) of the client assertions already used, kept until the assertion expires: a
# replay is refused by every worker process (RFC 7523 §3, item 7).
auth_assertion_ids = Table(
    "auth_assertion_ids",
    metadata,
    Column("client", String(128), primary_key=True),
    Column("jti", String(255), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_auth_assertion_ids_expires_at", "expires_at"),
)

# The audit trail (migration 0010; docs/security.md "Audit"): append-only, each event hashed with
# the hash of the one before (``hash`` = SHA-256 of ``prev_hash``, ``seq`` and ``content``).
# ``content`` is the AuditEvent as hashed (canonical JSON without its id, which is ``seq``); the
# other columns are copies of its searchable values, checked against it by `cdr audit verify`.
_SEQ = BigInteger().with_variant(Integer, "sqlite")  # SQLite: INTEGER, the rowid's own type
audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", _SEQ, primary_key=True, autoincrement=False),
    Column("recorded", DateTime(timezone=True), nullable=False),
    Column("type", String(16), nullable=False),
    Column("subtype", String(32), nullable=False),
    Column("outcome", String(2), nullable=False),
    Column("client", String(64), nullable=False),
    Column("structure", String(64)),
    Column("professional", String(64)),
    Column("patient", String(64)),
    Column("content", PackedAuditText, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_recorded", "recorded"),
    Index("ix_audit_events_patient", "patient"),
    Index("ix_audit_events_client", "client"),
)

# The head of the chain, one row: the last event's seq and hash (appends lock this row, so
# that processes sharing the database chain in turn; deleting the newest events shows), and the
# anchor the oldest kept event links to (``first_seq`` and ``anchor_hash``, moved by a purge).
audit_chain = Table(
    "audit_chain",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", _SEQ, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("first_seq", _SEQ, nullable=False),
    Column("anchor_hash", String(64), nullable=False),
)

# How far each syslog collector has been sent the trail (``cdr.audit_syslog``): the seq of the
# last event it acknowledged by taking it.
audit_forwarded = Table(
    "audit_forwarded",
    metadata,
    Column("target", String(300), primary_key=True),
    Column("last_seq", _SEQ, nullable=False),
)
