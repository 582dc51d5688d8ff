"""Progress bars (optiframe.progress): no stray bar, full when a run ends early, a
training bar's loss from the first batches."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of


def _digits_like(n=60, d=3):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, d)), rng.integers(0, 3, size=n)


def test_progress_bars_draw_no_stray_bar_and_end_full_when_the_run_ends_early(capsys):
    pytest.importorskip("tqdm")
    r = of.minimize("himmelblau", starts=of.MultiStart(8, bounds=[(-5, 5)] * 2), seed=0,
                    max_steps=500, progress=True)
    err = capsys.readouterr().err
    assert r.nit < 500
    drawn = [part.strip() for part in err.replace("\n", "\r").split("\r") if part.strip()]
    assert all(part.startswith("optiframe, 8 starts") for part in drawn)  # no stray bar
    assert drawn[-1].startswith("optiframe, 8 starts: 100%") and f"{r.nit}/{r.nit}" in drawn[-1]
    assert drawn[-1].endswith(", converged 8]")  # how the starts ended, beside f


def test_a_full_bar_says_how_the_run_ended(capsys):
    """A run that ends early shows 100 %; its outcome beside f keeps a diverged run's
    bar from reading as a success."""
    pytest.importorskip("tqdm")
    r = of.minimize("rosenbrock", [-1.2, 1.0], optimizer=of.GradientDescent(lr=0.01),
                    max_steps=2000, progress=True)
    last = capsys.readouterr().err.replace("\n", "\r").split("\r")[-2].strip()
    assert r.status == "diverged" and last.startswith("optiframe: 100%")
    assert last.endswith(f"f={r.fun:.6g}, diverged]")  # the result's f: its best finite one
    starts = np.array([[-1.2, 1.0], [0.5, 0.5], [1.0, 1.0]])
    r = of.minimize("rosenbrock", starts=starts, optimizer=of.GradientDescent(lr=1e-3),
                    max_steps=5, progress=True)
    last = capsys.readouterr().err.replace("\n", "\r").split("\r")[-2].strip()
    assert r.statuses() == {"max_steps": 2, "converged": 1}
    assert last.endswith(", max_steps 2, converged 1]")


def test_a_training_bar_shows_the_epochs_loss_from_its_first_batches(capsys):
    pytest.importorskip("tqdm")
    from types import SimpleNamespace

    from optiframe.observers import _best
    from optiframe.state import BatchCursor

    # mid-epoch 1: no whole-data loss yet (F is NaN), 3 batches of 10 summed to 6.0
    s = SimpleNamespace(point=True, F=np.nan, finished=[],
                        cursor=BatchCursor(1, 3, None, 6.0, 30))
    assert _best(s) == 0.2
    stack = SimpleNamespace(point=False, F=np.full(2, np.nan), finished=[],
                            cursor=BatchCursor(1, 3, None, np.array([6.0, 3.0]),
                                               np.array([30, 30])))
    assert _best(stack) == 0.1  # the best start's
    X, y = _digits_like(n=600)
    model = of.SoftmaxRegression(X, y)
    of.minimize(model, np.zeros(model.dim), batch_size=10, epochs=1, seed=0, progress=True,
                optimizer=of.GradientDescent(lr=0.1))
    err = capsys.readouterr().err
    assert "epoch 1/1, loss=" in err and "loss=nan" not in err


def test_a_run_without_a_terminal_does_not_import_tqdm():
    # progress=None draws a bar only on a terminal: off one, tqdm.auto (about 45 ms to
    # import) stays unimported
    import subprocess
    import sys

    code = ("import sys, optiframe as of; r = of.minimize('sphere', [1.0, 2.0]); "
            "print(r.status, 'tqdm.auto' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, check=True)
    assert out.stdout.split() == ["converged", "False"]
