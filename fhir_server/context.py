"""Per-request context shared with the logs: the correlation id of the request being served."""

from __future__ import annotations

from contextvars import ContextVar

__all__ = ["correlation_id"]

correlation_id: ContextVar[str] = ContextVar("correlation_id", default="")
