"""Reliability benchmarks (issue 7): what checkpoints and history streaming cost.

Run: ``.venv/bin/python benchmarks/bench_reliability.py`` (``--quick`` for a smoke run).

Prints, as ratios (lower is better):
1. per step, 10-D sphere with Adam, history every step: a plain run, a run with a
   checkpoint folder but no periodic checkpoints (what keeping a resumable state costs),
   with ``checkpoint_every`` = 1000 and 100, and with ``stream_history``; each over a
   hand-written numpy Adam loop and over the plain run;
2. the time to write one checkpoint and to load one, by history length;
3. per step, 1000 starts of Rastrigin 10-D with gd: plain vs ``checkpoint_every=100``.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved, ratio, table

import optiframe as of


def hand_adam(x0: np.ndarray, steps: int, lr: float = 1e-3) -> np.ndarray:
    """Adam by hand, storing f and |g| per step as the Runner does."""
    x, m, v = x0.copy(), np.zeros_like(x0), np.zeros_like(x0)
    fs, gn = np.empty(steps + 1), np.empty(steps + 1)
    fs[0] = x @ x
    for t in range(1, steps + 1):
        g = 2.0 * x
        gn[t - 1] = math.sqrt(g @ g)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        x = x - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        fs[t] = x @ x
    return x


def step_costs(steps: int, rounds: int) -> None:
    x0 = np.linspace(1.0, 2.0, 10)
    folder = Path(tempfile.mkdtemp())
    common = dict(max_steps=steps, gtol=0.0)
    contenders = {
        "hand numpy Adam": lambda: hand_adam(x0, steps),
        "plain run": lambda: of.Runner("sphere", of.Adam(lr=1e-3), **common).run(x0),
        "checkpoint, at interruption only": lambda: of.Runner(
            "sphere", of.Adam(lr=1e-3), checkpoint=folder / "a", **common).run(x0),
        "checkpoint_every=1000": lambda: of.Runner(
            "sphere", of.Adam(lr=1e-3), checkpoint=folder / "b", checkpoint_every=1000,
            **common).run(x0),
        "checkpoint_every=100": lambda: of.Runner(
            "sphere", of.Adam(lr=1e-3), checkpoint=folder / "c", checkpoint_every=100,
            **common).run(x0),
        "stream_history": lambda: of.Runner(
            "sphere", of.Adam(lr=1e-3), stream_history=folder / "h.jsonl", **common).run(x0),
    }
    times = interleaved(list(contenders.values()), rounds)
    hand, plain = times[0], times[1]
    rows = []
    for (name, _), t in zip(contenders.items(), times, strict=True):
        best_hand, med_hand = ratio(t, hand)
        best_plain, med_plain = ratio(t, plain)
        rows.append([name, f"{min(t) / steps * 1e6:.2f}", f"{best_hand:.2f}x ({med_hand:.2f}x)",
                     f"{best_plain:.2f}x ({med_plain:.2f}x)"])
    print(f"1. Per step, 10-D sphere, Adam, {steps} steps, history every step")
    print(table(["run", "us/step", "vs hand (median)", "vs plain (median)"], rows))
    print()


def save_and_load(sizes: list[int]) -> None:
    """Time the Checkpointer directly on the history of a finished run: the first save
    writes the whole history as one segment; a later save writes the state and the
    JSON file only (what each periodic checkpoint costs when its new records are few)."""
    from optiframe.checkpoint import Checkpointer, Snapshot
    from optiframe.state import RunState

    rows = []
    for steps in sizes:
        x0 = np.linspace(1.0, 2.0, 10)
        result = of.Runner("sphere", of.Adam(lr=1e-3), max_steps=steps, gtol=0.0).run(x0)

        def snapshot(result=result, steps=steps):
            s = RunState(True, result.x.size)
            s.start(result.x, result.fun, np.array([0]), math.inf, of.Adam().init(result.x))
            s.k = steps + 1
            return Snapshot.of_state(s, result.history, 0.0)

        full, incremental, load = [], [], []
        for _ in range(3):
            folder = Path(tempfile.mkdtemp())
            writer = Checkpointer(folder, "single", {"kind": "single", "shape": [10]})
            t = time.perf_counter()
            writer.save(steps, snapshot())
            full.append(time.perf_counter() - t)
            t = time.perf_counter()
            writer.save(steps, snapshot())
            incremental.append(time.perf_counter() - t)
            t = time.perf_counter()
            of.load_checkpoint(folder)
            load.append(time.perf_counter() - t)
        size = sum(p.stat().st_size for p in folder.iterdir())
        rows.append([f"{steps + 1}", f"{min(full) * 1e3:.2f}", f"{min(incremental) * 1e3:.2f}",
                     f"{min(load) * 1e3:.2f}", f"{size / 1024:.0f}"])
    print("2. One checkpoint of a 10-D Adam run, by history length (writes include fsync)")
    print(table(["history rows", "whole-history save ms", "periodic save ms", "load ms",
                 "size KiB"], rows))
    print()


def multistart_cost(K: int, steps: int, rounds: int) -> None:
    folder = Path(tempfile.mkdtemp())
    starts = of.MultiStart(K, bounds=[(-5.12, 5.12)] * 10)
    plain = lambda: of.Runner("rastrigin", of.GradientDescent(lr=1e-3),  # noqa: E731
                              max_steps=steps, gtol=0.0).run(starts=starts, seed=0)
    ckpt = lambda: of.Runner("rastrigin", of.GradientDescent(lr=1e-3),  # noqa: E731
                             max_steps=steps, gtol=0.0, checkpoint=folder,
                             checkpoint_every=100).run(starts=starts, seed=0)
    t_plain, t_ckpt = interleaved([plain, ckpt], rounds, min_sample=0.0)
    best, med = ratio(t_ckpt, t_plain)
    print(f"3. {K} starts, Rastrigin 10-D, gd, {steps} steps: checkpoint_every=100 vs plain")
    print(table(["plain s", "checkpointed s", "ratio (median)"],
                [[f"{min(t_plain):.3f}", f"{min(t_ckpt):.3f}", f"{best:.2f}x ({med:.2f}x)"]]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args()
    if args.quick:
        step_costs(300, 2)
        save_and_load([100])
        multistart_cost(50, 200, 1)
    else:
        step_costs(20_000, 7)
        save_and_load([1_000, 100_000, 1_000_000])
        multistart_cost(1000, 500, 5)


if __name__ == "__main__":
    main()
