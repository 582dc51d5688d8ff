"""The multi-start trade-off on 10-D Rastrigin: more starts, lower minimum, more time.

Run: ``.venv/bin/python benchmarks/multistart_tradeoff.py``; prints the table in
docs/howto-multistart.md. Gradient descent (lr 1e-3, at most 1000 steps, analytic
gradient) from K uniform starts in [-5.12, 5.12]^10, seed 0.
"""

from __future__ import annotations

import time

import optiframe as of


def main():
    print("| starts | best f | distinct minima | converged | time |")
    print("|---|---|---|---|---|")
    box = [(-5.12, 5.12)] * 10
    of.minimize("rastrigin", [1.0] * 10, max_steps=5)  # warm up imports and plugins
    for K in (1, 10, 100, 1000, 10_000):
        t = time.perf_counter()
        r = of.minimize("rastrigin", optimizer=of.GradientDescent(lr=1e-3), max_steps=1000,
                        starts=of.MultiStart(K, sampler="uniform", bounds=box), seed=0)
        seconds = time.perf_counter() - t
        print(f"| {K} | {r.fun:.4f} | {len(r.minima)} | {r.statuses().get('converged', 0)} "
              f"| {seconds:.2f} s |")


if __name__ == "__main__":
    main()
