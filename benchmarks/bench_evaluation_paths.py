"""When to vectorize, when to spread over workers: one multi-start run three ways.

Run: ``.venv/bin/python benchmarks/bench_evaluation_paths.py``; prints the table in
docs/howto-multistart.md ("Which path is fastest"). Each figure is the median wall time
of interleaved rounds, and each ratio is against the vectorized path.

- a cheap objective (10-D Rastrigin as a numpy function that takes a (K, n) stack),
  200 starts, gd, 200 steps: called once per start per evaluation (a plain callable),
  once per evaluation for all starts (``from_callable(f, vectorized=True)``), and on
  ``workers=2``;
- an expensive one (the same function plus a 20 ms sleep per call), 4 starts, 5 steps:
  plain callable in one process against ``workers=2``.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

import optiframe as of


def rastrigin(x):
    """Works on one point (n,) or a stack (K, n)."""
    return 10 * x.shape[-1] + np.sum(x**2 - 10 * np.cos(2 * np.pi * x), axis=-1)


def slow_rastrigin(x):
    time.sleep(0.02)
    return rastrigin(x)


def timed(call):
    t = time.perf_counter()
    call()
    return time.perf_counter() - t


def measure(calls, rounds):
    times = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            times[name].append(timed(call))
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(quick: bool = False) -> None:
    box = [(-5.12, 5.12)] * 10
    kw = dict(optimizer=of.GradientDescent(lr=1e-3), gradient="central", seed=0)
    starts = of.MultiStart(40 if quick else 200, bounds=box)
    steps = 20 if quick else 200
    cheap = {
        "plain callable": lambda: of.minimize(rastrigin, starts=starts, max_steps=steps, **kw),
        "vectorized": lambda: of.minimize(of.FunctionObjective.from_callable(
            rastrigin, vectorized=True), starts=starts, max_steps=steps, **kw),
        "workers=2": lambda: of.minimize(of.FunctionObjective.from_callable(
            rastrigin, vectorized=True), starts=starts, max_steps=steps, workers=2, **kw),
    }
    fast = measure(cheap, 1 if quick else 3)
    print(f"cheap objective, {starts.n_starts} starts x {steps} steps (central differences):")
    for name, t in fast.items():
        print(f"  {name:15s} {t:8.3f} s   {t / fast['vectorized']:7.1f}x the vectorized path")
    few = of.MultiStart(4, bounds=box)
    slow_steps = 1 if quick else 5
    expensive = {
        "one process": lambda: of.minimize(slow_rastrigin, starts=few, max_steps=slow_steps,
                                           **kw),
        "workers=2": lambda: of.minimize(slow_rastrigin, starts=few, max_steps=slow_steps,
                                         workers=2, **kw),
    }
    slow = measure(expensive, 1)
    print(f"20 ms objective, {few.n_starts} starts x {slow_steps} steps:")
    for name, t in slow.items():
        print(f"  {name:15s} {t:8.3f} s   {t / slow['one process']:7.2f}x one process")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
