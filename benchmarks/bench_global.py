"""Global search: optiframe's strategies against scipy's global optimizers, at equal
budgets counted by one wrapper around the objective.

Run: ``.venv/bin/python benchmarks/bench_global.py [--seeds 5] [--quick] [--json F]
[--only NAME,...] [--workers 2]``; prints the table in docs/strategies.md and writes JSON
(default ``bench_global.json``).

The set is ``optiframe.globalsets.GLOBAL_SET`` (45 cases of 39 functions, 2 to 10
dimensions). Every solver sees the same black box: a wrapper that counts each point it
is asked for (a stack counts its rows), remembers the best value seen and the
evaluation at which the value first came within the target, and stops the solver
(an exception) once the budget of 2000 x N evaluations is spent, so no solver can
overspend. Success, as scipy's global benchmarks judge it: |f - f*| <= 1e-5 max(1, |f*|)
at the best point seen, at the full budget and at a tenth of it. optiframe's strategies
run with their defaults (L-BFGS, adaptive finite differences); the peers are scipy's
differential_evolution, dual_annealing, shgo, direct, basinhopping (L-BFGS-B) and
L-BFGS-B restarted from uniform points until the budget is spent.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import statistics
import sys
import time
from typing import Any

import numpy as np

import optiframe as of
from optiframe.globalsets import GLOBAL_SET, GlobalCase

BUDGET_PER_DIM = 2000
STRATEGIES = ("tiktak", "restarts", "mlsl", "basinhopping")
PEERS = ("differential_evolution", "dual_annealing", "shgo", "direct", "scipy_basinhopping",
         "lbfgsb_restarts")


class BudgetSpentError(Exception):
    """The budget is spent: the solver is stopped."""


class Counted:
    """The black box every solver sees: f, counted per point, best value and the first
    evaluation within the target remembered; past the budget it raises :class:`BudgetSpentError`."""

    #: wall-clock seconds a run may take (shgo's triangulation in 10-D can take hours)
    max_seconds = 120.0

    def __init__(self, objective: Any, budget: int, f_star: float) -> None:
        self.objective, self.budget = objective, budget
        self.target = f_star + 1e-5 * max(1.0, abs(f_star))
        self.count, self.best, self.hit = 0, math.inf, None
        self.started, self.timed_out = time.perf_counter(), False

    def __call__(self, x: Any) -> Any:
        X = np.asarray(x, dtype=float)
        rows = X.reshape(-1, X.shape[-1])
        if self.count + len(rows) > self.budget:
            raise BudgetSpentError
        if time.perf_counter() - self.started > self.max_seconds:
            self.timed_out = True
            raise BudgetSpentError
        F = np.asarray(self.objective.values(rows), dtype=float)
        for k, f in enumerate(F.tolist()):
            if f < self.best:
                self.best = f
            if self.hit is None and f <= self.target:
                self.hit = self.count + k + 1
        self.count += len(rows)
        return F if X.ndim > 1 else float(F[0])


def strategy_spec(solver: str) -> Any:
    """``"tiktak"``, or ``"tiktak:sample=0.02:keep=0.2"`` for a variant."""
    name, *params = solver.split(":")
    if not params:
        return name
    def value(text: str) -> Any:
        for kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                pass
        return text

    return {"name": name, **{k: value(v) for k, v in (p.split("=") for p in params)}}


def run_optiframe(name: str, f: Counted, bounds: list, seed: int) -> None:
    black_box = of.FunctionObjective.from_callable(f, vectorized=True)
    of.minimize(black_box, bounds=bounds, strategy=strategy_spec(name), max_nfev=f.budget,
                seed=seed, progress=False)


def run_peer(name: str, f: Counted, bounds: list, seed: int) -> None:
    import scipy.optimize as so

    rng = np.random.default_rng(seed)
    lo, hi = np.array(bounds).T
    if name == "differential_evolution":
        so.differential_evolution(f, bounds, maxiter=10**6, seed=seed, tol=0, atol=0)
    elif name == "dual_annealing":
        so.dual_annealing(f, bounds, maxfun=f.budget, seed=seed)
    elif name == "shgo":
        so.shgo(f, bounds, options={"maxfev": f.budget})
    elif name == "direct":
        so.direct(f, bounds, maxfun=f.budget)
    elif name == "scipy_basinhopping":
        so.basinhopping(f, rng.uniform(lo, hi), niter=10**6, seed=seed,
                        minimizer_kwargs={"method": "L-BFGS-B", "bounds": bounds})
    elif name == "lbfgsb_restarts":
        while True:
            so.minimize(f, rng.uniform(lo, hi), method="L-BFGS-B", bounds=bounds)
    else:
        raise ValueError(name)


#: --hard: the classic multimodal functions in 5-D and 10-D, 200,000 evaluations each
HARD = [("rastrigin", 5), ("rastrigin", 10), ("ackley", 5), ("ackley", 10),
        ("schwefel", 5), ("schwefel", 10)]
HARD_BUDGET = 200_000


def one(task: tuple[str, str, int, int] | tuple[str, str, int, int, int]) -> dict[str, Any]:
    solver, case_name, dim, seed, *fixed = task
    objective = GlobalCase(case_name, dim).objective()
    bounds = objective.bounds(dim)
    f_star = objective.minimum_value(dim)
    budget = fixed[0] if fixed else BUDGET_PER_DIM * dim
    f = Counted(objective, budget, f_star)
    t = time.perf_counter()
    error = None
    try:
        if solver.split(":")[0] in STRATEGIES:
            run_optiframe(solver, f, bounds, seed)
        else:
            run_peer(solver, f, bounds, seed)
    except BudgetSpentError:
        pass
    except Exception as exc:  # a solver that fails counts as what it found
        error = f"{type(exc).__name__}: {exc}"[:200]
    return {"solver": solver, "case": f"{case_name}-{dim}", "dim": dim, "seed": seed,
            "nfev": f.count, "best": f.best, "f_star": f_star, "hit": f.hit,
            "timed_out": f.timed_out,
            "success": f.hit is not None, "success_tenth": f.hit is not None
            and f.hit <= budget // 10, "seconds": time.perf_counter() - t, "error": error}


def summary(rows: list[dict[str, Any]], solvers: list[str]) -> str:
    lines = ["| solver | success (full budget) | success (a tenth) | median evaluations to "
             "success (cases both solve with dual_annealing) | time |",
             "|---|---|---|---|---|"]
    by = {s: [r for r in rows if r["solver"] == s] for s in solvers}
    annealing = {(r["case"], r["seed"]): r["hit"] for r in by.get("dual_annealing", [])}
    for s in solvers:
        mine = by[s]
        if not mine:
            continue
        full = sum(r["success"] for r in mine) / len(mine)
        tenth = sum(r["success_tenth"] for r in mine) / len(mine)
        both = [(r["hit"], annealing[(r["case"], r["seed"])]) for r in mine
                if r["hit"] is not None and annealing.get((r["case"], r["seed"]))]
        med = (f"{statistics.median(h for h, _ in both):.0f} vs "
               f"{statistics.median(a for _, a in both):.0f} ({len(both)} runs)"
               if both else "-")
        seconds = sum(r["seconds"] for r in mine)
        lines.append(f"| {s} | {full:.2f} | {tenth:.2f} | {med} | {seconds:.0f} s |")
    return "\n".join(lines)


def hard(args: argparse.Namespace) -> None:
    """How many seeded runs find the global minimum of the hard cases within 200,000
    evaluations."""
    solvers = [s for s in args.only.split(",") if s] if args.only else ["tiktak"]
    Counted.max_seconds = max(args.max_seconds, 900.0)
    tasks = [(s, name, dim, seed, HARD_BUDGET) for name, dim in HARD
             for seed in range(args.seeds) for s in solvers]
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        rows = pool.map(one, tasks, chunksize=1)
    print(f"the global minimum within {HARD_BUDGET} evaluations, {args.seeds} seeds\n")
    print("| solver | case | found | evaluations to find it (median) | best f (worst run) |")
    print("|---|---|---|---|---|")
    for s in solvers:
        for name, dim in HARD:
            mine = [r for r in rows if r["solver"] == s and r["case"] == f"{name}-{dim}"]
            hits = [r["hit"] for r in mine if r["hit"] is not None]
            med = f"{statistics.median(hits):.0f}" if hits else "-"
            worst = max(r["best"] for r in mine)
            print(f"| {s} | {name} {dim}-D | {len(hits)} of {len(mine)} | {med} | "
                  f"{worst:.3g} |")
    with open(args.json, "w") as fh:
        json.dump(rows, fh, indent=1)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--seed-list", default="",
                   help="these seeds (comma-separated) instead of 0 .. seeds - 1")
    p.add_argument("--quick", action="store_true", help="a few cases, one seed")
    p.add_argument("--only", default="", help="solvers, comma-separated")
    p.add_argument("--cases", default="", help="case names, comma-separated")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", default="bench_global.json")
    p.add_argument("--max-seconds", type=float, default=120.0)
    p.add_argument("--table", default="",
                   help="print the table of earlier runs' JSON files (comma-separated)")
    p.add_argument("--hard", action="store_true",
                   help="Rastrigin, Ackley, Schwefel in 5-D and 10-D, 200,000 evaluations")
    args = p.parse_args()
    Counted.max_seconds = args.max_seconds
    if args.table:
        rows = []
        for name in args.table.split(","):
            with open(name) as fh:
                rows.extend(json.load(fh))
        solvers = list(dict.fromkeys(r["solver"] for r in rows))
        print(summary(rows, solvers))
        return
    if args.hard:
        hard(args)
        return
    solvers = ([s for s in args.only.split(",") if s] if args.only
               else [*STRATEGIES, *PEERS])
    try:
        import scipy  # noqa: F401
    except ImportError:
        solvers = [s for s in solvers if s.split(":")[0] in STRATEGIES]
    cases = [(c.name, c.dim) for c in GLOBAL_SET
             if not args.cases or c.name in args.cases.split(",")]
    seeds = ([0] if args.quick else [int(s) for s in args.seed_list.split(",")]
             if args.seed_list else list(range(args.seeds)))
    if args.quick:
        cases = cases[:: max(len(cases) // 6, 1)][:6]
        solvers = [s for s in solvers if s in ("tiktak", "restarts", "dual_annealing")]
    tasks = [(s, name, dim, seed) for name, dim in cases for seed in seeds for s in solvers]
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        rows = pool.map(one, tasks, chunksize=1)
    print(f"{len(cases)} cases x {len(seeds)} seeds, budget {BUDGET_PER_DIM} x N "
          "evaluations, success |f - f*| <= 1e-5 max(1, |f*|)\n")
    print(summary(rows, solvers))
    slow = [r for r in rows if r["timed_out"]]
    if slow:
        print(f"\n{len(slow)} runs stopped at {Counted.max_seconds:.0f} s before their "
              f"budget: " + ", ".join(sorted({f"{r['solver']} on {r['case']}" for r in slow})))
    errors = [r for r in rows if r["error"]]
    if errors:
        print(f"\n{len(errors)} runs raised (counted as what they found), first: "
              f"{errors[0]['solver']} on {errors[0]['case']}: {errors[0]['error']}")
    with open(args.json, "w") as fh:
        json.dump(rows, fh, indent=1)
    print(f"\nper run: {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
