"""Timing helpers for the benchmarks: interleaved rounds, best-of and median ratios, and
instruction counts (callgrind).

Machines here are shared VMs whose speed drifts by up to 2x between seconds, so every
comparison runs its contenders alternately, round after round, and reports the ratio of
their best times (and the median of per-round ratios as a check on the noise).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence


def interleaved(funcs: Sequence[Callable[[], object]], rounds: int,
                min_sample: float = 0.02) -> list[list[float]]:
    """Seconds per call of each function, one sample per round, the functions alternating.

    A short call is repeated within a sample until the sample lasts ``min_sample``
    seconds (as timeit's autorange does), so a 50 us call is not judged on one try.
    """
    numbers = []
    for f in funcs:
        t = time.perf_counter()
        f()
        once = time.perf_counter() - t
        numbers.append(max(1, int(min_sample / max(once, 1e-9))))
    times: list[list[float]] = [[] for _ in funcs]
    for _ in range(rounds):
        for i, f in enumerate(funcs):
            t = time.perf_counter()
            for _ in range(numbers[i]):
                f()
            times[i].append((time.perf_counter() - t) / numbers[i])
    return times


def callgrind(code: str) -> tuple[int, str] | None:
    """The instructions valgrind's callgrind counts in a child Python running ``code``, and
    what the child printed (None without valgrind, or where the child failed).

    One BLAS thread, and one hash seed: with random ones the sets' and dicts' layouts move
    the counts by up to 10% from run to run (measured on bench_loop's sphere row: 34.9k
    to 43.5k); seeded, by 5."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "PYTHONHASHSEED": "0"}
    try:
        out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
                              sys.executable, "-c", code], capture_output=True, text=True,
                             env=env)
    except FileNotFoundError:  # no valgrind
        return None
    counted = [line for line in out.stderr.splitlines() if "Collected" in line]
    if out.returncode or not counted:
        return None
    return int(counted[0].split()[-1]), out.stdout


def ratio(ours: list[float], theirs: list[float]) -> tuple[float, float]:
    """(best-time ratio, median of per-round ratios) of ours over theirs."""
    per_round = (a / b for a, b in zip(ours, theirs, strict=True))
    return min(ours) / min(theirs), statistics.median(per_round)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)
