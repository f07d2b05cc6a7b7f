"""Time `validate + translate` over the whole shared corpus (median of several rounds).

Usage: python bench/plan_corpus.py [ROUNDS]   (reads ../shared/corpus or $ORCHESTRATOR_CORPUS)
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from orchestrator.config.validate import load_project
from orchestrator.errors import ConfigError
from orchestrator.plan import Environment, translate

CORPUS = Path(os.environ.get("ORCHESTRATOR_CORPUS", Path(__file__).resolve().parents[1].parent / "shared" / "corpus"))


def one_round() -> tuple[float, int]:
    start = time.perf_counter()
    ok = 0
    for project in sorted(p for p in CORPUS.iterdir() if p.is_dir()):
        try:
            loaded, _ = load_project(project)
            translate(loaded, Environment("main", "production", "bench.localhost"))
            ok += 1
        except ConfigError:
            pass
    return time.perf_counter() - start, ok


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    times = []
    for _ in range(rounds):
        elapsed, ok = one_round()
        times.append(elapsed)
    print(f"plan over the corpus ({ok} projects translated): median {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s, max {max(times):.3f} s over {rounds} rounds")


if __name__ == "__main__":
    main()
