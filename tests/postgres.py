"""A database of its own on the PostgreSQL server the tests are pointed at
(``CDR_TEST_POSTGRES_URL``, as ``.ci/run`` sets it), for the tests that run on both databases."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

__all__ = ["PG_URL", "scratch_database"]

PG_URL = os.environ.get("CDR_TEST_POSTGRES_URL")


@contextmanager
def scratch_database(not_run: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards. Without
    ``CDR_TEST_POSTGRES_URL`` the test is skipped, saying that ``not_run`` was not run."""
    if not PG_URL:
        pytest.skip(f"CDR_TEST_POSTGRES_URL not set: {not_run} not run")
    name = f"cdr_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        yield sa.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as connection:
            # FORCE: the backend of a cancelled query may still be on its way out.
            connection.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        admin.dispose()
