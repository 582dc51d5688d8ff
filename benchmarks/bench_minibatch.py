"""Minibatch benchmarks (issue 4): softmax regression, batch 64, lr 0.1.

Run: ``.venv/bin/python benchmarks/bench_minibatch.py`` (torch is optional:
``pip install torch==2.13.0``; without it that column says so).

Prints the time per epoch of optiframe, of a hand-written numpy minibatch loop doing the
same work (batch loss and gradient each step, the whole set's loss at the end; goal:
optiframe within 1.15x), and of torch.optim.SGD with
torch.nn.functional.cross_entropy on the CPU in float64 (goal: optiframe at least 3x
faster), on scikit-learn's digits and on a seeded synthetic set of 200,000 x 100 with 10
classes; then the peak memory of the large run against the size of its data (goal: at
most the data plus 100 MiB).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved, table

import optiframe as of


def synthetic(n=200_000, d=100, classes=10, seed=0):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(d, classes))
    X = rng.normal(size=(n, d))
    y = np.argmax(X @ W + rng.gumbel(size=(n, classes)), axis=1)
    return X, y


def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data / 16.0, d.target


def hand_loop(X, y, classes, epochs, lr=0.1, batch=64, seed=0):
    """Minibatch softmax regression by hand, doing the same work as optiframe: the batch
    loss and gradient at each step, and the loss over the whole set at the end."""
    n, d = X.shape
    params = np.zeros((d + 1) * classes)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))

    def loss_and_grad(params, Xb, yb):
        W, b = params[: d * classes].reshape(d, classes), params[d * classes :]
        Z = Xb @ W + b
        Z = Z - Z.max(axis=1, keepdims=True)
        logp = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
        m = len(yb)
        loss = -logp[np.arange(m), yb].sum() / m
        dZ = np.exp(logp)
        dZ[np.arange(m), yb] -= 1.0
        dZ /= m
        return loss, np.concatenate([(Xb.T @ dZ).ravel(), dZ.sum(axis=0)])

    losses = []
    for _ in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, batch):
            idx = order[s : s + batch]
            loss, g = loss_and_grad(params, X[idx], y[idx])
            losses.append(loss)
            params = params - lr * g
    final = sum(loss_and_grad(params, X[s : s + 4096], y[s : s + 4096])[0] * len(y[s : s + 4096])
                for s in range(0, n, 4096)) / n
    return params, final


def optiframe_run(X, y, epochs, lr=0.1, batch=64, seed=0):
    obj = of.SoftmaxRegression(X, y)
    return of.minimize(obj, np.zeros(obj.dim), optimizer=of.GradientDescent(lr=lr),
                       batch_size=batch, epochs=epochs, seed=seed)


def torch_loop(X, y, classes, epochs, lr=0.1, batch=64, seed=0):
    import torch

    torch.set_num_threads(1)
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y.astype(np.int64))
    model = torch.nn.Linear(X.shape[1], classes, dtype=torch.float64)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    losses = []
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(len(X)))
        for s in range(0, len(X), batch):
            idx = order[s : s + batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            losses.append(loss.item())
    with torch.no_grad():
        final = torch.nn.functional.cross_entropy(model(Xt), yt).item()
    return model, final


def bench_speed(sets, rounds):
    try:
        import torch  # noqa: F401

        has_torch = True
    except ImportError:
        has_torch = False
    rows = []
    for label, (X, y), epochs in sets:
        classes = int(y.max()) + 1
        r = optiframe_run(X, y, epochs)
        params, final = hand_loop(X, y, classes, epochs)
        np.testing.assert_allclose(r.x, params, rtol=1e-9, atol=1e-12)
        assert abs(r.fun - final) <= 1e-9 * abs(final)
        funcs = [lambda X=X, y=y, e=epochs: optiframe_run(X, y, e),
                 lambda X=X, y=y, c=classes, e=epochs: hand_loop(X, y, c, e)]
        if has_torch:
            funcs.append(lambda X=X, y=y, c=classes, e=epochs: torch_loop(X, y, c, e))
        times = interleaved(funcs, rounds, min_sample=0.0)
        ours, hand = min(times[0]) / epochs, min(times[1]) / epochs
        torch_cols = ("n/a (no torch)", "n/a")
        if has_torch:
            t = min(times[2]) / epochs
            torch_cols = (f"{t * 1e3:.1f} ms", f"{t / ours:.2f}x")
        rows.append((label, f"{ours * 1e3:.1f} ms", f"{hand * 1e3:.1f} ms",
                     f"{ours / hand:.2f}x (goal <= 1.15x)", *torch_cols))
    print("Softmax regression, batch 64, lr 0.1: time per epoch")
    print(table(["data", "optiframe", "hand numpy", "ratio", "torch SGD + cross_entropy",
                 "torch / optiframe (goal >= 3x)"], rows))


MEMORY_CHILD = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import numpy as np, optiframe as of
    from bench_minibatch import synthetic

    def peak_kib():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    X, y = synthetic()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = peak_kib()
    obj = of.SoftmaxRegression(X, y)
    of.minimize(obj, np.zeros(obj.dim), optimizer=of.GradientDescent(lr=0.1),
                batch_size=64, epochs=1, seed=0)
    print(json.dumps({"data_mib": (X.nbytes + y.nbytes) / 2**20,
                      "growth_mib": (peak_kib() - before) / 1024}))
""")


def bench_memory():
    out = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(Path(__file__).parent)],
                         capture_output=True, text=True, check=True).stdout
    m = json.loads(out)
    print(f"\nMemory, 200,000 x 100 set ({m['data_mib']:.0f} MiB of data, already loaded): "
          f"peak RSS grew {m['growth_mib']:.1f} MiB during a one-epoch run "
          f"(goal: at most 100 MiB beyond the data)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        bench_speed([("synthetic 2,000 x 20", synthetic(2000, 20), 1)], rounds=1)
        return
    bench_speed([("digits 1437 x 64", tuple(a[:1437] for a in digits()), 10),
                 ("synthetic 200,000 x 100", synthetic(), 2)], rounds=3)
    bench_memory()


if __name__ == "__main__":
    main()
