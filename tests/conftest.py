from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

import optiframe as of

# HYPOTHESIS_PROFILE=thorough runs the property tests with many more examples.
settings.register_profile("thorough", max_examples=600, deadline=None)
if os.environ.get("HYPOTHESIS_PROFILE"):
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])


#: What marks a test as timing-sensitive: the names of the things a loaded machine slows
#: (worker processes, signals, timeouts, clocks, threads, child processes). A test whose
#: source, or whose module's helpers it calls, uses one is marked ``timing``;
#: ``scripts/test-under-load`` runs those repeatedly with both cores kept busy.
TIMING_WORDS = ("workers=", "evaluate=", "eval_timeout", "signal", "start_timeout",
                "max_time", "time.sleep", "threading", "subprocess", "Popen", "perf_counter",
                "monotonic", "os.kill",
                "SleepsAt", "SlowWhereMarked", "ExitsAt", "ExitsAbove", "SlowToUnpickle",
                "kill_when_ready", "mlflow server", "start_server", "LocalCluster")


def pytest_collection_modifyitems(config, items):
    import inspect

    for item in items:
        function = getattr(item, "function", None)
        try:
            source = inspect.getsource(function) if function is not None else ""
        except (OSError, TypeError):
            continue
        if any(word in source for word in TIMING_WORDS):
            item.add_marker(pytest.mark.timing)


def func1(x):
    """The blog's first function, written for Python floats."""
    return x**2 + 1


def func2(p):
    """The blog's second function."""
    return np.sum(np.power(p, 2))


@pytest.fixture
def plugin():
    """Register throwaway plugins for one test; always unregistered afterwards."""
    names: list[str] = []

    def add(obj, name):
        names.append(of.register_plugin(obj, name=name))
        return names[-1]

    yield add
    for name in names:
        if of.get_plugin_manager().has_plugin(name):
            of.unregister_plugin(name)


class Counting(of.Objective):
    """Counts evaluations of a wrapped objective; optionally row-vectorized."""

    def __init__(self, inner: of.Objective, vectorized: bool = False):
        self.inner = inner
        self.is_vec = vectorized
        self.calls = 0
        self.points = 0

    def value(self, x):
        self.calls += 1
        self.points += 1
        return self.inner.value(x)

    def values(self, X):
        if not self.is_vec:
            return of.Objective.values(self, X)
        self.calls += 1
        self.points += X.shape[0]
        return self.inner.values(X)

    @property
    def vectorized(self):
        return self.is_vec


def on_disk(X, folder):
    """``X`` written to a .npy file and opened again as a read-only memmap."""
    path = folder / "X.npy"
    np.save(path, X)
    return np.load(path, mmap_mode="r")


@pytest.fixture
def row_reads(monkeypatch):
    """Records how many rows each data read takes (DataObjective._rows)."""
    from optiframe import data as data_module

    reads: list[int] = []
    original = data_module.DataObjective._rows

    def spy(self, idx):
        reads.append(len(idx))
        return original(self, idx)

    monkeypatch.setattr(data_module.DataObjective, "_rows", spy)
    return reads
