"""Multi-start benchmarks (issue 3). Run: ``.venv/bin/python benchmarks/bench_multistart.py``.

1. K = 1000 starts, 500 steps of gd with analytic gradients on 2-D Himmelblau and 10-D
   Rastrigin: the vectorized path vs a Python loop over starts calling the single-start
   Runner (goal: at least 50x faster) and vs a hand-written vectorized numpy loop doing
   the same arithmetic (gradient, update, f and gradient norm per start per step; goal:
   within 1.5x).
2. A CPU-heavy objective (about 1 ms a call), 8 starts x 100 steps: the process pool
   (workers=2) and Dask (2 local worker processes, if optiframe-dask is installed) vs
   the serial path, as speed-ups on this 2-core machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _heavy import Heavy
from _timing import interleaved, table

import optiframe as of


def hand_vectorized(obj, X0, lr, steps):
    X = X0.copy()
    F = np.empty((steps + 1, X.shape[0]))
    GN = np.empty((steps, X.shape[0]))
    F[0] = obj._f(X)
    for k in range(steps):
        G = obj._g(X)
        GN[k] = np.sqrt(np.einsum("ij,ij->i", G, G))
        X = X - lr * G
        F[k + 1] = obj._f(X)
    return X


def bench_vectorized(K, steps, rounds, loop_starts):
    rows = []
    # lr small enough that no start reaches its minimum's float spacing (and stalls) in
    # 500 steps: every start does the same work as in the hand-written loop.
    for name, n, lr in (("himmelblau", 2, 1e-4), ("rastrigin", 10, 1e-4)):
        obj = of.get_registry().build("objective", name, of.Objective)
        box = [obj.box] * n
        starts = of.MultiStart(K, sampler="uniform", bounds=box)
        runner = of.Runner(obj, of.GradientDescent(lr=lr), "analytic", max_steps=steps, gtol=0)
        r = runner.run(starts=starts, seed=0)
        X0 = np.array([s.x0 for s in r.starts])
        assert all(s.nit == steps for s in r.starts)
        np.testing.assert_allclose(np.array([s.x for s in r.starts]),
                                   hand_vectorized(obj, X0, lr, steps), rtol=1e-12, atol=1e-14)
        def loop(r=runner, starts0=X0[:loop_starts]):
            for x0 in starts0:
                r.run(x0)

        ours, hand, looped = interleaved(
            [lambda r=runner, s=starts: r.run(starts=s, seed=0),
             lambda o=obj, x=X0, lr=lr: hand_vectorized(o, x, lr, steps), loop], rounds)
        loop_time = min(looped) * K / loop_starts
        rows.append((f"{name} {n}-D", f"{min(ours):.3f} s", f"{min(hand):.3f} s",
                     f"{min(ours) / min(hand):.2f}x (goal <= 1.5x)", f"{loop_time:.2f} s",
                     f"{loop_time / min(ours):.0f}x (goal >= 50x)"))
    print(f"K = {K} starts, {steps} steps of gd, analytic gradients:")
    print(table(["problem", "vectorized", "hand numpy", "ratio", "loop of Runner.run",
                 "speed-up"], rows))
    print(f"(the loop was timed over {loop_starts} starts, interleaved, and scaled to {K})")


def heavy_run(workers):
    return of.minimize(Heavy(), optimizer=of.GradientDescent(lr=0.1), max_steps=100, gtol=0,
                       starts=of.MultiStart(8, sampler="uniform", bounds=[(-2, 2)] * 3),
                       seed=1, workers=workers)


def bench_parallel():
    contenders = [("serial (workers=map)", map), ("process pool (workers=2)", 2)]
    try:
        import optiframe_dask  # noqa: F401
        from dask.distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=":0", host="127.0.0.1")
        client = Client(cluster)
        contenders.append(("dask, 2 local workers", client.get_executor().map))
    except ImportError:
        client = cluster = None
    heavy_run(2)  # warm the pool machinery once
    results, times = {}, {}
    for label, workers in contenders:
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            results[label] = heavy_run(workers)
            best = min(best, time.perf_counter() - t)
        times[label] = best
    base = times[contenders[0][0]]
    first = results[contenders[0][0]]
    for r in results.values():
        assert all(np.array_equal(s.x, t.x) for s, t in zip(first.starts, r.starts, strict=True))
    print("\nCPU-heavy objective (~1 ms a call), 8 starts x 100 steps, results bit-identical:")
    print(table(["path", "time", "speed-up over serial"],
                [(label, f"{t:.2f} s", f"{base / t:.2f}x") for label, t in times.items()]))
    if client is not None:
        client.close()
        cluster.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        bench_vectorized(K=50, steps=20, rounds=1, loop_starts=5)
    else:
        bench_vectorized(K=1000, steps=500, rounds=4, loop_starts=50)
        bench_parallel()


if __name__ == "__main__":
    main()
