"""What recording every step costs a large stack (issue 20): 1000 starts x 500 steps of
gd on Himmelblau, as in ``bench_loop.py``, with the history recorded every step and
every 500 steps, and every step with the record dropped (the history's record function
swapped for a no-op while the run lasts: what the loop costs without the memory a record
fills), against the hand vectorized loop (which records f and |g|).

Run: ``.venv/bin/python benchmarks/bench_record_cost.py``.

Two more hand loops measure each step's length as a run does, one keeping f, |g| and the
step norms (what a run records) and one keeping nothing: the difference is what keeping
a record costs a hand loop. Printed for each: the best wall time of interleaved rounds,
its ratio to the hand loop, and the minor page faults of one run (``getrusage``). A
record keeps each step's arrays (f, |g| and the step norms of every start, 24 KB a step
here), so the memory it fills is fresh: the kernel zeroes each new page. The
instruction counts of ``bench_loop.py`` (callgrind) do not see that time; the wall time
does.

A second table splits a step's cost by the number of starts (10, 100 and 1000, recorded
every step): the time of 600 steps less that of 100, over 500, for optiframe and the hand
loop. What optiframe adds at 10 starts, where numpy's work is small, is the loop's own
Python; what it adds beyond that at 1000 starts grows with the starts (the step norms,
the best points, the records' fresh pages).
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _timing import interleaved, table  # noqa: E402
from bench_loop import _many, many_hand, many_ours  # noqa: E402

import optiframe as of  # noqa: E402
from optiframe.starts_history import StartsHistory  # noqa: E402


def ours(every: int) -> None:
    obj, X0, _ = _many("himmelblau")
    of.Runner(obj, of.GradientDescent(lr=1e-4), "analytic", max_steps=500, gtol=0,
              record_every=every).run(starts=X0)


def ours_unrecorded() -> None:
    """``ours(1)`` with the history's record function a no-op (an experiment, not a
    setting): the loop's own cost, with every record call made and nothing kept."""
    record = StartsHistory.record
    StartsHistory.record = lambda self, *args, **kwargs: None  # type: ignore[method-assign]
    try:
        ours(1)
    finally:
        StartsHistory.record = record  # type: ignore[method-assign]


def faults(run) -> int:
    run()  # warm
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    run()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def hand_kept(steps: int, keep: bool) -> None:
    """The hand loop of ``bench_loop.py`` that also measures each step's length (as a
    run records it), keeping f, |g| and the step norms in preallocated arrays (``keep``)
    or nothing."""
    obj, X0, _ = _many("himmelblau")
    X = X0.copy()
    rec = [np.empty((steps + 1, len(X))) for _ in range(3)] if keep else None
    F = obj._f(X)
    for k in range(steps):
        G = obj._g(X)
        GN = np.sqrt(np.einsum("ij,ij->i", G, G))
        X_new = X - 1e-4 * G
        F = obj._f(X_new)
        D = X_new - X
        SN = np.sqrt(np.einsum("ij,ij->i", D, D))
        X = X_new
        if rec is not None:
            rec[0][k + 1], rec[1][k], rec[2][k] = F, GN, SN


def step_costs(n_starts: int, rounds: int) -> tuple[float, float]:
    """Microseconds a step of optiframe and of the hand loop for ``n_starts`` starts:
    600 steps less 100, over 500 (best of interleaved rounds)."""
    starts = np.random.default_rng(n_starts).uniform(-5.0, 5.0, (n_starts, 2))
    times = interleaved([lambda: many_ours("himmelblau", 600, starts=starts),
                         lambda: many_ours("himmelblau", 100, starts=starts),
                         lambda: many_hand("himmelblau", 600, starts),
                         lambda: many_hand("himmelblau", 100, starts)], rounds)
    best = [min(t) for t in times]
    return (best[0] - best[1]) / 500 * 1e6, (best[2] - best[3]) / 500 * 1e6


def main() -> None:
    contenders = [("optiframe, recorded every step", lambda: ours(1)),
                  ("optiframe, recorded every 500 steps", lambda: ours(500)),
                  ("optiframe, every step, the record dropped", ours_unrecorded),
                  ("hand loop, f, |g| and step norms kept", lambda: hand_kept(500, True)),
                  ("hand loop, step norms measured, nothing kept",
                   lambda: hand_kept(500, False)),
                  ("hand vectorized loop (f and |g| kept)", lambda: many_hand("himmelblau", 500))]
    times = interleaved([run for _, run in contenders], 9)
    hand = min(times[-1])
    rows = [(label, f"{min(t) * 1e3:.1f}", f"{min(t) / hand:.2f}x", faults(run))
            for (label, run), t in zip(contenders, times, strict=True)]
    print("1000 starts x 500 steps, Himmelblau, gd (9 interleaved rounds)")
    print(table(["run", "best ms", "to hand", "page faults"], rows))
    split = []
    for n_starts in (10, 100, 1000):
        mine, hand_step = step_costs(n_starts, 7)
        split.append((n_starts, f"{mine:.1f}", f"{hand_step:.1f}", f"{mine - hand_step:.1f}",
                      f"{mine / hand_step:.2f}x"))
    print()
    print("A step by the number of starts, us (600 steps less 100, 7 interleaved rounds)")
    print(table(["starts", "optiframe", "hand loop", "difference", "ratio"], split))


if __name__ == "__main__":
    main()
