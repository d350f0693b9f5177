"""Engine creation and schema migration for SQLite (default, WAL) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from fhir_server import json_text
from rights.errors import ConfigError, StorageError

__all__ = ["Database", "json_column_text"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas_no_wait(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; NORMAL sync is durable in WAL mode
    # across application crashes (an OS crash may lose the last commits, not corrupt).
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def json_column_text(value: Any) -> str:
    """How JSON columns are written (the engines' ``json_serializer``): orjson's compact text.
    The standard library's encoder was most of the Python time of writing a lookup's rows;
    rows written before read back the same."""
    return json_text.dumps(value).decode()


class Database:
    """One engine per process; ``migrate()`` brings the schema to the latest revision."""

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except SQLAlchemyError as exc:
            raise ConfigError(f"CDR_DATABASE_URL is not a database URL: {exc}") from exc
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", None):
            parsed = parsed.set(drivername="postgresql+psycopg")
        # A pre-ping finds a server that dropped the connection; a SQLite file cannot, and the
        # ping was a statement more in every write transaction.
        self.engine: Engine = create_engine(
            parsed, pool_pre_ping=not self.is_sqlite, json_serializer=json_column_text
        )
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._shared_no_wait: Engine | None = None

    def no_wait_engine(self) -> Engine | None:
        """For SQLite: an engine on the same file whose connections never wait for the write
        lock (another process holding it is an immediate error), so that a write made on the
        event loop cannot stall it; None for other databases."""
        if not self.is_sqlite:
            return None
        engine = create_engine(self.engine.url, json_serializer=json_column_text)
        event.listen(engine, "connect", _sqlite_pragmas_no_wait)
        return engine

    def shared_no_wait_engine(self) -> Engine | None:
        """``no_wait_engine``, made once and disposed of with this database."""
        if self._shared_no_wait is None:
            self._shared_no_wait = self.no_wait_engine()
        return self._shared_no_wait

    def migrate(self) -> None:
        config = _alembic_config()
        try:
            with self.engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot migrate the database: {exc}") from exc

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError:
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()
        if self._shared_no_wait is not None:
            self._shared_no_wait.dispose()

    def schema_state(self) -> tuple[str | None, str | None]:
        """(the schema revision of this database or None when it has none, the revision this
        version of the gateway needs): equal when ``migrate`` has nothing to do."""
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        try:
            with self.engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read the database: {exc}") from exc
        return current, head


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config
