from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import date

import pytest
import sqlalchemy as sa

from cdr.storage import Database, SqlLookupStore
from rights.catalogue import default_catalogue
from rights.evaluation import evaluate
from rights.model import Requester
from rights.result import LookupReport, RegimeStatus, RightsResult, Warning
from tests.unit.rights.fakes import FakeClock, query, rights_for

PG_URL = os.environ.get("CDR_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}")
        yield db
        db.dispose()
        return
    if not PG_URL:
        pytest.skip("CDR_TEST_POSTGRES_URL not set: PostgreSQL storage tests not run")
    name = f"cdr_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    db = Database(sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    yield db
    db.dispose()
    with admin.connect() as connection:
        # FORCE: the backend of a cancelled query may still be on its way out.
        connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    admin.dispose()


def _report() -> LookupReport:
    catalogue = default_catalogue()
    q = replace(query(None), requester=Requester(finess="750712184", rpps="10001234567"))
    cnam = catalogue.get("cnam")
    rights = rights_for(cnam)
    day = q.date_of_care
    return LookupReport(
        query=q,
        results=(
            RightsResult(
                "cnam", RegimeStatus.FOUND, evaluate(RegimeStatus.FOUND, rights, day), rights,
                elapsed_ms=12.5, attempts=1,
            ),
            RightsResult(
                "msa", RegimeStatus.TIMEOUT, evaluate(RegimeStatus.TIMEOUT, None, day),
                detail="msa: no answer within 3 s", elapsed_ms=3000.0, attempts=2,
            ),
        ),
        started_at=FakeClock().now(),
        elapsed_ms=3001.0,
        warnings=(Warning("test-nir", "test NIR"),),
    )  # fmt: skip


def test_every_lookup_is_persisted_with_its_per_regime_outcome(database):
    database.migrate()
    store = SqlLookupStore(database.engine)
    report = _report()
    lookup_id = store.save(report)
    stored = store.get(lookup_id)
    assert stored is not None
    assert stored["nir"] == report.query.nir.value
    assert stored["requester_finess"] == "750712184"
    assert stored["requester_rpps"] == "10001234567"
    assert stored["mode"] == "discovery"
    assert stored["outcome"] == "partial"
    assert stored["in_force"] is True
    assert stored["date_of_care"] == date(2026, 11, 24)
    assert stored["warnings"] == [{"code": "test-nir", "message": "test NIR"}]
    results = {r["regime"]: r for r in stored["results"]}
    assert results["cnam"]["status"] == "found"
    assert results["cnam"]["rights"]["organisation"]["caisse"] == "751"
    assert results["cnam"]["rights"]["amo"][0]["period"]["start"] == "2024-01-01"
    assert results["msa"]["status"] == "timeout"
    assert results["msa"]["attempts"] == 2
    assert results["msa"]["elapsed_ms"] == 3000.0
    assert results["msa"]["rights"] is None
    assert store.count() == 1


def test_migrations_are_idempotent(database):
    database.migrate()
    database.migrate()
    assert database.ping()
    names = set(sa.inspect(database.engine).get_table_names())
    assert {"lookups", "lookup_results", "alembic_version"} <= names


def test_sqlite_runs_in_wal_mode(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'sub' / 'cdr.sqlite3'}")
    db.migrate()
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert (tmp_path / "sub" / "cdr.sqlite3").exists()
    db.dispose()
