"""Storage: SQLAlchemy 2 tables, Alembic migrations, and the stores implementing rights ports."""

from cdr.storage.database import Database
from cdr.storage.inbox import SqlInbox
from cdr.storage.lookups import SqlLookupStore
from cdr.storage.outbox import SqlOutbox

__all__ = ["Database", "SqlInbox", "SqlLookupStore", "SqlOutbox"]
