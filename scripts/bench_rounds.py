"""Alternating timed rounds, shared by the benchmarks in scripts/.

Every contender runs once per round, in turn, so that a noisy neighbour on a shared machine slows them all
alike; the medians are what the benchmarks compare, never single runs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def alternate(contenders: dict[str, Callable[[], object]], rounds: int) -> tuple[dict[str, float], dict[str, object]]:
    """Run each contender `rounds` times, in turn, printing every round's times as it ends.

    Returns each contender's median time in seconds, and what its last run returned (for sanity checks on
    the output without paying for an extra run).
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    last_results: dict[str, object] = {}
    for round_ in range(rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            last_results[name] = run()
            times[name].append(time.perf_counter() - start)
        print(f"round {round_ + 1}: " + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items()), flush=True)
    return {name: statistics.median(values) for name, values in times.items()}, last_results
