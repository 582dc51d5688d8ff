"""What the last evaluations of a budget buy (issue 20): a line search that the budget
stops with too few evaluations left for a trial and its gradient spends them on f alone.

Run: ``.venv/bin/python benchmarks/bench_budget_end.py`` (``--quick``: budgets 5 and 20
(n + 1) only).

Every problem of the Moré-Garbow-Hillstrom set (:mod:`optiframe.mgh`), from its x0, with
the default L-BFGS and the gradients ``auto`` (the default), ``forward`` and ``central``,
under ``max_nfev`` = 5, 10, 20 and 40 times (n + 1). Each run twice, in one process:

* *now*: the default;
* *before*: as before the change, emulated by patching it out for the run: a step whose
  gradient the last search handed over still needs a gradient's evaluations to begin
  (``StrongWolfe.budgeted = False``), and a search stopped by the budget ends there
  (``line_step.values_only`` returns None).

Printed: the runs that end ``max_nfev`` and the evaluations they leave unspent; how
many runs end lower, higher or at the same f now; the median ratio of f - f* (now /
before) over the runs that changed; the problems solved (f - f* <= 1e-8 max(1, |f*|),
as ``bench_mgh.py``) each way; and the statuses that changed. No run may end higher
(the tail only ever takes a point lower than the search's start) and ``nfev`` never
exceeds ``max_nfev``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _timing import table  # noqa: E402

import optiframe as of  # noqa: E402
from optiframe import line_step  # noqa: E402
from optiframe.mgh import PROBLEMS  # noqa: E402

GRADIENTS = ("auto", "forward", "central")


def run(p: Any, gradient: str, budget: int, before: bool) -> of.Result:
    """One run; ``before``: with the change patched out (see the module docstring)."""
    kept = of.StrongWolfe.budgeted, line_step.values_only
    if before:
        of.StrongWolfe.budgeted = False  # type: ignore[misc]
        line_step.values_only = lambda *args: None  # type: ignore[assignment]
    try:
        return of.minimize(p, p.x0, gradient=gradient, max_nfev=budget)
    finally:
        of.StrongWolfe.budgeted, line_step.values_only = kept  # type: ignore[misc]


def solved(p: Any, fun: float) -> bool:
    return fun - p.f_star <= 1e-8 * max(1.0, abs(p.f_star))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    multiples = (5, 20) if parser.parse_args(argv).quick else (5, 10, 20, 40)
    rows, changed, ratios = [], Counter(), []
    tally = {"before": Counter(), "now": Counter()}
    for cls in PROBLEMS.values():
        p = cls()
        for gradient in GRADIENTS:
            for m in multiples:
                budget = m * (len(p.x0) + 1)
                ends = {"before": run(p, gradient, budget, True),
                        "now": run(p, gradient, budget, False)}
                for way, r in ends.items():
                    assert r.nfev <= budget, (p.name, gradient, budget, way, r.nfev)
                    t = tally[way]
                    t["runs"] += 1
                    t["solved"] += solved(p, r.fun)
                    if r.status == "max_nfev":
                        t["max_nfev"] += 1
                        t["unspent"] += budget - r.nfev
                a, b = ends["before"], ends["now"]
                changed["lower" if b.fun < a.fun else "higher" if b.fun > a.fun else "same"] += 1
                if b.fun != a.fun and a.fun > p.f_star:
                    ratios.append((b.fun - p.f_star) / (a.fun - p.f_star))
                if a.status != b.status:
                    changed[f"{a.status} -> {b.status}"] += 1
    for way in ("before", "now"):
        t = tally[way]
        rows.append((way, t["runs"], t["max_nfev"], t["unspent"], t["solved"]))
    print("L-BFGS on the MGH set under max_nfev = "
          f"{', '.join(str(m) for m in multiples)} x (n + 1), gradients {', '.join(GRADIENTS)}")
    print(table(["", "runs", "ending max_nfev", "evaluations unspent in them",
                 "solved"], rows))
    print()
    print("now against before, run by run: " + ", ".join(
        f"{k} {v}" for k, v in sorted(changed.items())))
    if ratios:
        print(f"median (f - f*) now / before, over the {len(ratios)} runs that changed: "
              f"{statistics.median(ratios):.3f}")
    print("goal: no run ends higher; nfev <= max_nfev in every run (asserted)")


if __name__ == "__main__":
    main()
