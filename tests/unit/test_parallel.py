"""orchestrator.parallel.run_parallel: every item's outcome, in the items' order, and the items really
run at once (a deploy's stops wait out their grace together, not one after the other)."""

from __future__ import annotations

import threading
import time

from orchestrator.parallel import run_parallel


def test_each_items_error_or_none_comes_back_in_the_items_order():
    def work(n: int) -> None:
        time.sleep(0.05 * (3 - n))  # the first item ends last
        if n % 2:
            raise ValueError(f"odd {n}")

    outcomes = run_parallel(work, [0, 1, 2, 3])
    assert [None if e is None else str(e) for e in outcomes] == [None, "odd 1", None, "odd 3"]


def test_nothing_to_do_is_no_outcome():
    assert run_parallel(lambda item: item, []) == []


def test_the_items_run_at_once_up_to_the_limit():
    barrier = threading.Barrier(4, timeout=5)
    assert run_parallel(lambda _: barrier.wait(), list(range(4))) == [None] * 4  # 4 waiting together
    running, most = [0], [0]
    lock = threading.Lock()

    def count(_: int) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1

    run_parallel(count, list(range(12)), limit=3)
    assert most[0] == 3
