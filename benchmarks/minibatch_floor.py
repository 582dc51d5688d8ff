"""What the minibatch goal of issue 20 (at most 1.15x a hand loop) leaves a recording loop.

Run: ``.venv/bin/python benchmarks/minibatch_floor.py`` (needs scikit-learn's digits;
``--quick`` for 3 rounds).

Softmax regression on the digits, batch 64, lr 0.1, 20 epochs, wall time per step (best
of interleaved rounds, and the median of per-round ratios), for three loops:

- ``hand``: the bare loop of ``bench_minibatch.hand_loop`` (the goal's reference);
- ``hand, recording``: the same loop, doing per step what every optiframe run records
  and checks: the gradient norm, a history row (step, f, |g|, step norm, evaluations,
  clock, step size), the new iterate made read-only (an objective may not write into
  it), the step's norm and the point of lowest batch loss;
- ``optiframe``: ``of.minimize(SoftmaxRegression(X, y), ..., batch_size=64)``.

``hand`` computes the batch loss and gradient with its own function, the other two with
``SoftmaxRegression.batch_loss_and_gradient``: the same arithmetic, which takes the same
time (66 us a batch either way, timed alone), so the columns differ by the loops' own
work.
"""

from __future__ import annotations

import argparse
import array
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved, table
from bench_minibatch import hand_loop

import optiframe as of
from optiframe.problem import vector_dist, vector_norm

EPOCHS, BATCH, LR = 20, 64, 0.1


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data[:1437] / 16.0, d.target[:1437]


def recording_loop(obj: of.SoftmaxRegression, epochs: int = EPOCHS,
                   ) -> tuple[np.ndarray, float]:
    """The bare loop plus what a run records and checks each step (see the module)."""
    n = obj.n_samples
    params = np.zeros(obj.dim)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(0)))
    rows = array.array("d")
    best, best_f, step_norm, k, t0 = params, math.nan, math.nan, 0, time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(n)
        for s in range(0, n, BATCH):
            loss, g = obj.batch_loss_and_gradient(params, order[s : s + BATCH])
            rows.extend((k, loss, vector_norm(g), step_norm, k + 1,
                         time.perf_counter() - t0, math.nan))
            new = params - LR * g
            new.setflags(write=False)
            step_norm = vector_dist(new, params)
            if -math.inf < loss < math.inf and not loss >= best_f:
                best, best_f = params, loss
            params, k = new, k + 1
    return best, float(best_f)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    rounds = 3 if parser.parse_args().quick else 9
    X, y = _digits()
    obj = of.SoftmaxRegression(X, y)
    steps = EPOCHS * math.ceil(len(y) / BATCH)

    def ours() -> None:
        of.minimize(obj, np.zeros(obj.dim), optimizer=of.GradientDescent(lr=LR),
                    batch_size=BATCH, epochs=EPOCHS, seed=0)

    funcs = [lambda: hand_loop(X, y, 10, EPOCHS), lambda: recording_loop(obj), ours]
    names = ["hand", "hand, recording", "optiframe"]
    times = interleaved(funcs, rounds)
    rows = []
    for name, t in zip(names, times, strict=True):
        per_round = statistics.median(a / b for a, b in zip(t, times[0], strict=True))
        rows.append((name, f"{min(t) / steps * 1e6:.1f}", f"{min(t) / min(times[0]):.2f}x",
                     f"{per_round:.2f}x"))
    print(f"softmax on the digits, batch {BATCH}, {EPOCHS} epochs ({steps} steps), "
          f"{rounds} interleaved rounds")
    print(table(["loop", "us/step", "to hand (best)", "to hand (median)"], rows))
    print("goal of issue 20: optiframe <= 1.15x hand")


if __name__ == "__main__":
    main()
