"""JSON text of resources, written with orjson (several times faster than the standard library,
measured on `$submit`: BENCHMARKS.md).

Its output is the standard library's compact form (``separators=(",", ":")``,
``ensure_ascii=False``, keys sorted on request) but for the spelling of float exponents
(``1e-7`` for ``1e-07``: the same number). It refuses integers beyond 64 bits, which a client's
resource may carry: those are written by the standard library, as before.

A posted resource is read with orjson too (``app._read_json_body``): an integer beyond 64 bits
reads as a float there, and is out of range for every FHIR R4 integer type anyway (32 bits).
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["dumps"]


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(
            value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":")
        ).encode()
