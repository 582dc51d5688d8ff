"""What users run by default: optiframe's L-BFGS against scipy's L-BFGS-B, wall time per
iteration (issue 20).

Run: ``.venv/bin/python benchmarks/bench_lbfgs.py`` (``--quick`` for a smoke run, ``--bounded``
for both with bounds on every coordinate, ``--stack K`` for K starts as one stacked run
against scipy over the starts one by one, ``--two-loop`` for a stack's two-loop recursion
alone against it written one sum at a time).

Both minimize the extended Rosenbrock function with its analytic gradient from the
standard start (-1.2, 1, -1.2, 1, ...), n = 2, 10, 100 and 1000: optiframe as a user
writes it, ``of.minimize(rosen, x0, jac=rosen_der)`` (L-BFGS, memory 10, strong Wolfe),
and ``scipy.optimize.minimize(rosen, x0, jac=rosen_der, method="L-BFGS-B")``. Each run is
timed whole and divided by its own iteration count; the two alternate round after round
and the table gives the median of per-round ratios (and the ratio of best times).
Goal: at most 1.5x scipy's time per iteration at every n.

A third contender shows what the goal asks of Python: :func:`hand_lbfgs`, the least a
numpy L-BFGS can do per iteration (the classic two-loop recursion over lists of vectors,
Armijo backtracking from a unit step, no history, no stop rules, no checks), timed the
same way. Its ratio to scipy is the floor of any Python loop around numpy calls.

``--instructions`` counts instead (valgrind's callgrind, one BLAS thread,
``PYTHONHASHSEED=0``, one child process per count): the instructions of an iteration,
four runs less one divided by three and by the run's iterations (so a run's fixed cost
is spread over its iterations, as in the wall-time table), and of a run of one
iteration (``max_steps=1``, scipy's ``maxiter=1``), for n = 2 and 10. Unlike wall time
on a shared machine, two counts of the same tree agree to a fraction of a percent.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from _timing import callgrind, table  # noqa: E402

import optiframe as of  # noqa: E402


def rosen(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def rosen_der(x: np.ndarray) -> np.ndarray:
    g = np.zeros_like(x)
    d = x[1:] - x[:-1] ** 2
    g[:-1] = -400.0 * x[:-1] * d - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * d
    return g


def start(n: int) -> np.ndarray:
    x0 = np.ones(n)
    x0[::2] = -1.2
    return x0


class _Ran:
    """What a run of :func:`hand_lbfgs` gives: its iterations and final f."""

    def __init__(self, nit: int, fun: float) -> None:
        self.nit, self.fun = nit, fun


def hand_lbfgs(x0: np.ndarray, memory: int = 10, gtol: float = 1e-5,
               max_iter: int = 15000) -> _Ran:
    """A bare numpy L-BFGS: the two-loop recursion on the stored pairs (scaled by the
    newest pair's ``s.y / y.y``; without a pair a first step of length 1), Armijo
    backtracking from the unit step, a pair kept where ``s.y > 0``; it stops where
    ``max |g| <= gtol`` (scipy's pgtol)."""
    x, f, g = x0.copy(), rosen(x0), rosen_der(x0)
    S: list[np.ndarray] = []
    Y: list[np.ndarray] = []
    R: list[float] = []
    nit = 0
    while nit < max_iter and np.abs(g).max() > gtol:
        q, alphas = g.copy(), []
        for s, y, r in zip(reversed(S), reversed(Y), reversed(R), strict=True):
            a = r * (s @ q)
            alphas.append(a)
            q -= a * y
        q *= (S[-1] @ Y[-1]) / (Y[-1] @ Y[-1]) if S else 1.0 / max(1.0, np.linalg.norm(g))
        for s, y, r, a in zip(S, Y, R, reversed(alphas), strict=True):
            q += (a - r * (y @ q)) * s
        d, t = -q, 1.0
        slope = g @ d
        while True:
            x_new = x + t * d
            f_new = rosen(x_new)
            if f_new <= f + 1e-4 * t * slope or t < 1e-20:
                break
            t *= 0.5
        g_new = rosen_der(x_new)
        s, y = x_new - x, g_new - g
        sy = s @ y
        if sy > 1e-10:
            S.append(s)
            Y.append(y)
            R.append(1.0 / sy)
            if len(S) > memory:
                del S[0], Y[0], R[0]
        x, f, g = x_new, f_new, g_new
        nit += 1
    return _Ran(nit, f)


_CHILD = """
import sys
sys.path.insert(0, {here!r})
from bench_lbfgs import rosen, rosen_der, start
x0 = start({n})
if {ours}:
    import optiframe as of
    run = lambda: of.minimize(rosen, x0, jac=rosen_der, max_steps={steps})
else:
    from scipy.optimize import minimize
    run = lambda: minimize(rosen, x0, jac=rosen_der, method="L-BFGS-B",
                           options=dict(maxiter={steps}))
for _ in range({runs}):
    r = run()
print(r.nit)
"""


def instructions(n: int, ours: bool, runs: int, steps: int) -> tuple[int, int] | None:
    """Instructions callgrind counts in a child making ``runs`` runs, and their nit."""
    counted = callgrind(_CHILD.format(here=str(HERE), n=n, ours=ours, runs=runs, steps=steps))
    return None if counted is None else (counted[0], int(counted[1].split()[-1]))


def count_instructions() -> None:
    """The ``--instructions`` table: per iteration, and a run of one iteration."""
    rows = []
    for n in (2, 10):
        cells: list[str] = [str(n)]
        figures = []
        for ours in (True, False):
            one, many = instructions(n, ours, 1, 15000), instructions(n, ours, 4, 15000)
            short, shorter = instructions(n, ours, 2, 1), instructions(n, ours, 12, 1)
            if None in (one, many, short, shorter):
                print("valgrind's callgrind is needed (apt install valgrind)")
                return
            per_it = (many[0] - one[0]) / 3 / many[1]
            per_run = (shorter[0] - short[0]) / 10
            figures.append(per_it)
            cells += [f"{per_it / 1e3:.1f}k ({many[1]} it)", f"{per_run / 1e3:.0f}k"]
        rows.append((*cells, f"{figures[0] / figures[1]:.2f}x"))
    print("L-BFGS instructions (callgrind), extended Rosenbrock, analytic gradient")
    print(table(["n", "ours an iteration", "ours a run of 1 it", "scipy an iteration",
                 "scipy a run of 1 it", "ours/scipy an iteration"], rows))


def per_iteration(run, x0: np.ndarray) -> tuple[float, int, float]:
    import time

    t = time.perf_counter()
    r = run(x0)
    elapsed = time.perf_counter() - t
    return elapsed / max(1, r.nit), r.nit, float(r.fun)


def two_loop_by_sums(G: np.ndarray, S: np.ndarray, Y: np.ndarray, rho: np.ndarray,
                     head: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The stack's two-loop recursion written one sum at a time (each row's numbers
    gathered as (K, c), a masked numpy operation per term): what optiframe ran before
    2026-12-07, kept as the reference its loops must match bit for bit."""
    from optiframe.optimizers import quasinewton as q

    K, m = rho.shape
    c = int(count.max())
    order = (head[:, None] - 1 - np.arange(c)) % m
    rows = np.arange(K)[:, None]
    valid = np.arange(c) < count[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        SG, SY = q._products(G, S, Y)
        sg, r = SG[rows, order], rho[rows, order]
        sy = SY[rows[:, :, None], order[:, :, None], order[:, None, :]]
        alpha = np.zeros((K, c))
        for i in range(c):
            t = sg[:, i]
            for h in range(i):
                t = t - alpha[:, h] * sy[:, i, h]
            alpha[:, i] = np.where(valid[:, i], r[:, i] * t, 0.0)
        qv, gamma = q._scaled_q(G, Y, q._scatter(alpha, order, m), S, rows[:, 0], head, count)
        yq = np.matmul(Y, qv[:, :, None])[:, :, 0][rows, order]
        coef = np.zeros((K, c))
        for i in reversed(range(c)):
            t = gamma * yq[:, i]
            for h in reversed(range(i + 1, c)):
                t = np.where(valid[:, h], t + coef[:, h] * sy[:, h, i], t)
            coef[:, i] = np.where(valid[:, i], alpha[:, i] - r[:, i] * t, 0.0)
        return gamma[:, None] * qv + np.matmul(q._scatter(coef, order, m)[:, None, :], S)[:, 0]


def two_loop_table() -> None:
    """The ``--two-loop`` table: the stack's recursion (memory 10, every pair kept)
    against :func:`two_loop_by_sums`, microseconds a call (best of timeit repeats), the
    bits compared."""
    import timeit

    from optiframe.optimizers import quasinewton as q

    rng = np.random.default_rng(1)
    rows = []
    for K, n, mixed, one_head in ((2, 2, False, True), (20, 10, False, True),
                                  (20, 10, True, False), (1000, 2, False, True),
                                  (1000, 2, False, False), (1000, 2, True, False),
                                  (100, 100, False, True)):
        m = 10
        S = rng.normal(size=(K, m, n))
        Y = S + 0.1 * rng.normal(size=(K, m, n))
        rho = 1.0 / np.einsum("kmn,kmn->km", S, Y)
        G = rng.normal(size=(K, n))
        head = np.full(K, 4) if one_head else rng.integers(0, m, K)
        count = rng.integers(1, m + 1, K) if mixed else np.full(K, m)
        args = (G, S, Y, rho, head, count)
        with np.errstate(all="ignore"):
            same = np.array_equal(q._two_loop(*args), two_loop_by_sums(*args))
            ours, sums = (min(timeit.repeat(lambda f=f, a=args: f(*a), number=100, repeat=7)) / 100
                          for f in (q._two_loop, two_loop_by_sums))
        rows.append((K, n, "some rows fewer" if mixed else "all 10",
                     "one slot" if one_head else "differ", f"{sums * 1e6:.0f}",
                     f"{ours * 1e6:.0f}", f"{ours / sums:.2f}x", "yes" if same else "NO"))
    print("A stack's two-loop recursion, us a call: optiframe's against the recursion "
          "written one sum at a time")
    print(table(["K", "n", "pairs", "newest pairs", "one sum at a time", "optiframe",
                 "ratio", "same bits"], rows))


def stack_table(rounds: int, K: int) -> None:
    """The ``--stack K`` table: K starts as one stacked run (optiframe's built-in,
    vectorized Rosenbrock with its gradient) against scipy's L-BFGS-B over the same
    starts one after another, wall time per start-iteration (all the time over all the
    iterations), median of per-round ratios over interleaved rounds."""
    import time

    from scipy.optimize import minimize as scipy_minimize

    rows = []
    for n in (2, 10, 100):
        X0 = np.random.default_rng(n).uniform(-2.0, 2.0, (K, n))

        def ours(X0: np.ndarray = X0) -> int:
            return int(np.sum(of.minimize("rosenbrock", starts=X0).finished.nit))

        def theirs(X0: np.ndarray = X0) -> int:
            return sum(scipy_minimize(rosen, x0, jac=rosen_der, method="L-BFGS-B").nit
                       for x0 in X0)

        ours(), theirs()  # warm up
        times: dict[str, list[float]] = {"ours": [], "scipy": []}
        nits = {}
        for _ in range(rounds):
            for name, run in (("ours", ours), ("scipy", theirs)):
                t = time.perf_counter()
                nits[name] = run()
                times[name].append((time.perf_counter() - t) / nits[name])
        ratios = [a / b for a, b in zip(times["ours"], times["scipy"], strict=True)]
        rows.append((n, nits["ours"], nits["scipy"], f"{min(times['ours']) * 1e6:.1f}",
                     f"{min(times['scipy']) * 1e6:.1f}", f"{float(np.median(ratios)):.2f}x"))
    print(f"L-BFGS on {K} starts of extended Rosenbrock (uniform in [-2, 2]^n), analytic "
          f"gradient, per start-iteration ({rounds} interleaved rounds): optiframe's stack "
          "against scipy's L-BFGS-B looped over the starts")
    print(table(["n", "iterations ours", "iterations scipy", "us ours", "us scipy",
                 "ours/scipy median"], rows))


def main() -> None:
    from scipy.optimize import minimize as scipy_minimize

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--bounded", action="store_true",
                        help="both with bounds (-2, 0.9) on every coordinate: about 9 in 10 "
                        "end at 0.9 (scipy's L-BFGS-B against optiframe's projected "
                        "L-BFGS; the hand loop has no bounds and is left out)")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions with callgrind instead (n = 2 and 10)")
    parser.add_argument("--two-loop", action="store_true",
                        help="a stack's two-loop recursion alone against it written one "
                        "sum at a time instead")
    parser.add_argument("--stack", type=int, metavar="K",
                        help="K starts as one stacked run against scipy over the starts "
                        "one by one instead (n = 2, 10, 100)")
    args = parser.parse_args()
    if args.instructions:
        count_instructions()
        return
    rounds = 3 if args.quick else 15
    if args.stack:
        stack_table(rounds // 3, args.stack)
        return
    if args.two_loop:
        two_loop_table()
        return
    bounds: dict = {}

    def ours(x0):
        return of.minimize(rosen, x0, jac=rosen_der, **bounds)

    def theirs(x0):
        return scipy_minimize(rosen, x0, jac=rosen_der, method="L-BFGS-B", **bounds)

    rows = []
    for n in (2, 10, 100, 1000):
        x0 = start(n)
        if args.bounded:
            bounds["bounds"] = [(-2.0, 0.9)] * n
        ours(x0), theirs(x0), hand_lbfgs(x0)  # warm up
        mine, peer, bare, ratios, floor = [], [], [], [], []
        for _ in range(rounds):
            a, nit_a, f_a = per_iteration(ours, x0)
            b, nit_b, f_b = per_iteration(theirs, x0)
            c, nit_c, _ = (math.nan, 0, 0) if args.bounded else per_iteration(hand_lbfgs, x0)
            mine.append(a)
            peer.append(b)
            bare.append(c)
            ratios.append(a / b)
            floor.append(c / b)
        rows.append((n, f"{nit_a}", f"{nit_b}", f"{nit_c}" if nit_c else "-",
                     f"{min(mine) * 1e6:.0f}",
                     f"{min(peer) * 1e6:.0f}", "-" if args.bounded else f"{min(bare) * 1e6:.0f}",
                     f"{float(np.median(ratios)):.2f}x", f"{min(mine) / min(peer):.2f}x",
                     "-" if args.bounded else f"{float(np.median(floor)):.2f}x",
                     f"{f_a:.1e} / {f_b:.1e}"))
    print("L-BFGS per iteration, extended Rosenbrock, analytic gradient "
          f"({rounds} interleaved rounds{', bounds (-2, 0.9)' if args.bounded else ''})")
    print(table(["n", "nit ours", "nit scipy", "nit hand", "us/it ours", "us/it scipy",
                 "us/it hand", "ours/scipy median", "ours/scipy best", "hand/scipy median",
                 "final f ours / scipy"], rows))
    print("goal: ours/scipy <= 1.5x at every n; hand/scipy is a bare numpy loop's floor")


if __name__ == "__main__":
    main()
