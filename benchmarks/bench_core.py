"""Core benchmarks (issue 2): the step loop and finite differences against hand-written code.

Run: ``.venv/bin/python benchmarks/bench_core.py`` (add ``--quick`` for a smoke run).
scipy is optional (``pip install -e '.[bench]'``); without it that column says so.

Prints, as ratios (optiframe time / reference time, lower is better):
1. per step, 10-D sphere, analytic gradient, history every step, vs a hand numpy loop
   doing the same work (gradient, update, f and gradient norm stored); goal <= 1.5x;
2. per step, the blog's 1-D run (func1, central differences, h = 1e-7, x0 a one-element
   array) vs the blog's own loop on the same array; goal <= 1.5x;
3. one central-difference gradient with a row-vectorized objective at n = 10, 100, 1000
   vs the blog's per-coordinate loop (goal >= 20x faster at n = 100) and
   scipy.optimize.approx_fprime (goal: faster), with each one's error against the
   analytic gradient;
   (also, for information: Adam through its chain of pieces, with and without a schedule,
   vs Adam written by hand;)
4. peak memory of a 1,000,000-step run in 1000-D with default recording.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved, ratio, table

import optiframe as of


def func1(x):
    return x**2 + 1


def blog_loop(x, lr, steps, h=1e-7):
    for _ in range(steps):
        slope = (func1(x + h) - func1(x - h)) / (2 * h)
        x -= lr * slope
    return x


def hand_sphere_loop(x0, lr, steps):
    """What a careful user writes by hand: gradient, update, f and |g| stored per step."""
    x = x0.copy()
    fs = np.empty(steps + 1)
    gn = np.empty(steps + 1)
    fs[0] = x @ x
    for k in range(steps):
        g = 2.0 * x
        gn[k] = math.sqrt(g @ g)
        x = x - lr * g
        fs[k + 1] = x @ x
    return x, fs, gn


def bench_step_loop(steps, rounds):
    rows = []
    x0 = np.linspace(-1.0, 1.0, 10)
    runner = of.Runner("sphere", of.GradientDescent(lr=1e-4), "analytic", max_steps=steps,
                       gtol=0)
    assert runner.run(x0).nit == steps
    ours, hand = interleaved([lambda: runner.run(x0), lambda: hand_sphere_loop(x0, 1e-4, steps)],
                             rounds)
    best, med = ratio(ours, hand)
    rows.append(("10-D sphere, analytic, history each step", f"{min(ours) / steps * 1e6:.2f} us",
                 f"{min(hand) / steps * 1e6:.2f} us (hand numpy loop)", f"{best:.2f}x",
                 f"{med:.2f}x", "<= 1.5x"))

    blog_runner = of.Runner(func1, of.GradientDescent(lr=1e-9),
                            of.CentralDifference(step=1e-7, relative=False), max_steps=steps,
                            gtol=0, detect_divergence=False)
    r = blog_runner.run(np.array([-3.0]))
    assert r.x[0] == blog_loop(np.array([-3.0]), 1e-9, steps)[0]  # the same bits
    ours, blog = interleaved([lambda: blog_runner.run(np.array([-3.0])),
                              lambda: blog_loop(np.array([-3.0]), 1e-9, steps)], rounds)
    best, med = ratio(ours, blog)
    rows.append(("blog 1-D run, func1, central h=1e-7", f"{min(ours) / steps * 1e6:.2f} us",
                 f"{min(blog) / steps * 1e6:.2f} us (blog's loop)", f"{best:.2f}x",
                 f"{med:.2f}x", "<= 1.5x"))
    rows.extend(_adam_rows(steps, rounds))
    print("Per step (optiframe / reference; best-of ratio and median of rounds):")
    print(table(["run", "optiframe", "reference", "ratio", "median", "goal"], rows))


def hand_adam_loop(x0, steps, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    """Adam on the sphere by hand, with f and |g| stored per step."""
    x = x0.copy()
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    fs = np.empty(steps + 1)
    gn = np.empty(steps + 1)
    fs[0] = x @ x
    for t in range(1, steps + 1):
        g = 2.0 * x
        gn[t - 1] = math.sqrt(g @ g)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * (g * g)
        denom = np.sqrt(v) / math.sqrt(1 - b2**t) + eps
        x = x - lr * (m / (1 - b1**t)) / denom
        fs[t] = x @ x
    return x


def _adam_rows(steps, rounds):
    """Adam through its chain of pieces, and with a cosine schedule, vs Adam by hand."""
    x0 = np.linspace(-1.0, 1.0, 10)
    adam = of.Runner("sphere", of.Adam(lr=1e-3), "analytic", max_steps=steps, gtol=0)
    cosine = {"lr": of.CosineWarmup(total_steps=steps, min_value=1e-5)}
    scheduled = of.Runner("sphere", of.Adam(lr=1e-3), "analytic", max_steps=steps, gtol=0,
                          schedules=cosine)
    check = min(steps, 1000)  # later, x oscillates around 0 at the scale of lr
    np.testing.assert_allclose(
        of.Runner("sphere", of.Adam(lr=1e-3), "analytic", max_steps=check, gtol=0).run(x0).x,
        hand_adam_loop(x0, check), rtol=1e-12, atol=1e-15)
    assert scheduled.run(x0).nit == steps
    ours, sched, hand = interleaved([lambda: adam.run(x0), lambda: scheduled.run(x0),
                                     lambda: hand_adam_loop(x0, steps)], rounds)
    rows = []
    for label, times in (("10-D sphere, adam (chain of pieces)", ours),
                         ("10-D sphere, adam + cosine schedule", sched)):
        best, med = ratio(times, hand)
        rows.append((label, f"{min(times) / steps * 1e6:.2f} us",
                     f"{min(hand) / steps * 1e6:.2f} us (hand numpy adam)", f"{best:.2f}x",
                     f"{med:.2f}x", "(none)"))
    return rows


def blog_gradient(f, x, h=1e-7):
    """The blog's per-coordinate central difference."""
    slope = np.zeros_like(x)
    for i in range(len(x)):
        xp = x.copy()
        xp[i] += h
        xm = x.copy()
        xm[i] -= h
        slope[i] = (f(xp) - f(xm)) / (2 * h)
    return slope


def func2_rows(P):
    """The blog's func2, row-vectorized: one sum of squares per row."""
    return np.sum(np.power(P, 2), axis=-1)


def bench_gradients(sizes, rounds):
    try:
        from scipy.optimize import approx_fprime
    except ImportError:
        approx_fprime = None
    objectives = [
        ("rosenbrock", of.Rosenbrock()),
        ("blog func2", of.FunctionObjective.from_callable(func2_rows, vectorized=True,
                                                          gradient=lambda p: 2 * p)),
    ]
    rows = []
    for label, obj in objectives:
        est = of.CentralDifference().bind(obj)
        for n in sizes:
            rows.append((label, n, *_gradient_row(obj, est, n, approx_fprime, rounds)))
    print("\nOne central-difference gradient with a row-vectorized objective (speed-up = their"
          " time / ours;\nerror = max |g - analytic| / max |analytic|):")
    print(table(["objective", "n", "optiframe", "error", "blog loop", "speed-up", "error",
                 "scipy approx_fprime", "speed-up", "error"], rows))
    print("goal: >= 20x over the blog's loop at n = 100, faster than scipy, error no worse")


def _gradient_row(obj, est, n, approx_fprime, rounds):
    x = np.random.default_rng(n).uniform(-1.5, 1.5, n)
    exact = obj.gradient(x)
    scale = np.abs(exact).max()

    def err(g):
        return f"{np.abs(g - exact).max() / scale:.1e}"

    funcs = [lambda: est(x), lambda: blog_gradient(obj.value, x)]
    if approx_fprime is not None:
        funcs.append(lambda: approx_fprime(x, obj.value))
    times = interleaved(funcs, rounds)
    scipy_cols = ("n/a (no scipy)", "n/a", "n/a")
    if approx_fprime is not None:
        scipy_cols = (f"{min(times[2]) * 1e3:.3f} ms", f"{min(times[2]) / min(times[0]):.1f}x",
                      err(approx_fprime(x, obj.value)))
    return (f"{min(times[0]) * 1e3:.3f} ms", err(est(x)), f"{min(times[1]) * 1e3:.3f} ms",
            f"{min(times[1]) / min(times[0]):.1f}x", err(blog_gradient(obj.value, x)),
            *scipy_cols)


MEMORY_CHILD = textwrap.dedent("""
    import json, sys, numpy as np, optiframe as of

    def peak_kib():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    steps, n = int(sys.argv[1]), int(sys.argv[2])
    x0 = np.full(n, 1.0)
    of.minimize("sphere", x0, optimizer=of.GradientDescent(lr=1e-9), max_steps=10, gtol=0)
    with open("/proc/self/clear_refs", "w") as f:  # reset the peak to the current RSS
        f.write("5")
    before = peak_kib()
    r = of.minimize("sphere", x0, optimizer=of.GradientDescent(lr=1e-9), max_steps=steps,
                    gtol=0)
    after = peak_kib()
    print(json.dumps({"nit": r.nit, "rows": len(r.history), "growth_kib": after - before,
                      "history_bytes": r.history._rows.buffer_info()[1] * 8,
                      "seconds": float(r.history.elapsed[-1])}))
""")


def bench_memory(steps, n):
    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(steps), str(n)],
                         capture_output=True, text=True, check=True).stdout
    m = json.loads(out)
    x_per_step = steps * n * 8
    print(f"\nMemory: {m['nit']:,} steps in {n}-D with default recording ({m['seconds']:.1f} s):"
          f" peak RSS grew {m['growth_kib'] / 1024:.1f} MiB; the history holds "
          f"{m['rows']:,} rows in {m['history_bytes'] / 2**20:.1f} MiB of scalars "
          f"(x at every step would take {x_per_step / 2**30:.1f} GiB).")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        bench_step_loop(steps=300, rounds=2)
        bench_gradients([10, 100], rounds=2)
        bench_memory(steps=2000, n=100)
    else:
        bench_step_loop(steps=20_000, rounds=15)
        bench_gradients([10, 100, 1000], rounds=15)
        bench_memory(steps=1_000_000, n=1000)


if __name__ == "__main__":
    main()
