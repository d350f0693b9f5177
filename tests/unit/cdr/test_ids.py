from __future__ import annotations

import re
import time

from cdr.ids import time_ordered_id


def test_ids_look_like_uuid4_hex_and_sort_by_creation_time():
    first = time_ordered_id()
    time.sleep(0.002)  # the next millisecond (not a readiness wait)
    later = [time_ordered_id() for _ in range(1000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in [first, *later])
    assert all(first < i for i in later)
    assert len(set(later)) == len(later)
    assert int(first[:12], 16) <= time.time_ns() // 1_000_000
