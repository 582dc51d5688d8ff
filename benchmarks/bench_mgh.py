"""The Moré-Garbow-Hillstrom set: optiframe's L-BFGS against scipy's L-BFGS-B (issue 12).

Run: ``.venv/bin/python benchmarks/bench_mgh.py`` (``--quick``: four problems, no Adam
grid). Needs scipy (``pip install scipy``).

For each of the 18 problems (:mod:`optiframe.mgh`) and each setting, every method starts
from the standard x0 with the same budget of evaluations (``BUDGET_PER_DIM`` (n + 1)) and
runs until it stops by itself; one counting wrapper, the same for every method, records
every evaluation of f (each point of a vectorized call counts) and of the gradient. A
problem is *solved* when f - f* <= 1e-8 max(1, |f*|); the figures are the evaluations of f
(finite differences included) and of the gradient made until then.

Settings:

* ``analytic``: optiframe's ``lbfgs`` (Wolfe line search, defaults) and scipy's L-BFGS-B,
  both with the analytic gradient;
* ``fd``: both with forward differences (optiframe ``gradient="forward"``, scipy's
  default ``"2-point"``), so the same n evaluations a gradient;
* ``fd-scipy-step`` (no goal; it shows what the step rule is worth): forward differences
  with scipy L-BFGS-B's own step, an absolute 1e-8 (optiframe's default is relative,
  ``sqrt(eps) max(1, |x|)``, as scipy's ``approx_derivative``'s);
* ``fd-same-step`` (no goal; it shows whether the ``fd`` gap is the solver or the
  step): forward differences in both with optiframe's relative step, given to scipy's
  L-BFGS-B as ``approx_derivative``'s default (n + 1 evaluations a point, as its own);
* ``bounded`` and ``bounded-fd``: the same on the bounded variants (one bound cutting off
  the minimizer, :meth:`optiframe.mgh.MGHProblem.box`); there f* is the lowest value any
  method found;
* for scale, with the analytic gradient: ``gd`` with the Armijo line search (lr = 1), and
  Adam with the best learning rate of the grid 1e-3, 1e-2, 1e-1, 1.

Both L-BFGS methods run without their own stopping tolerances (optiframe: gtol = 0; scipy:
ftol = gtol = 0), so that each stops where it cannot go on, not where a tolerance says;
the first-try column reports what ``of.minimize(p, p.x0)`` does with every default.

Goals: optiframe solves at least as many problems as scipy in each setting; the median of
the per-problem nfev ratios (optiframe / scipy, over the problems both solve) is at most
1.0 with analytic gradients and 1.2 with finite differences; gd + Armijo never diverges.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from typing import Any

import numpy as np

import optiframe as of
from optiframe.mgh import PROBLEMS, MGHProblem

BUDGET_PER_DIM = 2000
ADAM_LRS = (1e-3, 1e-2, 1e-1, 1.0)


class Counted(of.Objective):
    """The problem, counting evaluations until f first reaches ``target``."""

    def __init__(self, problem: MGHProblem, target: float) -> None:
        self.p, self.target, self.dim = problem, target, problem.dim
        self.nfev = self.njev = 0
        self.hit: tuple[int, int] | None = None
        self.best = math.inf

    def _seen(self, f: np.ndarray) -> None:
        f = np.atleast_1d(f)
        for i, v in enumerate(f.tolist()):
            if v < self.best:
                self.best = v
            if self.hit is None and v <= self.target:
                self.hit = (self.nfev - len(f) + i + 1, self.njev)

    def value(self, x: np.ndarray) -> float:
        self.nfev += 1
        f = self.p.value(x)
        self._seen(np.array([f]))
        return f

    def values(self, X: np.ndarray) -> np.ndarray:
        self.nfev += len(X)
        f = self.p.values(X)
        self._seen(f)
        return f

    def gradient(self, x: np.ndarray) -> np.ndarray:
        self.njev += 1
        return self.p.gradient(x)

    def gradients(self, X: np.ndarray) -> np.ndarray:
        self.njev += len(X)
        return self.p.gradients(X)


def target_of(f_star: float) -> float:
    return f_star + 1e-8 * max(1.0, abs(f_star))


def ours(p: MGHProblem, target: float, bounds: Any, optimizer: Any, gradient: str,
         **options: Any) -> tuple[Counted, Any]:
    c = Counted(p, target)
    budget = BUDGET_PER_DIM * (p.n + 1)
    r = of.minimize(c, p.x0, optimizer=optimizer, gradient=gradient, bounds=bounds,
                    max_nfev=budget, max_steps=10**7, **options)
    return c, r


def scipy_lbfgsb(p: MGHProblem, target: float, bounds: Any, analytic: bool,
                 relative_step: bool = False) -> tuple[Counted, Any]:
    """scipy's L-BFGS-B with the analytic gradient, or its own forward differences (an
    absolute step of 1e-8), or (``relative_step``) forward differences with optiframe's
    step, ``sqrt(eps) max(1, |x|)`` (``approx_derivative``'s default), n + 1
    evaluations a point as its own."""
    import scipy.optimize as so
    from scipy.optimize._numdiff import approx_derivative

    c = Counted(p, target)
    budget = BUDGET_PER_DIM * (p.n + 1)
    fun, jac = c.value, (c.gradient if analytic else None)
    if relative_step:
        def fun(x):
            f = c.value(x)
            return f, approx_derivative(c.value, x, method="2-point", f0=f)
        jac, budget = True, budget // (p.n + 1)  # (maxfun counts these calls of n + 1)
    r = so.minimize(fun, p.x0, jac=jac, method="L-BFGS-B", bounds=bounds,
                    options=dict(maxfun=budget, maxiter=10**7, ftol=0.0, gtol=0.0))
    return c, r


def cell(c: Counted) -> str:
    return f"{c.hit[0]:>6}/{c.hit[1]:<5}" if c.hit else f"{'-':>6} {'':5}"


def ratio_text(a: Counted, b: Counted) -> str:
    return f"{a.hit[0] / b.hit[0]:5.2f}" if a.hit and b.hit else "    -"


def setting(names: list[str], label: str, bounded: bool, analytic: bool,
            gradient: Any = None, relative_step: bool = False) -> dict[str, Any]:
    """One L-BFGS setting: the table and its counts (``gradient``: optiframe's, where
    not the analytic one or forward differences; ``relative_step``: scipy's forward
    differences take optiframe's step)."""
    grad = gradient or ("analytic" if analytic else "forward")
    rows, ratios = [], []
    solved = {"optiframe": 0, "scipy": 0}
    for name in names:
        p = PROBLEMS[name]()
        box = p.box() if bounded else None
        if bounded and box is None:
            continue
        f_star = p.f_star
        if bounded:  # the lowest value any method finds
            probes = [ours(p, -math.inf, box, "lbfgs", g, gtol=0)[0] for g in ("analytic",
                                                                                "forward")]
            probes += [scipy_lbfgsb(p, -math.inf, box, a)[0] for a in (True, False)]
            f_star = min(c.best for c in probes)
        target = target_of(f_star)
        t0 = time.perf_counter()
        a, _ = ours(p, target, box, "lbfgs", grad, gtol=0)
        t1 = time.perf_counter()
        b, _ = scipy_lbfgsb(p, target, box, analytic, relative_step)
        t2 = time.perf_counter()
        solved["optiframe"] += a.hit is not None
        solved["scipy"] += b.hit is not None
        if a.hit and b.hit:
            ratios.append(a.hit[0] / b.hit[0])
        rows.append(f"{name:22s} {p.n:3d} {cell(a)} {cell(b)} {ratio_text(a, b)} "
                    f"{a.best - f_star:9.2e} {b.best - f_star:9.2e} "
                    f"{(t1 - t0) * 1e3:7.0f} {(t2 - t1) * 1e3:7.0f}")
    median = statistics.median(ratios) if ratios else math.nan
    print(f"\n## {label}: nfev/njev until f - f* <= 1e-8 max(1, |f*|)")
    print(f"{'problem':22s} {'n':>3s} {'optiframe':>12s} {'scipy':>12s} {'ratio':>5s} "
          f"{'of f-f*':>9s} {'sp f-f*':>9s} {'of ms':>7s} {'sp ms':>7s}")
    print("\n".join(rows))
    print(f"solved: optiframe {solved['optiframe']}, scipy {solved['scipy']}; median nfev "
          f"ratio {median:.2f} over {len(ratios)} problems both solve")
    return {"solved": solved, "median": median}


def first_try(names: list[str]) -> None:
    """What ``of.minimize(p, x0)`` does with every default."""
    print("\n## First try: of.minimize(problem, x0) with every default")
    print(f"{'problem':22s} {'status':12s} {'nit':>5s} {'nfev':>6s} {'f - f*':>9s}  solved")
    solved = 0
    for name in names:
        p = PROBLEMS[name]()
        r = of.minimize(p, p.x0)
        ok = r.fun - p.f_star <= 1e-8 * max(1.0, abs(p.f_star))
        solved += ok
        print(f"{name:22s} {r.status.value:12s} {r.nit:5d} {r.nfev:6d} "
              f"{r.fun - p.f_star:9.2e}  {'yes' if ok else 'no'}")
    print(f"solved with the defaults: {solved} of {len(names)}")


def _better(c: Counted, best: Counted | None) -> bool:
    """c beats best: it reached the target (sooner), or neither did and c got lower."""
    if best is None:
        return True
    if c.hit and best.hit:
        return c.hit[0] < best.hit[0]
    if c.hit or best.hit:
        return c.hit is not None
    return c.best < best.best


def for_scale(names: list[str], adam: bool) -> None:
    print("\n## For scale (analytic gradient): gd + Armijo (lr = 1) and Adam, best of "
          f"lr in {ADAM_LRS}")
    print(f"{'problem':22s} {'gd+armijo':>12s} {'status':12s} {'adam':>12s} {'lr':>6s}")
    diverged = 0
    totals = {"gd": 0, "adam": 0}
    for name in names:
        p = PROBLEMS[name]()
        target = target_of(p.f_star)
        g, r = ours(p, target, None, of.GradientDescent(lr=1.0, line_search="armijo"),
                    "analytic")
        diverged += r.status in ("diverged", "nan")
        totals["gd"] += g.hit is not None
        best, best_lr = None, math.nan
        if adam:
            for lr in ADAM_LRS:
                c, _ = ours(p, target, None, of.Adam(lr=lr), "analytic")
                if _better(c, best):
                    best, best_lr = c, lr
            totals["adam"] += best is not None and best.hit is not None
        print(f"{name:22s} {cell(g)} {r.status.value:12s} "
              f"{cell(best) if best else '':>12s} {best_lr:6g}")
    print(f"solved: gd+armijo {totals['gd']}, adam {totals['adam'] if adam else '-'}; "
          f"gd+armijo diverged (or NaN) on {diverged} problems")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="four problems, no Adam grid")
    parser.add_argument("--problems", help="comma-separated problem names (default: all)")
    parser.add_argument("--settings", default="analytic,fd,fd-scipy-step,fd-same-step,"
                        "bounded,bounded-fd,first-try,scale",
                        help="comma-separated settings to run (default: all)")
    args = parser.parse_args()
    try:
        import scipy
    except ImportError:
        sys.exit("bench_mgh.py needs scipy: pip install scipy")
    names = list(PROBLEMS)
    if args.quick:
        names = ["beale", "rosenbrock", "helical-valley", "box-3d"]
    if args.problems:
        names = args.problems.split(",")
    chosen = set(args.settings.split(","))
    print(f"scipy {scipy.__version__}, optiframe {of.__version__}; budget "
          f"{BUDGET_PER_DIM} (n + 1) evaluations")
    scipy_step = of.ForwardDifference(step=1e-8, relative=False)
    results = {label: setting(names, label, bounded, analytic, gradient, relative)
               for label, bounded, analytic, gradient, relative in (
                   ("analytic", False, True, None, False), ("fd", False, False, None, False),
                   ("fd-scipy-step", False, False, scipy_step, False),
                   ("fd-same-step", False, False, None, True),
                   ("bounded", True, True, None, False),
                   ("bounded-fd", True, False, None, False))
               if label in chosen}
    if "first-try" in chosen:
        first_try(names)
    if "scale" in chosen:
        for_scale(names, adam=not args.quick)
    print("\n## Goals")
    for label, goal in (("analytic", 1.0), ("fd", 1.2), ("bounded", 1.0), ("bounded-fd", 1.2)):
        if label not in results:
            continue
        res = results[label]
        s = res["solved"]
        print(f"{label:11s} solved {s['optiframe']:2d} vs {s['scipy']:2d} "
              f"({'met' if s['optiframe'] >= s['scipy'] else 'MISSED'}); median nfev ratio "
              f"{res['median']:.2f} <= {goal} "
              f"({'met' if res['median'] <= goal else 'MISSED'})")


if __name__ == "__main__":
    main()
