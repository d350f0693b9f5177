"""The application: the ``cdr`` command (``main``), its settings (``Settings``) and the one
composition root (``build_gateway``, in ``cdr.bootstrap``), with storage in ``cdr.storage``.

The names are loaded on first use, not on import: ``cdr --help`` and a settings check must not
pay for (or fail on) every adapter's import.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["Settings", "build_gateway", "main"]

_HOMES = {"Settings": "cdr.settings", "build_gateway": "cdr.bootstrap", "main": "cdr.cli"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'cdr' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
