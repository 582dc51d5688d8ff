"""How far a dedicated single-start L-BFGS loop would take the per-iteration goal (issue 20).

Run: ``.venv/bin/python benchmarks/lbfgs_floor.py`` (needs scipy; ``--quick`` for 3 rounds).

An experiment, not a feature: it swaps optiframe's step loop, for the length of the
measurement, for the least loop that can drive a single start's L-BFGS with a strong
Wolfe search (the gradient, one history row, the optimizer's step, the first trial taken
at once or the search, the commit, the gtol test; no observers, stop rules, budgets,
checkpoints or clock), built from optiframe's own pieces: ``LBFGS.step``,
``trial.first_accepted`` and ``line_step.line_step``. Both loops give the same iterates
(the script checks ``nit`` and ``fun``). The columns are time per iteration against
scipy's L-BFGS-B, median of per-round ratios over interleaved rounds, on extended
Rosenbrock with its analytic gradient (the runs of ``bench_lbfgs.py``).

What it shows: the loop around the pieces costs little; the pieces themselves (the
two-loop recursion and the step's state, the first trial's bookkeeping, the searches
that go on past it) hold most of the gap to scipy's compiled loop, so a second loop
would not reach the goal of 1.5x.

A second table times the largest piece alone: ``LBFGS.step`` of one start with a full
memory (10 pairs, the pair of the call accepted), and the two-loop recursion within it,
microseconds a call (best of timeit repeats), against scipy's whole iteration in the
same run (the user's f and g included).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import timeit
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import table
from bench_lbfgs import rosen, rosen_der, start

import optiframe as of
from optiframe import line_step, loop, trial
from optiframe.optimizers import quasinewton
from optiframe.status import Status


def least_loop(s: Any, p: Any, w: Any) -> None:
    """A single start's L-BFGS with the least bookkeeping (see the module docstring)."""
    extend, clock, t0 = w.extend, w.clock, w.t0
    opt_step, norm, dist, gtol, k_max = p.step, p.norm, p.dist, p.gtol, p.max_steps
    X, F, opt, k, NF, NJ, SN, A = s.X, s.F, s.opt, s.k, s.nfev, s.njev, s.SN, s.step_size
    G = p.gradient_at(X, None, F, None)
    NF, NJ = NF + p.fev, NJ + p.jev
    while True:
        GN = norm(G)
        extend((k, F, GN, SN, NF, clock() - t0, A))
        if not gtol < GN or k >= k_max:
            break
        X_prop, opt_new = opt_step(X, G, opt)
        t = trial.first_accepted(p, X, F, G, X_prop, A, None, None)
        if type(t) is not trial.Trial:
            t = line_step.line_step(p, X, F, G, G, X_prop, A, None, None, NF, None, SN, 0)
            if not t.ok:
                break
        if t.resets:
            opt_new = line_step.restarted(p, opt_new, X, t.resets)
        SN, X, F, G, A, opt = dist(t.X, X), t.X, t.F, t.G, t.A, opt_new
        NF, NJ, k = NF + t.nfev, NJ + t.njev, k + 1
    s.put(k, X, F, SN, NF, NJ, opt, X, F, s.sched, None, s.bad, A, G)
    s.finish_all(Status.CONVERGED, "the least loop")


def _ratio(per_it: dict[str, list[float]], name: str) -> str:
    """The median of the per-round ratios of ``name`` to scipy."""
    pairs = zip(per_it[name], per_it["scipy"], strict=True)
    return f"{statistics.median(a / b for a, b in pairs):.2f}x"


def step_costs(n: int) -> tuple[float, float]:
    """Microseconds a call of ``LBFGS.step`` (one start, memory full, its pair accepted)
    and of the two-loop recursion in it, on a convex quadratic's iterates."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n))
    A = A @ A.T + n * np.eye(n)
    opt = of.LBFGS()
    x = rng.standard_normal(n)
    state = opt.init(x)
    for _ in range(15):  # damped steps: every pair has positive curvature
        x_new, state = opt.step(x, A @ x, state)
        x = x + 0.1 * (x_new - x)
    g = A @ x
    G = g.reshape(1, -1)
    # the recursion as the step calls it: on the memory with this call's pair, its scale
    # from that pair's dots
    _, new = opt.step(x, g, state)
    gamma = quasinewton._pair_one(x.reshape(1, -1), G, state.x_prev, state.g_prev)[4]
    h, c = int(new.head[0]), int(new.count[0])
    assert c == opt.memory and gamma is not None

    def best(call: Any) -> float:
        number = 2000
        return min(timeit.repeat(call, number=number, repeat=9)) / number * 1e6

    return (best(lambda: opt.step(x, g, state)),
            best(lambda: quasinewton._two_loop_one(G, new.S, new.Y, new.rho, h, c, gamma)))


def main() -> None:
    from scipy.optimize import minimize as scipy_minimize

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    rounds = 3 if parser.parse_args().quick else 9
    general = loop._steps

    def ours(x0: Any) -> Any:
        return of.minimize(rosen, x0, jac=rosen_der)

    def theirs(x0: Any) -> Any:
        return scipy_minimize(rosen, x0, jac=rosen_der, method="L-BFGS-B")

    contenders = {"optiframe": (ours, general), "least loop": (ours, least_loop),
                  "scipy": (theirs, general)}
    rows, pieces = [], []
    try:
        for n in (2, 10, 100):
            x0 = start(n)
            per_it: dict[str, list[float]] = {name: [] for name in contenders}
            ran: dict[str, tuple[int, float]] = {}
            for _ in range(rounds):
                for name, (run, steps) in contenders.items():
                    loop._steps = steps
                    t = time.perf_counter()
                    r = run(x0)
                    per_it[name].append((time.perf_counter() - t) / r.nit)
                    ran[name] = (r.nit, float(r.fun))
            assert ran["optiframe"] == ran["least loop"], ran  # the same iterates

            step, recursion = step_costs(n)
            scipy_it = min(per_it["scipy"]) * 1e6
            pieces.append((n, f"{step:.1f}", f"{recursion:.1f}", f"{scipy_it:.0f}",
                           f"{step / scipy_it:.2f}x"))
            rows.append((n, f"{min(per_it['optiframe']) * 1e6:.0f}",
                         f"{min(per_it['least loop']) * 1e6:.0f}",
                         f"{min(per_it['scipy']) * 1e6:.0f}", _ratio(per_it, "optiframe"),
                         _ratio(per_it, "least loop")))
    finally:
        loop._steps = general
    print(f"L-BFGS per iteration, extended Rosenbrock ({rounds} interleaved rounds)")
    print(table(["n", "us/it optiframe", "us/it least loop", "us/it scipy",
                 "optiframe/scipy", "least loop/scipy"], rows))
    print("goal of issue 20: 1.5x scipy; the least loop shows what the loop's own work costs")
    print()
    print("The optimizer's step alone (one start, memory full), us a call, against scipy's "
          "whole iteration")
    print(table(["n", "LBFGS.step", "of which the two-loop", "us/it scipy (best)",
                 "step / scipy's iteration"], pieces))


if __name__ == "__main__":
    main()
