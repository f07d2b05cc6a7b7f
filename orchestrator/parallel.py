"""Run one function over many items at once, and hand back every item's error rather than the first.

Deploys, stops and `down` touch many containers; each waits mostly on the engine (a stop waits out its
grace period), so threads make them take the time of the slowest one instead of the sum. Callers decide
what an error means (a rollback, a message naming the instance), so every outcome is returned in order.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

PARALLELISM = 16
Item = TypeVar("Item")


def run_parallel(function: Callable[[Item], object], items: Sequence[Item],
                 limit: int = PARALLELISM) -> list[BaseException | None]:
    """Run `function` over `items` on up to `limit` threads; the error (or None) of each, in order.
    Stops pass no limit that binds: they mostly wait out a grace period, so they all wait at once."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(limit, len(items)))) as pool:
        futures = [pool.submit(function, item) for item in items]
    return [future.exception() for future in futures]
