"""Structured logs: one JSON object per line, with the request's correlation id, and NIRs
masked (DESIGN §7: NIRs are masked in logs)."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

from fhir_server.context import correlation_id

__all__ = ["JsonFormatter", "configure_logging", "mask_nirs"]

# 13 or 15 characters shaped like a NIR (Corsica included), possibly spaced as on a card.
_NIR = re.compile(r"\b([1-8])\s?(\d{2})\s?(\d{2})\s?(?:\d{2}|2[AB])\s?\d{3}\s?\d{3}(?:\s?\d{2})?\b")


def mask_nirs(text: str) -> str:
    return _NIR.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}********", text)


class JsonFormatter(logging.Formatter):
    _STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_nirs(record.getMessage()),
        }
        current = correlation_id.get()
        if current:
            entry["correlation_id"] = current
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                entry[key] = (
                    value if isinstance(value, int | float | bool) else mask_nirs(str(value))
                )
        if record.exc_info:
            entry["exception"] = mask_nirs(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(*, json_lines: bool, level: int = logging.INFO) -> None:
    """JSON lines for machines (the service), plain text for a person at a terminal."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Alembic narrates every migration step at INFO; the start-up banner is enough.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # httpx logs every regime request at INFO: a formatted line per `$submit` (and 17 per
    # discovery) that the lookup records and /metrics already hold, and a measurable share of
    # the request's CPU. Its warnings and errors still come through.
    logging.getLogger("httpx").setLevel(logging.WARNING)
