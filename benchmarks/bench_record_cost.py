"""What recording every step costs a large stack (issue 20): 1000 starts x 500 steps of
gd on Himmelblau, as in ``bench_loop.py``, with the history recorded every step and
every 500 steps, against the hand vectorized loop (which records f and |g|).

Run: ``.venv/bin/python benchmarks/bench_record_cost.py``.

Printed for each: the best wall time of interleaved rounds, its ratio to the hand loop,
and the minor page faults of one run (``getrusage``). A record keeps each step's arrays
(f, |g| and the step norms of every start, 24 KB a step here), so the memory it fills is
fresh: the kernel zeroes each new page. The instruction counts of ``bench_loop.py``
(callgrind) do not see that time; the wall time does.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _timing import interleaved, table  # noqa: E402
from bench_loop import _many, many_hand  # noqa: E402

import optiframe as of  # noqa: E402


def ours(every: int) -> None:
    obj, X0, _ = _many("himmelblau")
    of.Runner(obj, of.GradientDescent(lr=1e-4), "analytic", max_steps=500, gtol=0,
              record_every=every).run(starts=X0)


def faults(run) -> int:
    run()  # warm
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    run()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def main() -> None:
    contenders = [("optiframe, recorded every step", lambda: ours(1)),
                  ("optiframe, recorded every 500 steps", lambda: ours(500)),
                  ("hand vectorized loop (f and |g| kept)", lambda: many_hand("himmelblau", 500))]
    times = interleaved([run for _, run in contenders], 9)
    hand = min(times[-1])
    rows = [(label, f"{min(t) * 1e3:.1f}", f"{min(t) / hand:.2f}x", faults(run))
            for (label, run), t in zip(contenders, times, strict=True)]
    print("1000 starts x 500 steps, Himmelblau, gd (9 interleaved rounds)")
    print(table(["run", "best ms", "to hand", "page faults"], rows))


if __name__ == "__main__":
    main()
