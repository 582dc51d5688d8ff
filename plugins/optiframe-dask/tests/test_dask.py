"""optiframe-dask against a real LocalCluster of 2 worker processes, on loopback."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
from dask_helpers import SlowWhereMarked

import optiframe as of

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", host="127.0.0.1") as c:
        yield c


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster) as c:
        yield c


def run(**kw):
    return of.minimize("himmelblau", optimizer=of.GradientDescent(lr=0.01),
                       starts=of.MultiStart(24, sampler="lhs", bounds=[(-5, 5), (-5, 5)]),
                       max_steps=2000, seed=5, **kw)


def assert_same(a, b):
    for s, t in zip(a.starts, b.starts, strict=True):
        assert (s.index, s.status, s.nit, s.nfev) == (t.index, t.status, t.nit, t.nfev)
        np.testing.assert_array_equal(s.x, t.x)
        assert s.fun == t.fun
    np.testing.assert_array_equal(a.history.fun, b.history.fun)


def test_the_dask_executor_is_registered_by_the_entry_point():
    entry = of.get_registry().get("executor", "dask")
    assert entry.plugin == "dask"


def test_client_executor_map_is_bit_identical_to_the_vectorized_path(client):
    assert_same(run(), run(workers=client.get_executor().map))


def test_named_executor_with_an_address(cluster):
    r = run(workers={"name": "dask", "address": cluster.scheduler_address})
    assert_same(run(), r)
    assert len(r.minima) == 4


def test_named_executor_starts_and_closes_its_own_local_cluster():
    assert_same(run(), run(workers="dask"))


def test_a_killed_dask_worker_loses_nothing(cluster, tmp_path):
    starts = np.array([[1.0, 2.0], [3.0, -1.0], [-2.0, 0.5], [0.5, 0.5]])
    pid_file = tmp_path / "pid"
    kills: list[int] = []

    def killer():
        deadline = time.monotonic() + 120  # a readiness signal, not a margin
        while time.monotonic() < deadline and not pid_file.exists():
            time.sleep(0.02)
        pid = int(pid_file.read_text())  # written atomically: never empty
        (tmp_path / "killed").write_text("yes")
        os.kill(pid, signal.SIGKILL)
        kills.append(pid)

    thread = threading.Thread(target=killer)
    thread.start()
    r = of.minimize(SlowWhereMarked(tmp_path), starts=starts,
                    optimizer=of.GradientDescent(lr=0.1),
                    workers={"name": "dask", "address": cluster.scheduler_address})
    thread.join()
    assert kills and kills[0] != os.getpid()  # a worker really was killed
    assert [s.status for s in r.starts] == ["converged"] * 4
    assert_same(r, of.minimize(SlowWhereMarked(tmp_path), starts=starts,
                               optimizer=of.GradientDescent(lr=0.1)))


def test_a_global_search_on_dask_gives_the_bits_of_one_process(cluster):
    kw = dict(bounds=[(-5.12, 5.12)] * 3, max_nfev=1500, seed=0)
    for strategy in ("mlsl", "tiktak"):
        serial = of.minimize("rastrigin", strategy=strategy, **kw)
        spread = of.minimize("rastrigin", strategy=strategy, **kw,
                             workers={"name": "dask", "address": cluster.scheduler_address})
        np.testing.assert_array_equal(serial.finished.x, spread.finished.x)
        assert serial.nfev == spread.nfev and serial.trace.best == spread.trace.best


def rosen(x):
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def test_evaluate_on_a_cluster_gives_the_serial_runs_bits(cluster):
    x0 = [-1.2, 1.0, -1.2, 1.0]
    serial = of.minimize(rosen, x0, gradient="central", max_steps=30)
    on_dask = of.minimize(rosen, x0, gradient="central", max_steps=30,
                          evaluate={"name": "dask", "address": cluster.scheduler_address})
    np.testing.assert_array_equal(serial.x, on_dask.x)
    np.testing.assert_array_equal(serial.history.fun, on_dask.history.fun)
    assert on_dask.nfev + on_dask.evaluation.cache_hits == serial.nfev
    assert on_dask.evaluation.workers == 2


def test_evaluate_dask_starts_its_own_cluster_for_a_global_search():
    r = of.minimize(rosen, bounds=[(-2, 2)] * 2, evaluate="dask", max_nfev=300, seed=1)
    serial = of.minimize(rosen, bounds=[(-2, 2)] * 2, max_nfev=300, seed=1, cache=1024)
    assert r.fun == serial.fun and r.nfev == serial.nfev <= 300
