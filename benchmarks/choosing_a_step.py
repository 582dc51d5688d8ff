"""The figures of docs/choosing-a-step.md: the blog's learning-rate table, then the same
problems with a line search (gd + Armijo) and with L-BFGS, evaluations counted.

Run: ``.venv/bin/python benchmarks/choosing_a_step.py``
"""

from __future__ import annotations

import optiframe as of

BLOG_STEP = of.CentralDifference(step=1e-7, relative=False)
BLOG_RUNS = [(1e-9, 10000), (0.001, 5000), (0.01, 500), (0.999, 5000), (10.0, 100)]


def func1(x):
    return x**2 + 1


def row(label: str, r: of.Result) -> str:
    x = ", ".join(f"{v:.6g}" for v in r.x)
    return (f"| {label} | {r.status} | {r.nit} | {r.nfev} | {x} | "
            f"{r.fun - 1.0 if r.x.size == 1 else r.fun:.3g} |")


def main() -> None:
    print("## x**2 + 1 from x = -3 (the blog's slope, h = 1e-7)\n")
    print("| method | status | steps | nfev | x | f - f* |")
    print("|---|---|---|---|---|---|")
    for lr, steps in BLOG_RUNS:
        r = of.minimize(func1, -3.0, optimizer=of.GradientDescent(lr=lr), gradient=BLOG_STEP,
                        max_steps=steps, detect_divergence=False)
        print(row(f"gd, lr {lr:g}, {steps} steps", r))
    for lr, _ in BLOG_RUNS:
        r = of.minimize(func1, -3.0, optimizer=of.GradientDescent(lr=lr, line_search="armijo"),
                        gradient=BLOG_STEP, max_steps=10000)
        print(row(f"gd + armijo, lr {lr:g}", r))
    r = of.minimize(func1, -3.0, optimizer="lbfgs", gradient=BLOG_STEP)
    print(row("lbfgs (defaults)", r))

    print("\n## Rosenbrock from (-1.2, 1), analytic gradient, gtol 1e-8\n")
    print("| method | status | steps | nfev | x | f |")
    print("|---|---|---|---|---|---|")
    for label, opt in (("gd, lr 1e-3 (its best fixed rate)", of.GradientDescent(lr=1e-3)),
                       ("gd, lr 0.01", of.GradientDescent(lr=0.01)),
                       ("gd + armijo, lr 1", of.GradientDescent(lr=1.0, line_search="armijo")),
                       ("gd + wolfe, lr 1", of.GradientDescent(lr=1.0, line_search="wolfe")),
                       ("lbfgs (the default)", of.LBFGS()), ("bfgs", of.BFGS())):
        r = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=opt, max_steps=50_000)
        print(row(label, r))


if __name__ == "__main__":
    main()
