"""The garbage collector of a server process, set once start-up is done.

Measured under `$submit` load (BENCHMARKS.md), CPython's defaults cost about 0.35 ms of CPU per
request: a young-generation collection every 700 allocations, each walking the objects of the
32 requests in flight, and every few seconds a full collection walking the ~110,000 objects
start-up built (imports, FHIR models, SQLAlchemy), ~60 ms during which no request moves.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG_THRESHOLD", "settle_heap"]

# Allocations between young-generation collections (CPython's default: 700). Objects of a
# request mostly die with it, freed by reference counting; the collector only looks for cycles.
YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Move what start-up built out of the collector's sight (``gc.freeze``: it lives as long
    as the process) and collect the young generation less often. Cycles are still collected."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
