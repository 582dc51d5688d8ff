"""optiframe-jax (issue 15): exactness and the cost of a step against central differences.

Run: ``.venv/bin/python benchmarks/bench_jax.py [--quick]``

1. On Rosenbrock with n = 1000 at a random point, the relative error of the ``"jax"``
   gradient against the analytic one (goal: at most 1e-12).
2. The wall time of one step of L-BFGS and of gd on that objective (written with
   jax.numpy, not vectorized) with ``gradient="jax"`` and with ``"central"``, and their
   ratio (goal: jax at most 1/20 of central), beside a hand-written loop (numpy update,
   ``jax.jit(jax.grad(f))``) for the floor.
3. A digits MLP written with jax.numpy (optiframe_jax.JaxData) against the built-in MLP:
   test accuracy after the same training, and the time per epoch.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
from optiframe_jax import JaxData, JaxGradient

import optiframe as of


def rosen(x):
    return jnp.sum((1 - x[:-1]) ** 2 + 100 * (x[1:] - x[:-1] ** 2) ** 2)


def per_step(optimizer: str, gradient: str, steps: int, x0: np.ndarray, rounds: int) -> float:
    """The best of ``rounds`` wall times per step of a run of ``steps`` steps (after a
    short run that compiles jax's gradient: compiling is a one-off, timed apart)."""
    of.minimize(rosen, x0, optimizer=optimizer, gradient=gradient, max_steps=1)
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        r = of.minimize(rosen, x0, optimizer=optimizer, gradient=gradient, max_steps=steps,
                        gtol=0.0, detect_divergence=False)
        best = min(best, (time.perf_counter() - t) / max(r.nit, 1))
    return best


def hand_gd_step(x0: np.ndarray, steps: int, lr: float) -> float:
    grad = jax.jit(jax.grad(rosen))
    x = x0.copy()
    grad(x)  # compiled outside the timing, as optiframe's is after its first step
    t = time.perf_counter()
    for _ in range(steps):
        float(rosen(x))  # the loop records f, as optiframe's does
        x = x - lr * np.asarray(grad(x))
    return (time.perf_counter() - t) / steps


def compile_time() -> None:
    grad = jax.jit(jax.grad(lambda x: rosen(x) * 1.0))  # a new function: compiled afresh
    t = time.perf_counter()
    grad(np.zeros(1000)).block_until_ready()
    print(f"   (compiling the gradient, once per function and shape: "
          f"{(time.perf_counter() - t) * 1e3:.0f} ms)\n")


def exactness() -> None:
    x = np.random.default_rng(0).uniform(-2, 2, 1000)
    g = JaxGradient().gradient(of.FunctionObjective.from_callable(rosen), x)
    exact = of.Rosenbrock().gradient(x)
    err = float(np.max(np.abs(g - exact)) / np.max(np.abs(exact)))
    print("1. Gradient on Rosenbrock, n = 1000")
    print(f"   max |jax - analytic| / max |analytic| = {err:.2e}  (goal <= 1e-12: "
          f"{'met' if err <= 1e-12 else 'MISSED'})\n")


def step_costs(quick: bool) -> None:
    x0 = np.full(1000, 0.5)
    print("2. One step on Rosenbrock, n = 1000 (f written with jax.numpy)")
    print(f"   {'optimizer':<10} {'jax':>12} {'central':>12} {'jax/central':>12} "
          f"{'hand loop':>12}")
    fd_steps, jax_steps, rounds = (2, 50, 1) if quick else (5, 300, 3)
    for optimizer in ("lbfgs", "gd"):
        ours = per_step(optimizer, "jax", jax_steps, x0, rounds)
        central = per_step(optimizer, "central", fd_steps, x0, 1 if quick else 2)
        hand = hand_gd_step(x0, jax_steps, 1e-4) if optimizer == "gd" else float("nan")
        verdict = "met" if ours * 20 <= central else "MISSED"
        hand_text = f"{hand * 1e6:9.0f} us" if hand == hand else f"{'-':>12}"
        print(f"   {optimizer:<10} {ours * 1e6:9.0f} us {central * 1e3:9.1f} ms "
              f"{ours / central:12.5f} {hand_text}  (goal <= 0.05: {verdict})")
    compile_time()


def digits_mlp(quick: bool) -> None:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        print("3. Digits MLP: skipped (pip install scikit-learn)")
        return
    d = load_digits()
    X, y = d.data / 16.0, d.target
    X, y, Xt, yt = X[:1400], y[:1400], X[1400:], y[1400:]
    builtin = of.MLP(X, y, hidden=32)
    dim, h, c, k = X.shape[1], 32, 10, X.shape[1] * 32

    def scores(p, A):
        W1, b1 = p[:k].reshape(dim, h), p[k:k + h]
        W2, b2 = p[k + h:k + h + h * c].reshape(h, c), p[k + h + h * c:]
        return jnp.tanh(A @ W1 + b1) @ W2 + b2

    def loss(p, A, t):
        logp = jax.nn.log_softmax(scores(p, A))
        return -jnp.mean(jnp.take_along_axis(logp, t[:, None].astype(int), axis=1))

    data = JaxData(loss, X, y, dim=builtin.dim)
    epochs = 3 if quick else 20
    kw = dict(optimizer=of.GradientDescent(lr=0.5), batch_size=32, epochs=epochs, seed=0)
    x0 = builtin.init_params(seed=0)
    rows = []
    for name, objective, gradient in (("built-in MLP", builtin, "analytic"),
                                      ("JaxData MLP", data, "jax")):
        of.minimize(objective, x0, gradient=gradient, **{**kw, "epochs": 1})  # compiles
        times = []
        for _ in range(1 if quick else 3):
            t = time.perf_counter()
            r = of.minimize(objective, x0, gradient=gradient, **kw)
            times.append((time.perf_counter() - t) / epochs)
        acc = float(np.mean(np.argmax(np.asarray(scores(r.x, Xt)), axis=1) == yt))
        rows.append((name, acc, min(times), statistics.median(times)))
    print(f"3. Digits MLP, 32 hidden units, gd lr 0.5, batch 32, {epochs} epochs")
    for name, acc, best, _ in rows:
        print(f"   {name:<13} test accuracy {acc:.4f}   {best * 1e3:7.1f} ms per epoch")
    same = abs(rows[0][1] - rows[1][1]) < 1e-12
    print(f"   same accuracy: {'yes' if same else 'NO'}; time ratio jax/built-in "
          f"{rows[1][2] / rows[0][2]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    quick = parser.parse_args().quick
    exactness()
    step_costs(quick)
    digits_mlp(quick)


if __name__ == "__main__":
    main()
