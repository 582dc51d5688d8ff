"""Hostile inputs against the promises of a run (issue 20): a sweep of random runs, each
checked for what the docs promise, with the number of runs that break each promise.

Run: ``.venv/bin/python benchmarks/bench_hostile.py`` (``--runs 1000 --seed 0`` by
default; ``--quick`` for 100; ``--show`` prints each broken promise with its run;
``--dims 9,20,70,150`` for larger runs than the default 1 to 10; ``--vectorized`` for
objectives that take a stack of points in one call).

Each run draws an objective (Rosenbrock, x**4, 1e200 (x - 1)**2, 1e-200 (x - 1)**2,
|x - 0.3|, a NaN region, an exception region, a constant, exp(sum x) + |x|**2, the
sphere), a dimension (1 to 10), a start (scaled by 1 to 1e16), an optimizer (L-BFGS,
BFGS, each with strong Wolfe or Armijo, gd with Armijo or a fixed step, momentum, Adam),
a gradient (analytic, auto, forward, central, Richardson, SPSA), and maybe bounds,
``max_nfev``, ``max_steps``, a stack of 2 to 4 starts, (one start)
``raise_errors=False``, and ``xtol`` or ``ftol``. The promises checked:

* ``nfev`` never exceeds ``max_nfev`` (in a stack, no start exceeds its share), and
  equals the objective's calls (in a stack, the sum over its starts);
* ``converged`` is earned: never with SPSA; on ``xtol``/``ftol`` (drawn for a quarter of
  the runs) only where a strong Wolfe search sized the step; on a gradient norm at most
  gtol, only where the true (projected) gradient is at most ``1e-3 max(1, |f|)``
  (forward differences aside: their own norm is the user's choice, as in scipy); on
  f's precision, only where no step along the true steepest descent, of any length
  from 1e-16 to 1 times the scale of x (eight a decade), lowers f by more than 1000
  units of its rounding (forward and central differences too, whose verdict finer ones
  check; Richardson's and adaptive ones that are only noise there break it, as
  docs/faults.md says: ``--seed 122``, run 570);
* ``fun`` is f at ``x``; x0 and the starts are not modified; no exception but the
  documented ones (InvalidArgumentError before any work; the user's own, raised by a
  single start with the partial result as ``.result``);
* a stack's start ends as that start alone (x, f, status, steps, evaluations), a start
  whose f raised too (it fails in both, counting what its failed step spent).

Then ``--global-runs`` (300) global searches: the same objectives over a random box
(1 to 1e6 wide, as far out as 1e8), a strategy, a budget of 5 to 1000 evaluations, maybe
an x0, the analytic gradient and another optimizer. Promised: no exception but
InvalidArgumentError before any work (a point where f raises counts as +inf), ``nfev``
at most ``max_nfev`` and equal to the objective's calls, x in the box, ``fun`` f(x), and
``converged`` on a gradient norm only where the true projected gradient is at most
``1e-3 max(1, |f|)``.

Then ``--training-runs`` (300) minibatch training runs: least squares, logistic or
softmax regression on random data (1 to 300 samples, scale 1 to 1e3), gd, momentum,
Adam or RMSprop with a learning rate from 1e-4 to 300, a batch of 1 to 500, 1 to 5
epochs, maybe ``max_steps``, maybe a step or epoch callback that stops the run, one
model or a stack of 2 or 3. Promised: no exception but InvalidArgumentError before any
work; the data and starts not modified; ``fun`` the whole-set loss at ``x``; a run that
ends ``diverged`` or ``nan`` at its point of lowest finite batch loss (x0 where none was
finite); a stack's model as it trains alone.
"""

from __future__ import annotations

import argparse
import math
import warnings
from collections import Counter

import numpy as np

import optiframe as of


class RegionError(Exception):
    """The exception region's error."""


def _funs():
    def rosen(x):
        return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))

    def rosen_der(x):
        g = np.zeros_like(x)
        d = x[1:] - x[:-1] ** 2
        g[:-1] = -400 * x[:-1] * d - 2 * (1 - x[:-1])
        g[1:] += 200 * d
        return g

    def raiser(x):
        if x[0] < -4:
            raise RegionError("x[0] < -4")
        return float(np.sum((x + 5) ** 2))

    def raiser_g(x):
        if x[0] < -4:
            raise RegionError("x[0] < -4")
        return 2 * (x + 5)

    # (name, f, gradient, whether a converged status is checked against the gradient)
    return [
        ("rosenbrock", rosen, rosen_der, True),
        ("x**4", lambda x: float(np.sum(x**4)), lambda x: 4 * x**3, True),
        ("1e200 (x-1)**2", lambda x: 1e200 * float(np.sum((x - 1) ** 2)),
         lambda x: 2e200 * (x - 1), True),
        ("1e-200 (x-1)**2", lambda x: 1e-200 * float(np.sum((x - 1) ** 2)),
         lambda x: 2e-200 * (x - 1), True),
        ("|x - 0.3|", lambda x: float(np.sum(np.abs(x - 0.3))), lambda x: np.sign(x - 0.3),
         False),
        ("NaN region", lambda x: float(np.sum((x - 1) ** 2)) if x[0] < 3 else math.nan,
         lambda x: 2 * (x - 1) if x[0] < 3 else np.full_like(x, np.nan), True),
        ("exception region", raiser, raiser_g, True),
        ("constant", lambda x: 3.0, lambda x: np.zeros_like(x), True),
        ("exp(sum x) + |x|**2", lambda x: float(np.exp(np.sum(x)) + np.sum(x**2)),
         lambda x: np.exp(np.sum(x)) + 2 * x, True),
        ("sphere", lambda x: float(x @ x), lambda x: 2 * x, True),
    ]


FUNS = _funs()
OPTIMIZERS = [None, "bfgs", {"name": "gd", "lr": 0.01}, {"name": "gd", "lr": 10.0},
              "momentum", "adam", {"name": "lbfgs", "line_search": "armijo"},
              {"name": "gd", "line_search": "armijo"}, {"name": "lbfgs", "memory": 3},
              {"name": "bfgs", "line_search": "armijo"}]
GRADIENTS = ["auto", "forward", "central", "analytic", "spsa", "richardson"]


def _lowered_along(f, x: np.ndarray, g: np.ndarray, fun: float, bounds) -> bool:
    """Whether a step along the steepest descent, of any length from 1e-16 to 1 times
    the scale of x (eight lengths a decade), lowers f by more than 1000 units of its
    rounding: then "f cannot be lowered within its precision" was not so (a valley too
    curved for any straight step to show a decrease passes)."""
    norm = float(np.linalg.norm(g))
    if not (0.0 < norm < math.inf) or not math.isfinite(fun):
        return False
    scale = max(1.0, float(np.abs(x).max()))
    for length in np.logspace(0, -16, 129):
        y = x - (scale * length / norm) * g
        if bounds is not None:
            y = np.clip(y, bounds[0][0], bounds[0][1])
        with np.errstate(all="ignore"):
            try:
                fy = f(y)
            except Exception:
                continue
        if fy < fun - 1e3 * np.finfo(float).eps * abs(fun):
            return True
    return False


def _wolfe(optimizer) -> bool:
    """Whether the run's steps are sized by a strong Wolfe search (lbfgs and bfgs by
    default): only then may ``xtol``/``ftol`` show convergence."""
    name = optimizer if not isinstance(optimizer, dict) else optimizer["name"]
    search = optimizer.get("line_search") if isinstance(optimizer, dict) else None
    return name in (None, "lbfgs", "bfgs") and search in (None, "wolfe")


def _same(a, b) -> bool:
    fun = a.fun == b.fun or (math.isnan(a.fun) and math.isnan(b.fun))
    return (fun and np.array_equal(np.asarray(a.x), np.asarray(b.x), equal_nan=True)
            and str(a.status) == str(b.status) and (a.nit, a.nfev) == (b.nit, b.nfev))


def _miscounted(nfev: int, calls: int, vectorized_stack: bool = False) -> list[str]:
    """``nfev`` against the objective's calls (every point evaluated counts). A
    vectorized objective's failed call for a whole stack is not counted (documented):
    there ``nfev`` below the calls is that."""
    if nfev == calls:
        return []
    if vectorized_stack and nfev < calls:
        return ["nfev below the calls: a vectorized stack's failed call (documented)"]
    return [f"BROKEN: nfev {nfev} {'above' if nfev > calls else 'below'} the objective's "
            f"{calls} calls"]


#: ``--vectorized``: each run's objective takes a stack of points in one call
VECTORIZED = False

#: the dimensions a run draws from (``--dims``: numpy and Python floats round sums of
#: more than 8 squares differently, and norms of more than 64 take numpy's path)
DIMS = [1, 2, 3, 5, 10]


def one_run(rng: np.random.Generator) -> tuple[list[str], str]:
    """One random run: the promises it broke, and what it was."""
    name, f, g, checked = FUNS[rng.integers(len(FUNS))]
    n = int(rng.choice(DIMS))
    x0 = rng.normal(size=n) * float(rng.choice([1.0, 1.0, 10.0, 1e3, 1e8, 1e16, 1e-8]))
    optimizer = OPTIMIZERS[rng.integers(len(OPTIMIZERS))]
    gradient = GRADIENTS[rng.integers(len(GRADIENTS))]
    kw: dict = {"optimizer": optimizer, "seed": int(rng.integers(1000))}
    if rng.random() < 0.3:
        lo, hi = float(rng.uniform(-3, 0)), float(rng.uniform(0.5, 3))
        kw["bounds"] = [(lo, hi)] * n
        x0 = np.clip(x0, lo, hi)
    if rng.random() < 0.5:
        kw["max_nfev"] = int(rng.integers(1, 400))
    if rng.random() < 0.3:
        kw["max_steps"] = int(rng.integers(0, 60))
    K = int(rng.integers(2, 5)) if rng.random() < 0.3 else 1
    if gradient == "analytic":
        kw["jac"] = g
    else:
        kw["gradient"] = gradient
    what = (f"{name}, n={n}, |x0|~{np.abs(x0).max():.0e}, optimizer={optimizer}, "
            f"gradient={gradient}, K={K}, "
            f"{ {k: v for k, v in kw.items() if k in ('max_nfev', 'max_steps')} }"
            f"{', bounds' if 'bounds' in kw else ''}")
    starts = None
    if K > 1:
        starts = np.vstack([x0] + [x0 + rng.normal(size=n) for _ in range(K - 1)])
        if "bounds" in kw:
            starts = np.clip(starts, kw["bounds"][0][0], kw["bounds"][0][1])
    if K == 1 and rng.random() < 0.3:  # (drawn last: the earlier draws are as before)
        kw["raise_errors"] = False  # a start whose f raises fails, and searches go on
        what += ", raise_errors=False"
    if rng.random() < 0.25:  # a tolerance of the user's (drawn after all the others)
        tol = str(rng.choice(["xtol", "ftol"]))
        kw[tol] = float(10.0 ** rng.uniform(-12, -1))
        what += f", {tol}={kw[tol]:.1e}"
    given = (x0.copy(), None if starts is None else starts.copy())
    calls = [0]

    def counted(x):
        calls[0] += 1
        return f(x)

    def counted_stack(X):
        calls[0] += len(X)  # every point it is given counts, as nfev counts them
        return np.array([f(x) for x in X])

    objective: object = counted
    run_kw = dict(kw)
    if VECTORIZED:  # one call for a stack of points
        objective = of.FunctionObjective.from_callable(
            counted_stack, gradient=run_kw.pop("jac", None), vectorized=True)
    try:
        r = (of.minimize(objective, x0, **run_kw) if K == 1 else
             of.minimize(objective, starts=starts, **run_kw))
    except of.InvalidArgumentError:
        return ["refused (InvalidArgumentError before any work)"], what
    except RegionError as exc:
        if K == 1 and hasattr(exc, "result"):
            return ["the user's exception raised, with .result",
                    *_miscounted(exc.result.nfev, calls[0])], what
        return ["an undocumented exception"], what
    except Exception:
        return ["an undocumented exception"], what
    broken = _miscounted(r.nfev if K == 1 else sum(o.nfev for o in r.starts), calls[0],
                         VECTORIZED and K > 1)
    if not np.array_equal(given[0], x0) or (starts is not None
                                            and not np.array_equal(given[1], starts)):
        broken.append("BROKEN: the input was modified")
    budget = kw.get("max_nfev")
    outcomes = [r] if K == 1 else list(r.starts)
    if budget is not None and any(o.nfev > (budget if K == 1 else budget // K)
                                  for o in outcomes):
        broken.append("BROKEN: nfev above max_nfev (or a start's share)")
    for o in outcomes:
        x = np.asarray(o.x, dtype=float)
        if str(o.status) == "converged":
            if ("xtol" in o.message or "ftol" in o.message) and not _wolfe(optimizer):
                broken.append("BROKEN: converged on xtol/ftol with a step the learning "
                              "rate sized")
            if gradient == "spsa":
                broken.append("BROKEN: converged on a stochastic gradient")
            elif checked:
                with np.errstate(all="ignore"):
                    gx = np.asarray(g(x), dtype=float)
                if "bounds" in kw:
                    lo, hi = kw["bounds"][0]
                    gx = np.where(((x <= lo) & (gx > 0)) | ((x >= hi) & (gx < 0)), 0.0, gx)
                if "within its precision" in o.message:  # f shown not to go lower
                    if _lowered_along(f, x, gx, o.fun, kw.get("bounds")):
                        broken.append("BROKEN: converged on f's precision where a step "
                                      "along -g lowers f")
                elif ("gradient norm" in o.message and gradient != "forward"
                      and not np.abs(gx).max() <= 1e-3 * max(1.0, abs(o.fun))):
                    # a gradient norm at most gtol, measured (forward differences' norm
                    # is the user's choice: scipy's too, it errs by sqrt(eps) |f''|)
                    broken.append("BROKEN: converged on a gradient norm the true one "
                                  "exceeds 1e-3 max(1, |f|)")
        if str(o.status) not in ("nan", "diverged", "failed"):
            with np.errstate(all="ignore"):
                fx = f(x)
            if not (fx == o.fun or (math.isnan(fx) and math.isnan(o.fun))):
                broken.append("BROKEN: fun is not f(x)")
    if K > 1 and gradient != "spsa" and (budget is None or budget // K >= 1):
        alone_kw = dict(kw, raise_errors=False)
        if budget is not None:
            alone_kw["max_nfev"] = budget // K
        alone_f: object = f
        if VECTORIZED:  # the same kind of objective (its failed calls count whole)
            alone_f = of.FunctionObjective.from_callable(
                lambda X: np.array([f(x) for x in X]), gradient=alone_kw.pop("jac", None),
                vectorized=True)
        for k, o in enumerate(outcomes):
            alone = of.minimize(alone_f, starts[k], **alone_kw)
            if not _same(o, alone):
                broken.append("BROKEN: a stack's start differs from the start alone")
    return broken or ["kept every promise"], what


STRATEGIES = ["tiktak", "mlsl", "restarts", "basinhopping"]


def one_global(rng: np.random.Generator) -> tuple[list[str], str]:
    """One random global search over a box: the promises it broke, and what it was."""
    name, f, g, checked = FUNS[rng.integers(len(FUNS))]
    n = int(rng.choice([1, 2, 3, 5]))
    calls = [0]

    def counted(x):
        calls[0] += 1
        return f(x)

    lo = float(rng.choice([-10.0, -6.0, -1.0, 0.0, 1e8]))
    width = float(rng.choice([1.0, 10.0, 1e6]))
    box = [(lo, lo + width)] * n
    kw: dict = {"bounds": box, "strategy": STRATEGIES[rng.integers(len(STRATEGIES))],
                "seed": int(rng.integers(1000)),
                "max_nfev": int(rng.choice([5, 20, 50, 200, 1000]))}
    if rng.random() < 0.5:
        kw["jac"] = g
    if rng.random() < 0.2:
        kw["optimizer"] = ["bfgs", "adam", {"name": "gd", "lr": 0.01}][rng.integers(3)]
    x0 = rng.uniform(lo, lo + width, n) if rng.random() < 0.3 else None
    given = "given" if x0 is not None else "none"
    what = (f"{name}, n={n}, box [{lo:g}, {lo + width:g}], x0 {given}, {kw['strategy']}, "
            f"max_nfev={kw['max_nfev']}, {'analytic' if 'jac' in kw else 'differences'}, "
            f"{kw.get('optimizer')}")
    try:
        r = of.minimize(counted, x0, **kw)
    except of.InvalidArgumentError:
        return ["refused (InvalidArgumentError before any work)"], what
    except Exception:
        return ["BROKEN: an exception out of a global search"], what
    broken = []
    if r.nfev > kw["max_nfev"]:
        broken.append("BROKEN: nfev above max_nfev")
    if calls[0] != r.nfev:
        broken.append("BROKEN: the objective called more often than nfev says")
    x = np.asarray(r.x, dtype=float)
    if not ((x >= lo) & (x <= lo + width)).all():
        broken.append("BROKEN: x outside the box")
    if str(r.status) not in ("nan", "diverged", "failed"):
        with np.errstate(all="ignore"):
            fx = f(x)
        if not (fx == r.fun or (math.isnan(fx) and math.isnan(r.fun))):
            broken.append("BROKEN: fun is not f(x)")
    if (str(r.status) == "converged" and checked and "jac" in kw
            and "gradient norm" in r.starts[r.best].message):
        with np.errstate(all="ignore"):
            gx = np.asarray(g(x), dtype=float)
        gx = np.where(((x <= lo) & (gx > 0)) | ((x >= lo + width) & (gx < 0)), 0.0, gx)
        if not np.abs(gx).max() <= 1e-3 * max(1.0, abs(r.fun)):
            broken.append("BROKEN: converged on a gradient norm the true one exceeds "
                          "1e-3 max(1, |f|)")
    return broken or ["kept every promise"], what


TRAINING_OPTIMIZERS = ["gd", "momentum", "adam", "rmsprop"]


def _data(rng: np.random.Generator):
    """A random data objective: least squares, logistic or softmax regression, on
    1 to 300 samples of 1 to 5 features at a scale of 1 to 1e3."""
    m, d = int(rng.integers(1, 301)), int(rng.integers(1, 6))
    X = rng.normal(size=(m, d)) * float(rng.choice([1.0, 1.0, 10.0, 1e3]))
    kind = ["least squares", "logistic", "softmax"][rng.integers(3)]
    if kind == "least squares":
        return kind, of.LeastSquares, X, X @ rng.normal(size=d) + rng.normal(size=m)
    classes = 2 if kind == "logistic" else 3
    y = rng.integers(classes, size=m)
    return kind, of.LogisticRegression if kind == "logistic" else of.SoftmaxRegression, X, y


def one_training(rng: np.random.Generator) -> tuple[list[str], str]:
    """One random training run (minibatches): the promises it broke, and what it was.
    Promised: no exception but InvalidArgumentError before any work; the data, x0 and
    the starts not modified; ``fun`` the loss over the whole training set at ``x``;
    ``completed`` only where every epoch ran; a run that ends ``diverged`` or ``nan``
    at a recorded point of finite batch loss (or x0); a stack's model as it trains
    alone."""
    kind, model, X, y = _data(rng)
    obj = model(X, y)
    name = TRAINING_OPTIMIZERS[rng.integers(len(TRAINING_OPTIMIZERS))]
    lr = float(10.0 ** rng.uniform(-4, 2.5))
    kw: dict = {"optimizer": {"name": name, "lr": lr}, "seed": int(rng.integers(1000)),
                "batch_size": int(rng.choice([1, 4, 16, 64, 500])),
                "epochs": int(rng.integers(1, 6)), "record_x": True}
    if rng.random() < 0.3:
        kw["max_steps"] = int(rng.integers(0, 40))
    stop_step, stop_epoch = int(rng.integers(0, 30)), int(rng.integers(1, 4))
    if rng.random() < 0.2:  # a step callback stops every start
        def stop_at_step(info, k=stop_step):
            if info.step == k:
                raise StopIteration

        kw["callbacks"] = [stop_at_step]
    if rng.random() < 0.2:  # an epoch callback stops every start at its epoch
        def stop_at_epoch(info, e=stop_epoch):
            if info.epoch == e:
                raise StopIteration

        kw["epoch_callbacks"] = [stop_at_epoch]
    K = int(rng.integers(2, 4)) if rng.random() < 0.3 else 1
    x0 = rng.normal(size=obj.dim) * float(rng.choice([0.0, 1.0, 10.0, 1e3]))
    starts = None if K == 1 else np.vstack([x0] + [rng.normal(size=obj.dim)
                                                    for _ in range(K - 1)])
    what = (f"{kind}, {X.shape}, {name} lr={lr:.2g}, batch {kw['batch_size']}, "
            f"{kw['epochs']} epochs, K={K}, |x0|~{np.abs(x0).max():.0e}"
            f"{', max_steps=' + str(kw['max_steps']) if 'max_steps' in kw else ''}"
            f"{f', stopped at step {stop_step}' if 'callbacks' in kw else ''}"
            f"{f', stopped after epoch {stop_epoch}' if 'epoch_callbacks' in kw else ''}")
    given = (X.copy(), y.copy(), x0.copy(), None if starts is None else starts.copy())
    try:
        r = (of.minimize(obj, x0, **kw) if K == 1 else of.minimize(obj, starts=starts, **kw))
    except of.InvalidArgumentError:
        return ["refused (InvalidArgumentError before any work)"], what
    except Exception as exc:
        return [f"BROKEN: an undocumented exception ({type(exc).__name__})"], what
    broken = []
    if not (np.array_equal(given[0], X) and np.array_equal(given[1], y)
            and np.array_equal(given[2], x0) and (starts is None
                                                   or np.array_equal(given[3], starts))):
        broken.append("BROKEN: the data or the start was modified")
    outcomes = [r] if K == 1 else list(r.starts)
    for o in outcomes:
        x = np.asarray(o.x, dtype=float)
        status = str(o.status)
        if status not in ("failed",):
            with np.errstate(all="ignore"):
                fx = obj.value(x)
            if not (fx == o.fun or (math.isnan(fx) and math.isnan(o.fun))):
                broken.append("BROKEN: fun is not the whole-set loss at x")
        if status == "completed" and "max_steps" in kw and o.nit > kw["max_steps"]:
            broken.append("BROKEN: more steps than max_steps")
        if status in ("diverged", "nan") and K == 1:  # at its lowest finite batch loss
            losses = np.asarray(r.history.fun, dtype=float)
            finite = np.flatnonzero(np.isfinite(losses))
            best = finite[np.argmin(losses[finite])] if len(finite) else None
            if not np.array_equal(x, x0 if best is None else r.history.x[best]):
                broken.append("BROKEN: a diverged run ends elsewhere than at its lowest "
                              "batch loss")
    if K > 1:
        for k, o in enumerate(outcomes):
            alone = of.minimize(obj, starts[k], **kw)
            if not _same(o, alone):
                broken.append("BROKEN: a stack's model differs from the model alone")
    return broken or [f"kept every promise ({'stack, ' if K > 1 else ''}{r.status})"], what


def _tally(label: str, runs: int, one, seed: int, show: bool) -> None:
    tally: Counter = Counter()
    for i in range(runs):
        broken, what = one(np.random.default_rng([seed, i]))
        for b in set(broken):
            tally[b] += 1
            if show and b.startswith("BROKEN"):
                print(f"run {i}: {b}: {what}")
    print(f"{runs} hostile {label} (seed {seed}); runs by outcome:")
    for b, k in sorted(tally.items(), key=lambda kv: (not kv[0].startswith("BROKEN"), -kv[1])):
        print(f"  {k:5d}  {b}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--global-runs", type=int, default=300)
    parser.add_argument("--training-runs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--show", action="store_true")
    parser.add_argument("--dims", default="1,2,3,5,10",
                        help="the dimensions a run draws from (e.g. 9,20,70,150)")
    parser.add_argument("--vectorized", action="store_true",
                        help="objectives that take a stack of points in one call")
    args = parser.parse_args()
    DIMS[:] = [int(d) for d in args.dims.split(",")]
    global VECTORIZED
    VECTORIZED = args.vectorized
    runs = 100 if args.quick else args.runs
    warnings.simplefilter("ignore")
    _tally("runs", runs, one_run, args.seed, args.show)
    _tally("global searches", 30 if args.quick else args.global_runs, one_global, args.seed,
           args.show)
    _tally("training runs", 30 if args.quick else args.training_runs, one_training,
           args.seed, args.show)
    print("goal: no BROKEN line")


if __name__ == "__main__":
    main()
