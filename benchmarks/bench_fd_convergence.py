"""Whether the default black-box run earns its `converged` (issue 20): 200 runs of the
chained Rosenbrock function without a gradient, n = 2, 3, 4, 6 and 10, 40 starts each
drawn uniformly from [-2, 2]^n (seed 0), every default (L-BFGS, adaptive differences).

Run: ``.venv/bin/python benchmarks/bench_fd_convergence.py`` (``--quick``: 10 starts per n).

A run *claims too much* when it ends ``converged`` farther than 1e-5 from the minimum
(1, ..., 1) while its f is below 1e-3 (it is in the minimum's valley, not at another
stationary point): there the true gradient norm is about 1e-5, a thousand times gtol.
Forward differences err by about ``sqrt(eps) |f''|`` and vanish at such points; the
check that measures the central gradient before a forward-difference convergence is
what this counts. Printed: the runs' statuses, the runs that claim too much, the largest
distance of a ``converged`` run from the minimum, and the median evaluations of f.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _timing import table  # noqa: E402

import optiframe as of  # noqa: E402


def rosen(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    per_n = 10 if args.quick else 40
    rng = np.random.default_rng(0)
    rows, statuses, nfev, too_much, worst = [], Counter(), [], 0, 0.0
    for n in (2, 3, 4, 6, 10):
        claims = 0
        for _ in range(per_n):
            r = of.minimize(rosen, rng.uniform(-2.0, 2.0, n))
            statuses[r.status] += 1
            nfev.append(r.nfev)
            away = float(np.abs(r.x - 1.0).max())
            if r.status == "converged" and r.fun < 1e-3:
                worst = max(worst, away)
                if away > 1e-5:
                    claims += 1
        too_much += claims
        rows.append((n, per_n, claims))
    print("Black-box chained Rosenbrock, every default: converged farther than 1e-5 from "
          "the minimum")
    print(table(["n", "runs", "converged > 1e-5 away"], rows))
    print(f"\nstatuses: {dict(statuses)}; converged > 1e-5 away: {too_much} of "
          f"{sum(statuses.values())}; farthest converged run in the valley: {worst:.1e}; "
          f"median nfev {statistics.median(nfev):g}")
    print("goal: 0 runs converged away from the minimum")


if __name__ == "__main__":
    main()
