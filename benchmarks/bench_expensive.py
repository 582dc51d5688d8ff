"""Expensive objectives (issue 24): parallel evaluation (``evaluate=``) against the serial
run and against optimparallel's ``minimize_parallel``, wall time per iteration.

Run: ``.venv-bench/bin/python benchmarks/bench_expensive.py`` (``--quick``: one round),
after ``VENV=.venv-bench bash scripts/setup-venv bench`` (scipy and optimparallel live in
that environment only; without optimparallel its column is skipped).

Three parts, each measured side by side, interleaved, median of rounds:

1. an objective that sleeps 50 ms per evaluation (so that the speed-up does not depend
   on the machine's cores), extended Rosenbrock, n = 8 and 20, L-BFGS with central
   differences, 8 workers (``evaluate=8``) against the serial run (goal: at least 6x at
   n = 8 and 7x at n = 20) and against optimparallel with 8 workers and central
   differences (goal: no slower);
2. a CPU-bound objective (a dense linear solve of about 20 ms, one BLAS thread) with 2
   workers on this machine, reported as it is;
3. the break-even: how long an evaluation must take before 2 workers beat one process;
4. ``Armijo(parallel=p)``: trial lengths evaluated at once, against one at a time.

Each run takes the same iterations (``max_steps``; scipy's ``maxiter``); the time per
iteration is the run's whole wall time (pool start included) over its iterations.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread per process
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _timing import table  # noqa: E402

import optiframe as of  # noqa: E402

#: seconds each evaluation of the sleeping objective takes (part 1)
SLEEP = 0.05
#: the dense system of the CPU-bound objective (part 2): about 20 ms a solve on one core
SOLVE_SIZE = 1100
_A = None


def rosen(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


class Sleeping:
    """Extended Rosenbrock that sleeps ``seconds`` per evaluation (picklable)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.__name__ = f"sleeping_{seconds:g}"

    def __call__(self, x: np.ndarray) -> float:
        time.sleep(self.seconds)
        return rosen(x)


def solving(x: np.ndarray) -> float:
    """Extended Rosenbrock plus a dense linear solve (about 20 ms on one core)."""
    global _A
    if _A is None:
        rng = np.random.default_rng(0)
        _A = rng.standard_normal((SOLVE_SIZE, SOLVE_SIZE)) + SOLVE_SIZE * np.eye(SOLVE_SIZE)
    w = np.linalg.solve(_A, np.full(SOLVE_SIZE, 1.0 + 0.0 * float(x[0])))
    return rosen(x) + 1e-12 * float(w.sum())


def start(n: int) -> np.ndarray:
    x0 = np.ones(n)
    x0[::2] = -1.2
    return x0


def ours(f, n: int, steps: int, evaluate) -> tuple[float, int, int]:
    """Seconds per iteration, iterations, evaluations of optiframe's default L-BFGS with
    central differences."""
    t = time.perf_counter()
    r = of.minimize(f, start(n), gradient="central", max_steps=steps, evaluate=evaluate)
    return (time.perf_counter() - t) / max(r.nit, 1), r.nit, r.nfev


def theirs(f, n: int, steps: int, workers: int) -> tuple[float, int, int]:
    """The same for optimparallel's minimize_parallel (central differences)."""
    from optimparallel import minimize_parallel

    t = time.perf_counter()
    r = minimize_parallel(f, start(n), options={"maxiter": steps},
                          parallel={"max_workers": workers, "forward": False})
    return (time.perf_counter() - t) / max(r.nit, 1), r.nit, r.nfev


def have_optimparallel() -> bool:
    try:
        import optimparallel  # noqa: F401
    except ImportError:
        return False
    return True


def part1(rounds: int, steps: int) -> None:
    f = Sleeping(SLEEP)
    peer = have_optimparallel()
    rows = []
    for n in (8, 20):
        serial, par, op = [], [], []
        for _ in range(rounds):
            serial.append(ours(f, n, steps, None))
            par.append(ours(f, n, steps, 8))
            if peer:
                op.append(theirs(f, n, steps, 8))
        s = statistics.median(t for t, _, _ in serial)
        p = statistics.median(t for t, _, _ in par)
        o = statistics.median(t for t, _, _ in op) if peer else float("nan")
        bound = (2 * n + 1) / -(-(2 * n + 1) // 8)  # evaluations per trial / rounds of 8
        rows.append([n, f"{s * 1e3:.0f}", f"{p * 1e3:.0f}",
                     f"{o * 1e3:.0f}" if peer else "-", f"{s / p:.2f}x",
                     f"{o / p:.2f}x" if peer else "-", f"{bound:.2f}x",
                     f"{par[0][1]}/{serial[0][1]}" + (f"/{op[0][1]}" if peer else ""),
                     f"{par[0][2]}/{serial[0][2]}" + (f"/{op[0][2]}" if peer else "")])
    print(f"1. An objective that sleeps {SLEEP * 1e3:.0f} ms, L-BFGS, central differences, "
          f"8 workers, {steps} iterations ({rounds} interleaved rounds, medians)")
    print(table(["n", "ms/it serial", "ms/it evaluate=8", "ms/it optimparallel",
                 "speed-up vs serial", "optimparallel / ours", "bound (2n+1)/rounds",
                 "nit ours/serial/op", "nfev ours/serial/op"], rows))
    print("goals: >= 6x at n = 8, >= 7x at n = 20; optimparallel / ours >= 1.0\n")


def part2(rounds: int, steps: int) -> None:
    solving(start(8))  # builds the matrix
    t = time.perf_counter()
    for _ in range(5):
        solving(start(8))
    one = (time.perf_counter() - t) / 5
    rows = []
    for n in (8,):
        serial, par = [], []
        for _ in range(rounds):
            serial.append(ours(solving, n, steps, None))
            par.append(ours(solving, n, steps, 2))
        s = statistics.median(t for t, _, _ in serial)
        p = statistics.median(t for t, _, _ in par)
        rows.append([n, f"{one * 1e3:.1f}", f"{s * 1e3:.0f}", f"{p * 1e3:.0f}", f"{s / p:.2f}x"])
    print(f"2. A CPU-bound objective (dense solve, {SOLVE_SIZE}x{SOLVE_SIZE}, one BLAS thread), "
          f"2 workers on {os.cpu_count()} cores, {steps} iterations")
    print(table(["n", "ms per evaluation", "ms/it serial", "ms/it evaluate=2", "speed-up"],
                rows))
    print()


def part3(rounds: int, steps: int) -> None:
    rows = []
    for seconds in (0.0, 1e-4, 1e-3, 5e-3):
        f = Sleeping(seconds)
        serial, par = [], []
        for _ in range(rounds):
            serial.append(ours(f, 8, steps, None))
            par.append(ours(f, 8, steps, 2))
        s = statistics.median(t for t, _, _ in serial)
        p = statistics.median(t for t, _, _ in par)
        rows.append([f"{seconds * 1e3:g}", f"{s * 1e3:.2f}", f"{p * 1e3:.2f}", f"{s / p:.2f}x"])
    print(f"3. Break-even, n = 8, L-BFGS, central differences, 2 workers, {steps} iterations")
    print(table(["ms per evaluation", "ms/it serial", "ms/it evaluate=2", "speed-up"], rows))


def part4(rounds: int, steps: int) -> None:
    f = Sleeping(SLEEP)
    rows = []
    for p in (1, 4, 8):
        descent = of.GradientDescent(lr=1.0, line_search=of.Armijo(parallel=p))
        times, runs = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            r = of.minimize(f, start(4), optimizer=descent, gradient="central",
                            max_steps=steps, evaluate=8)
            times.append((time.perf_counter() - t) / r.nit)
            runs.append(r)
        r = runs[0]
        rows.append([p, f"{statistics.median(times) * 1e3:.0f}", r.nit, r.nfev,
                     r.evaluation.batches, f"{r.fun:.3g}"])
    print(f"4. Armijo trying p lengths at once: gradient descent (lr 1), {SLEEP * 1e3:.0f} ms "
          f"objective, n = 4, 8 workers, {steps} steps")
    print(table(["parallel", "ms per step", "steps", "nfev", "batches", "f at the end"],
                rows))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one round, fewer iterations")
    parser.add_argument("--parts", default="1,2,3,4")
    args = parser.parse_args()
    rounds = 1 if args.quick else 3
    parts = set(args.parts.split(","))
    if "1" in parts:
        part1(rounds, 3 if args.quick else 6)
    if "2" in parts:
        part2(rounds, 3 if args.quick else 6)
    if "3" in parts:
        part3(rounds, 6 if args.quick else 12)
    if "4" in parts:
        part4(rounds, 8)


if __name__ == "__main__":
    main()
