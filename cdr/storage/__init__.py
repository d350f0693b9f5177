"""Storage: SQLAlchemy 2 tables, Alembic migrations, and the stores implementing rights ports."""

from cdr.storage.database import Database
from cdr.storage.lookups import SqlLookupStore

__all__ = ["Database", "SqlLookupStore"]
