"""What users run by default: optiframe's L-BFGS against scipy's L-BFGS-B, wall time per
iteration (issue 20).

Run: ``.venv/bin/python benchmarks/bench_lbfgs.py`` (``--quick`` for a smoke run).

Both minimize the extended Rosenbrock function with its analytic gradient from the
standard start (-1.2, 1, -1.2, 1, ...), n = 2, 10, 100 and 1000: optiframe as a user
writes it, ``of.minimize(rosen, x0, jac=rosen_der)`` (L-BFGS, memory 10, strong Wolfe),
and ``scipy.optimize.minimize(rosen, x0, jac=rosen_der, method="L-BFGS-B")``. Each run is
timed whole and divided by its own iteration count; the two alternate round after round
and the table gives the median of per-round ratios (and the ratio of best times).
Goal: at most 1.5x scipy's time per iteration at every n.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _timing import table  # noqa: E402

import optiframe as of  # noqa: E402


def rosen(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def rosen_der(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    d = x[1:] - x[:-1] ** 2
    g[:-1] = -400.0 * x[:-1] * d - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * d
    return g


def start(n: int) -> np.ndarray:
    x0 = np.ones(n)
    x0[::2] = -1.2
    return x0


def per_iteration(run, x0: np.ndarray) -> tuple[float, int, float]:
    import time

    t = time.perf_counter()
    r = run(x0)
    elapsed = time.perf_counter() - t
    return elapsed / max(1, r.nit), r.nit, float(r.fun)


def main() -> None:
    from scipy.optimize import minimize as scipy_minimize

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rounds = 3 if args.quick else 15

    def ours(x0):
        return of.minimize(rosen, x0, jac=rosen_der)

    def theirs(x0):
        return scipy_minimize(rosen, x0, jac=rosen_der, method="L-BFGS-B")

    rows = []
    for n in (2, 10, 100, 1000):
        x0 = start(n)
        ours(x0), theirs(x0)  # warm up
        mine, peer, ratios = [], [], []
        for _ in range(rounds):
            a, nit_a, f_a = per_iteration(ours, x0)
            b, nit_b, f_b = per_iteration(theirs, x0)
            mine.append(a)
            peer.append(b)
            ratios.append(a / b)
        rows.append((n, f"{nit_a}", f"{nit_b}", f"{min(mine) * 1e6:.0f}",
                     f"{min(peer) * 1e6:.0f}", f"{float(np.median(ratios)):.2f}x",
                     f"{min(mine) / min(peer):.2f}x", f"{f_a:.1e} / {f_b:.1e}"))
    print("L-BFGS per iteration, extended Rosenbrock, analytic gradient "
          f"({rounds} interleaved rounds)")
    print(table(["n", "nit ours", "nit scipy", "us/it ours", "us/it scipy",
                 "median ratio", "best ratio", "final f ours / scipy"], rows))
    print("goal: <= 1.5x at every n")


if __name__ == "__main__":
    main()
