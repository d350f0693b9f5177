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


def test_ids_stay_unique_across_pool_refills_threads_and_a_fork():
    import os
    import threading

    made: list[str] = []
    threads = [
        threading.Thread(target=lambda: made.extend(time_ordered_id() for _ in range(2000)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 8000  # far more than one 4 KiB pool

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the ids it would make next, to the parent
        os.close(read)
        os.write(write, "".join(time_ordered_id()[12:] for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    parent = {time_ordered_id()[12:] for _ in range(50)}
    os.waitpid(pid, 0)
    child_text = os.read(read, 4096).decode()
    os.close(read)
    child = {child_text[i : i + 20] for i in range(0, len(child_text), 20)}
    assert len(child) == 50
    assert not parent & child
