"""Alternating rounds, shared by the benchmarks in scripts/.

Every contender runs once per round, in turn, so that a noisy neighbour on a shared machine slows them all
alike; the medians are what the benchmarks compare, never single runs.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

Result = TypeVar("Result")


def in_turn(
    contenders: dict[str, Callable[[], Result]], rounds: int, *, swap: bool = False
) -> Iterator[tuple[int, str, Result]]:
    """Run each contender once per round, in turn, yielding (round from 1, name, what it returned) as each run
    ends. With `swap`, every other round runs them in reverse order, so that a drift in the machine's load over
    the rounds weighs on all of them alike."""
    for round_ in range(1, rounds + 1):
        names = list(contenders)
        if swap and round_ % 2 == 0:
            names.reverse()
        for name in names:
            yield round_, name, contenders[name]()


def alternate(contenders: dict[str, Callable[[], object]], rounds: int) -> tuple[dict[str, float], dict[str, object]]:
    """Run each contender `rounds` times, in turn, printing every round's times as it ends.

    Returns each contender's median time in seconds, and what its last run returned (for sanity checks on
    the output without paying for an extra run).
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    last_results: dict[str, object] = {}
    timed_runs = {name: _timed(run) for name, run in contenders.items()}
    for round_, name, (seconds, result) in in_turn(timed_runs, rounds):
        times[name].append(seconds)
        last_results[name] = result
        if all(len(values) == round_ for values in times.values()):
            print(f"round {round_}: " + ", ".join(f"{n} {t[-1]:.2f}s" for n, t in times.items()), flush=True)
    return {name: statistics.median(values) for name, values in times.items()}, last_results


def _timed(run: Callable[[], object]) -> Callable[[], tuple[float, object]]:
    def timed() -> tuple[float, object]:
        start = time.perf_counter()
        result = run()
        return time.perf_counter() - start, result

    return timed
