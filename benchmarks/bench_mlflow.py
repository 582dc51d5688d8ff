"""optiframe-mlflow (issue 15): what tracking a run in MLflow adds to its wall time.

Run: ``.venv/bin/python benchmarks/bench_mlflow.py [--quick] [--steps N]``

A 10,000-step run of a cheap objective (gd on the 2-D Rosenbrock function, every step
recorded) without tracking, and with ``MlflowCallback`` on a sqlite store in a temporary
folder (created before the timing: a store's tables are made once, not per run): waiting
for MLflow at the run's end (``wait=True``, the default: the Result knows whether tracking
worked), not waiting (``wait=False``: sending ends in the background), and the default with
figures off. Rounds alternate; the best time of each is compared, and the median of the
per-round ratios is shown beside it (goal: at most 1.2x).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from optiframe_mlflow import MlflowCallback

import optiframe as of


def run(steps: int, callbacks: list) -> float:
    t = time.perf_counter()
    of.minimize("rosenbrock", [-1.2, 1.0], optimizer=of.GradientDescent(lr=1e-3),
                max_steps=steps, gtol=0.0, callbacks=callbacks)
    return time.perf_counter() - t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--steps", type=int, default=10_000)
    args = parser.parse_args()
    rounds = 1 if args.quick else 9
    folder = Path(tempfile.mkdtemp(prefix="bench-mlflow-"))
    os.chdir(folder)
    uri = f"sqlite:///{folder / 'runs.db'}"
    kinds = {
        "no tracking": lambda: [],
        "MlflowCallback (wait)": lambda: [MlflowCallback(uri)],
        "MlflowCallback (no wait)": lambda: [MlflowCallback(uri, wait=False)],
        "MlflowCallback (wait, no figures)": lambda: [MlflowCallback(uri, figures=False)],
    }
    for make in kinds.values():  # warm up: the store's tables, imports, matplotlib
        callbacks = make()
        run(100, callbacks)
        for cb in callbacks:
            cb.wait()
    best = dict.fromkeys(kinds, float("inf"))
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(rounds):
        for name, make in kinds.items():
            callbacks = make()
            t = run(args.steps, callbacks)
            best[name] = min(best[name], t)
            samples[name].append(t)
            for cb in callbacks:  # a background send finishes before the next round
                cb.wait()
    base = best["no tracking"]
    print(f"{args.steps:,}-step gd run on Rosenbrock, best of {rounds} alternating rounds "
          "(sqlite store); median of per-round ratios in brackets")
    for name, t in best.items():
        ratio = t / base
        per_round = statistics.median(a / b for a, b in zip(samples[name],
                                                             samples["no tracking"],
                                                             strict=True))
        goal = "" if name == "no tracking" else (
            f"  (goal <= 1.2x: {'met' if ratio <= 1.2 else 'MISSED'})")
        print(f"  {name:<36} {t * 1e3:8.1f} ms  {ratio:5.2f}x [{per_round:5.2f}x]{goal}")


if __name__ == "__main__":
    main()
