"""How the hot writes reach the database: chosen once, by the composition root.

The two strategies make the same decisions (``fhir_batch``, ``inbox_batch``) and write the very
same rows (``tests/unit/cdr/storage/test_answers_sqlite.py`` and ``test_inbox.py`` compare
them). They differ in how the statements run:

- ``SQLALCHEMY_WRITES``: SQLAlchemy's statements, on any database (PostgreSQL's).
- ``SQLITE_DRIVER_WRITES``: the sqlite3 driver's own cursor inside the same SQLAlchemy
  transaction, off SQLAlchemy's statement machinery: under load that machinery held the GIL
  the event loop needed (BENCHMARKS.md). Its statements are compiled from ``tables.py``.

Both run inside ``transactions.in_transaction``, which retries and translates their errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from cdr.storage.answers import AnswerWrite, write_answers
from cdr.storage.answers_sqlite import write_answers_sqlite
from cdr.storage.inbox import InboxWrite, store_batch
from cdr.storage.inbox_sqlite import store_batch_sqlite

__all__ = ["SQLALCHEMY_WRITES", "SQLITE_DRIVER_WRITES", "WriteStrategy"]


@dataclass(frozen=True, slots=True)
class WriteStrategy:
    name: str
    answers: AnswerWrite  # a `$submit` answer: its lookup record and FHIR resources
    inbox: InboxWrite  # a batch of the HL7 intake


SQLALCHEMY_WRITES = WriteStrategy("sqlalchemy", write_answers, store_batch)
SQLITE_DRIVER_WRITES = WriteStrategy("sqlite-driver", write_answers_sqlite, store_batch_sqlite)
