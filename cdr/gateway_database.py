"""The gateway's database as the commands that read it find it.

Every command finds the database the same way (``Settings.effective_database_url``: the
``CDR_DATABASE_URL``, else ``cdr.sqlite3`` in ``CDR_DATA_DIR``, relative to the current
directory). Only ``cdr serve`` and ``cdr db upgrade`` create or migrate it: a command that
reads the gateway's data (``cdr outbox``) says which database it opened and refuses one that
does not exist or holds no gateway schema, instead of reporting an empty outbox from a new file.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from cdr.settings import Settings
from cdr.storage import Database
from rights.errors import ConfigError

__all__ = ["database_label", "open_existing_database"]

_WHERE = "set CDR_DATA_DIR or CDR_DATABASE_URL to the gateway's, or run from its directory"


def database_label(url: str) -> str:
    """The URL with its password masked; a SQLite file as its absolute path."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return f"sqlite:///{Path(parsed.database).resolve().as_posix()}"
    return parsed.render_as_string(hide_password=True)


def open_existing_database(settings: Settings) -> Database:
    """The gateway's database, as it is: ``ConfigError`` naming it when it is missing, empty or
    at another schema revision than this version's."""
    url = settings.effective_database_url
    label = database_label(url)
    parsed = make_url(url)
    sqlite_file = parsed.get_backend_name() == "sqlite" and parsed.database not in (
        None,
        "",
        ":memory:",
    )
    if sqlite_file and not Path(str(parsed.database)).is_file():
        raise ConfigError(f"no gateway database at {label}: {_WHERE}")
    database = Database(url)
    try:
        current, head = database.schema_state()
    except BaseException:
        database.dispose()
        raise
    if current != head:
        database.dispose()
        if current is None:
            raise ConfigError(f"{label} holds no gateway data: {_WHERE}")
        raise ConfigError(
            f"{label} is at schema revision {current}, this version needs {head}: "
            "run `cdr db upgrade` (or start `cdr serve`)"
        )
    return database
