"""Identifiers for the rows and resources the gateway creates: time-ordered, not random.

A uuid4 lands anywhere in a B-tree: every new CER, CERsp and lookup dirtied its own pages of the
primary keys and of the search index, and SQLite wrote each such page to its WAL at commit.
Ids that start with the time land next to the previous ones: measured on the `$submit` write
(24 resources and 96 index rows a transaction), about half the time per commit, and a cost that
stays flat as the database grows instead of doubling by 15,000 resources. Same shape as
``uuid4().hex`` (32 lowercase hex digits), as UUIDv7 does (RFC 9562).
"""

from __future__ import annotations

import secrets
import time

__all__ = ["time_ordered_id"]


def time_ordered_id() -> str:
    """12 hex digits of Unix time in milliseconds, then 80 random bits."""
    return f"{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"
