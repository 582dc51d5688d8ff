"""of.sweep (issue 15): the blog's table as one call, and 100 learning rates as one stack.

Run: ``.venv/bin/python benchmarks/bench_sweep.py [--quick]``

1. The blog's learning-rate table (8 rows: lr and steps taken together) as one
   ``of.sweep(..., zipped=True)`` call: x of each row against the blog's printed values.
2. A sweep of 100 learning rates of gd on Himmelblau (one stack) against a multi-start
   run of 100 starts with one learning rate, the same number of steps (goal: at most 1.5x),
   and against the 100 runs one by one (``stack=False``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import optiframe as of
from optiframe.demo import LEARNING_RATE_TABLE, func1

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved, ratio

#: x after the blog's loop, as the blog printed it (docs/tutorial.md)
BLOG_X = {(0.01, 500): -0.00012307192187321903, (0.001, 5000): -0.00013484277838493597,
          (0.999, 5000): -0.00013485598670825993, (1e-9, 100): -2.99999940000006,
          (1e-9, 10000): -2.999940000600035, (10.0, 100): 2459382288.1580424,
          (10.0, 1000): 2459382288.1580424}


def blog_table() -> None:
    lrs, steps = zip(*LEARNING_RATE_TABLE, strict=True)
    table = of.sweep(func1, -3.0, optimizer=of.GradientDescent, lr=list(lrs),
                     max_steps=list(steps), zipped=True, detect_divergence=False,
                     gradient=of.CentralDifference(step=1e-7, relative=False))
    print(f"1. The blog's table as one call: {len(table)} rows in {len(table.groups)} stacks")
    same = 0
    for row in table:
        want = BLOG_X.get((row["lr"], row["max_steps"]))
        x = row["x"][0]
        verdict = "-" if want is None else ("same bits" if x == want else "DIFFERENT")
        same += verdict == "same bits"
        print(f"   lr {row['lr']:<6g} steps {row['max_steps']:<6d} x = {x!r:<24} {verdict}")
    print(f"   {same} of {len(BLOG_X)} printed values reproduced bit for bit\n")


def hundred_rates(quick: bool) -> None:
    steps, rounds = (200, 1) if quick else (2000, 7)
    lrs = np.geomspace(1e-4, 0.02, 100).tolist()
    x0 = [0.5, -0.5]
    kw = dict(max_steps=steps, gtol=0.0, detect_divergence=False)
    steps_run = {}

    def swept():
        table = of.sweep("himmelblau", x0, optimizer="gd", lr=lrs, **kw)
        assert table.groups == [list(range(100))]
        steps_run["sweep"] = sum(row["nit"] for row in table)

    def starts():  # lr 1e-4: no start lands exactly on a minimum, all take every step
        r = of.minimize("himmelblau", starts=np.tile(x0, (100, 1)),
                        optimizer=of.GradientDescent(lr=1e-4), **kw)
        steps_run["starts"] = sum(s.nit for s in r.starts)
        return r

    def starts_read():  # the same, and its history read (as a sweep reads its stack's)
        starts().history.table()

    t_sweep, t_starts, t_read = interleaved([swept, starts, starts_read], rounds)
    t_alone = interleaved([lambda: of.sweep("himmelblau", x0, optimizer="gd", lr=lrs,
                                            stack=False, **kw)], 1)[0]
    best, median = ratio(t_sweep, t_starts)
    best_read, _ = ratio(t_sweep, t_read)
    print(f"2. 100 learning rates of gd on Himmelblau, {steps} steps each (best of {rounds} "
          f"interleaved rounds; steps taken: sweep {steps_run['sweep']}, multi-start "
          f"{steps_run['starts']})")
    print(f"   of.sweep (one stack)              {min(t_sweep) * 1e3:8.1f} ms")
    print(f"   multi-start, 100 starts           {min(t_starts) * 1e3:8.1f} ms   "
          f"sweep/multi-start {best:.2f}x (median {median:.2f}x; goal <= 1.5x: "
          f"{'met' if best <= 1.5 else 'MISSED'})")
    print(f"   multi-start, history read         {min(t_read) * 1e3:8.1f} ms   "
          f"sweep/this {best_read:.2f}x")
    print(f"   one run per rate (stack=False)    {min(t_alone) * 1e3:8.1f} ms   "
          f"{min(t_alone) / min(t_sweep):.1f}x the stack")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    quick = parser.parse_args().quick
    blog_table()
    hundred_rates(quick)


if __name__ == "__main__":
    main()
