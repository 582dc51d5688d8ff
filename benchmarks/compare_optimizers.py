"""Steps each optimizer needs to bring the blog's functions within 1e-6 of their minimum.

Run: ``.venv/bin/python benchmarks/compare_optimizers.py`` (about a minute). For each
optimizer and function the learning rate is the best of a grid, so the table compares
each rule at its best; prints a Markdown table for docs/optimizers.md.
"""

from __future__ import annotations

import numpy as np

import optiframe as of

LRS = [1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0]
MAX_STEPS = 20_000
TOL = 1e-6


def func1(x):
    return x**2 + 1


def func2(p):
    return np.sum(np.power(p, 2))


PROBLEMS = [
    ("x**2 + 1 from -3", func1, [-3.0], 1.0),
    ("sum(x**2) from (3, 3)", func2, [3.0, 3.0], 0.0),
    ("sum(x**2) from (3, 3, 3)", func2, [3.0, 3.0, 3.0], 0.0),
    ("rosenbrock from (-1.2, 1)", "rosenbrock", [-1.2, 1.0], 0.0),
]
OPTIMIZERS = ["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]


def steps_to_reach(name, fun, x0, f_star, lr):
    def close_enough(info):
        if info.fun - f_star <= TOL:
            raise StopIteration

    optimizer = of.get_registry().build("optimizer", {"name": name, "lr": lr}, of.Optimizer)
    r = of.minimize(fun, x0, optimizer=optimizer, max_steps=MAX_STEPS, gtol=0,
                    callbacks=[close_enough], record_every=MAX_STEPS)
    return r.nit if r.fun - f_star <= TOL else None


def main():
    header = ["optimizer", *(p[0] for p in PROBLEMS)]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name in OPTIMIZERS:
        cells = []
        for _, fun, x0, f_star in PROBLEMS:
            results = [(steps_to_reach(name, fun, x0, f_star, lr), lr) for lr in LRS]
            reached = [(s, lr) for s, lr in results if s is not None]
            if reached:
                steps, lr = min(reached)
                cells.append(f"{steps} (lr {lr:g})")
            else:
                cells.append(f"> {MAX_STEPS}")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
