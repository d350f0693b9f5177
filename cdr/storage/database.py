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

from cdr.storage.durability import WalCheckpointer, WalSync
from cdr.storage.transactions import storage_errors
from fhir_server import json_text
from rights.errors import ConfigError

__all__ = ["Database", "json_column_text"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas_no_wait(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    # These connections commit on the event loop: the checkpoint a commit would run once the
    # WAL passes 1,000 pages (disk flushes included) is the WalCheckpointer's job instead.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; NORMAL sync is durable in WAL mode
    # across application crashes (an OS crash may lose the last commits, not corrupt). The
    # commits that must survive a power loss are flushed after the fact (``wal_sync``).
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

    def __init__(self, url: str, *, durable_commits: bool = True) -> None:
        """``durable_commits`` (``CDR_SQLITE_SYNCHRONOUS=full``): ``wal_sync`` flushes the WAL
        of a SQLite file after the commits that must survive a power loss (the HL7 inbox's)."""
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
        self._file = (
            Path(parsed.database)
            if self.is_sqlite and parsed.database and parsed.database != ":memory:"
            else None
        )
        self._durable = durable_commits
        self._wal_sync: WalSync | None = None
        self._checkpointer: WalCheckpointer | None = None

    def no_wait_engine(self) -> Engine | None:
        """For SQLite: an engine on the same file whose connections never wait for the write
        lock (another process holding it is an immediate error), so that a write made on the
        event loop cannot stall it; None for other databases."""
        if not self.is_sqlite:
            return None
        engine = create_engine(self.engine.url, json_serializer=json_column_text)
        event.listen(engine, "connect", _sqlite_pragmas_no_wait)
        if self._file is not None and self._checkpointer is None:
            self._checkpointer = WalCheckpointer(self._file)
            self._checkpointer.start()
        return engine

    def wal_sync(self) -> WalSync | None:
        """For a SQLite file with durable commits: what flushes its WAL off the event loop
        (made once, closed with this database); None otherwise (PostgreSQL's commit is
        durable by itself with its default ``synchronous_commit``)."""
        if self._file is None or not self._durable:
            return None
        if self._wal_sync is None:
            self._wal_sync = WalSync(self._file)
        return self._wal_sync

    def shared_no_wait_engine(self) -> Engine | None:
        """``no_wait_engine``, made once and disposed of with this database."""
        if self._shared_no_wait is None:
            self._shared_no_wait = self.no_wait_engine()
        return self._shared_no_wait

    def migrate(self) -> None:
        config = _alembic_config()
        with storage_errors("migrate the database"), self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError:
            return False
        return True

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        if self._wal_sync is not None:
            self._wal_sync.close()
            self._wal_sync = None
        self.engine.dispose()
        if self._shared_no_wait is not None:
            self._shared_no_wait.dispose()

    def schema_state(self) -> tuple[str | None, str | None]:
        """(the schema revision of this database or None when it has none, the revision this
        version of the gateway needs): equal when ``migrate`` has nothing to do."""
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        with storage_errors("read the database"), self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
        return current, head


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config
