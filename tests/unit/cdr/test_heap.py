from __future__ import annotations

import gc

from cdr.heap import YOUNG_THRESHOLD, settle_heap


def test_settling_freezes_the_start_up_heap_and_collects_the_young_less_often():
    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
        assert gc.isenabled()
    finally:  # leave the test session's collector as it was
        gc.unfreeze()
        gc.set_threshold(*before)
