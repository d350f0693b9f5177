"""The API clients and the used assertion ids on SQL: on SQLite, and on PostgreSQL when
``CDR_TEST_POSTGRES_URL`` is set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from cdr.storage.auth_clients import SqlAssertionIds, SqlClientRegistry
from cdr.storage.tables import auth_assertion_ids
from fhir_server.auth import RegisteredClient

T0 = datetime(2026, 12, 14, 9, 0, tzinfo=UTC)


def test_clients_are_added_once_listed_and_removed(migrated):
    registry = SqlClientRegistry(migrated.engine)
    lab = RegisteredClient("lab", ("system/*.rs",), T0, jwks='{"keys": []}')
    assert registry.add(lab)
    assert not registry.add(RegisteredClient("lab", ("system/Coverage.r",), T0, jwks_url="x"))
    remote = RegisteredClient("remote", ("system/Coverage.rs",), T0, jwks_url="https://k/j")
    assert registry.add(remote)
    assert registry.get("lab") == lab
    assert [c.name for c in registry.all()] == ["lab", "remote"]
    assert registry.remove("lab") and not registry.remove("lab")
    assert registry.get("lab") is None


def test_an_assertion_id_is_used_once_per_client_until_it_expires(migrated):
    used = SqlAssertionIds(migrated.engine)
    later = T0 + timedelta(minutes=5)
    assert used.first_use("lab", "j1", expires_at=later, now=T0)
    assert not used.first_use("lab", "j1", expires_at=later, now=T0)
    assert used.first_use("other", "j1", expires_at=later, now=T0)  # ids are per client
    # Past its expiry an id is forgotten (its assertion is refused for its exp anyway).
    after = later + timedelta(seconds=1)
    assert used.first_use("lab", "j2", expires_at=later + timedelta(minutes=5), now=after)
    with migrated.engine.connect() as connection:
        kept = connection.execute(sa.select(auth_assertion_ids.c.jti)).scalars().all()
    assert sorted(kept) == ["j2"]


def test_a_client_is_found_by_its_certificate_and_a_certificate_names_one_client(migrated):
    registry = SqlClientRegistry(migrated.engine)
    thumbprint = "x" * 43
    his = RegisteredClient(
        "his",
        ("system/CoverageEligibilityRequest.c",),
        T0,
        certificate_thumbprint=thumbprint,
        certificate_subject="CN=CH TEST,OU=1750100018,O=CH TEST,C=FR",
    )
    assert registry.add(his)
    # Clients without a certificate do not collide with each other (NULLs are not equal).
    assert registry.add(RegisteredClient("a", ("system/*.rs",), T0, jwks_url="https://k/a"))
    assert registry.add(RegisteredClient("b", ("system/*.rs",), T0, jwks_url="https://k/b"))
    assert registry.by_certificate(thumbprint) == his
    assert registry.get("his") == his
    assert registry.by_certificate("y" * 43) is None
    twice = RegisteredClient("other", ("system/*.rs",), T0, certificate_thumbprint=thumbprint)
    assert not registry.add(twice)
    assert registry.get("other") is None


def test_the_certificate_columns_come_and_go_with_migration_0011(database):
    from alembic import command

    from cdr.storage.database import _alembic_config

    database.migrate()
    config = _alembic_config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0010")
    columns = {c["name"] for c in sa.inspect(database.engine).get_columns("auth_clients")}
    assert "cert_thumbprint" not in columns and "jwks" in columns
    database.migrate()
    columns = {c["name"] for c in sa.inspect(database.engine).get_columns("auth_clients")}
    assert {"cert_thumbprint", "cert_subject"} <= columns
