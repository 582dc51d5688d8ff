"""Multi-start: acceptance, per-start outcomes, bit-identical paths, faults and bad input."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest

import optiframe as of
from tests.multistart_helpers import Quartic, RaisesBeyond, SlowWhereMarked

GD = of.GradientDescent


def himmelblau_run(**kw):
    return of.minimize("himmelblau", optimizer=GD(lr=0.01),
                       starts=of.MultiStart(100, sampler="uniform", bounds=[(-5, 5), (-5, 5)]),
                       max_steps=2000, seed=0, **kw)


def test_himmelblau_from_100_uniform_starts_finds_all_four_minima():
    r = himmelblau_run()
    assert len(r.minima) == 4
    assert sum(m.count for m in r.minima) == 100
    for true in of.Himmelblau().minima():
        found = [m for m in r.minima if np.linalg.norm(m.x - true) < 1e-6]
        assert len(found) == 1 and found[0].count > 10
    assert r.status == "converged" and r.fun == min(s.fun for s in r.starts)
    assert len(r.starts) == 100 and [s.index for s in r.starts] == list(range(100))
    assert sorted(i for m in r.minima for i in m.starts) == list(range(100))


def test_rastrigin_10d_multistart_beats_a_single_start_from_the_same_sampler():
    box = [(-5.12, 5.12)] * 10
    single = of.minimize("rastrigin", optimizer=GD(lr=1e-3), max_steps=1000, seed=3,
                         starts=of.MultiStart(1, sampler="uniform", bounds=box))
    many = of.minimize("rastrigin", optimizer=GD(lr=1e-3), max_steps=1000, seed=3,
                       starts=of.MultiStart(200, sampler="uniform", bounds=box))
    np.testing.assert_array_equal(many.starts[0].x, single.x)  # start 0 is the same ball
    assert many.fun < single.fun


def test_each_start_stops_on_its_own():
    starts = np.array([[0.5], [3.0], [0.1]])
    before = starts.copy()
    r = of.minimize(Quartic(), optimizer=GD(lr=0.1), starts=starts, max_steps=20_000,
                    gtol=1e-3)
    assert [s.status for s in r.starts] == ["converged", "diverged", "converged"]
    assert r.starts[1].x.tolist() == [3.0]  # a diverged start keeps its best finite point
    assert r.starts[0].nit != r.starts[2].nit
    np.testing.assert_array_equal(starts, before)
    assert r.history.fun.shape[1] == 3
    assert np.isnan(r.history.fun[-1, 1])  # a stopped start has no later records


def same_outcomes(a, b):
    for s, t in zip(a.starts, b.starts, strict=True):
        assert (s.index, s.status, s.nit, s.nfev, s.njev) == (t.index, t.status, t.nit,
                                                               t.nfev, t.njev)
        np.testing.assert_array_equal(s.x, t.x)
        assert s.fun == t.fun or (np.isnan(s.fun) and np.isnan(t.fun))
    np.testing.assert_array_equal(a.history.fun, b.history.fun)
    np.testing.assert_array_equal(a.history.grad_norm, b.history.grad_norm)
    np.testing.assert_array_equal(a.history.step_norm, b.history.step_norm)


@pytest.mark.parametrize("workers", [map, "serial", 2])
def test_vectorized_serial_and_process_paths_are_bit_identical(workers):
    vectorized = himmelblau_run()
    same_outcomes(vectorized, himmelblau_run(workers=workers))
    box = [(-5.12, 5.12)] * 4
    kw = dict(optimizer=of.Adam(lr=0.05), max_steps=150, seed=11, gtol=1e-3,
              starts=of.MultiStart(12, sampler="lhs", bounds=box))
    same_outcomes(of.minimize("rastrigin", **kw), of.minimize("rastrigin", workers=workers,
                                                              **kw))


def test_only_executors_that_send_work_away_require_pickling():
    from optiframe.executors import MapExecutor, ProcessExecutor, SerialExecutor

    assert ProcessExecutor(2).needs_pickling and MapExecutor(lambda f, x: x).needs_pickling
    assert not SerialExecutor().needs_pickling and not MapExecutor(map).needs_pickling
    r = of.minimize(lambda x: float(x @ x), starts=[[1.0], [2.0]], workers="serial")
    assert [s.status for s in r.starts] == ["converged", "converged"]


def test_a_concurrent_futures_map_works_as_workers():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        same_outcomes(himmelblau_run(), himmelblau_run(workers=pool.map))


def test_start_k_is_the_same_point_whatever_the_number_of_starts():
    a = of.MultiStart(5, sampler="uniform", bounds=[(-1, 1)] * 3)
    b = of.MultiStart(9, sampler="uniform", bounds=[(-1, 1)] * 3)
    ra = of.minimize("sphere", starts=a, seed=4, max_steps=0)
    rb = of.minimize("sphere", starts=b, seed=4, max_steps=0)
    for k in range(5):
        np.testing.assert_array_equal(ra.starts[k].x0, rb.starts[k].x0)


def test_samplers():
    box = np.array([[-2.0, 2.0], [0.0, 10.0]])
    for name in ("uniform", "lhs"):
        X = of.MultiStart(40, sampler=name, bounds=box).points(2, None, None, 0)
        assert X.shape == (40, 2)
        assert (box[:, 0] <= X).all() and (box[:, 1] >= X).all()
    lhs = of.MultiStart(40, sampler="lhs", bounds=box).points(2, None, None, 0)
    for j in range(2):  # each coordinate's 40 strata hold one start each
        strata = np.floor((lhs[:, j] - box[j, 0]) / (box[j, 1] - box[j, 0]) * 40)
        assert sorted(strata.astype(int).tolist()) == list(range(40))
    normal = of.MultiStart(400, sampler={"name": "normal", "scale": 0.5}).points(
        2, np.array([1.0, -1.0]), None, 1)
    np.testing.assert_allclose(normal.mean(axis=0), [1.0, -1.0], atol=0.1)
    np.testing.assert_allclose(normal.std(axis=0), [0.5, 0.5], atol=0.05)


@pytest.mark.parametrize("entropy", [0, 7, 2**32, 2**127 + 3, 2**200 + 1])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_start_streams_draw_what_numpy_generators_draw(entropy, n):
    """The built-in samplers draw every start's first numbers at once (optiframe._pcg);
    they are the bits of each start's own numpy Generator, the k-th child of the seed."""
    from optiframe.starts import StartStreams

    K = 300
    fast = StartStreams(entropy, K).random(n)
    children = np.random.SeedSequence(entropy).spawn(K)
    slow = np.stack([np.random.Generator(np.random.PCG64(c)).random(n) for c in children])
    np.testing.assert_array_equal(fast, slow)
    streams = StartStreams(entropy, K)  # once a generator is taken, its draws go on from it
    first = streams[3].random(n)
    np.testing.assert_array_equal(first, slow[3])
    np.testing.assert_array_equal(streams.random(1)[3],
                                  np.random.Generator(np.random.PCG64(children[3])).random(
                                      n + 1)[n:])


def test_objective_bounds_are_used_when_none_are_given():
    r = of.minimize("rastrigin", [0.0] * 3, starts=of.MultiStart(20, sampler="lhs"), seed=0,
                    max_steps=0)
    X0 = np.array([s.x0 for s in r.starts])
    assert (np.abs(X0) <= 5.12).all() and X0.shape == (20, 3)


def test_raise_errors_reraises_after_the_other_starts_finish():
    starts = np.array([[1.0, 0.0], [5.0, 0.0]])
    with pytest.raises(of.RunFailedError, match="1 of 2 starts failed; first: start 1") as info:
        of.minimize(RaisesBeyond(4.0), starts=starts, raise_errors=True)
    assert info.value.result.starts[0].status == "converged"


def kill_when_ready(folder, kills):
    pid_file, flag = folder / "pid", folder / "killed"
    deadline = time.time() + 60
    while time.time() < deadline and not pid_file.exists():
        time.sleep(0.02)
    pid = int(pid_file.read_text())
    flag.write_text("yes")
    os.kill(pid, signal.SIGKILL)
    kills.append(pid)


def test_a_killed_worker_process_is_survived(tmp_path):
    starts = np.array([[1.0, 2.0], [3.0, -1.0], [-2.0, 0.5], [0.5, 0.5]])
    kills: list[int] = []
    killer = threading.Thread(target=kill_when_ready, args=(tmp_path, kills))
    killer.start()
    r = of.minimize(SlowWhereMarked(tmp_path), starts=starts, optimizer=GD(lr=0.1),
                    workers=2, retries=2)
    killer.join()
    assert kills and kills[0] != os.getpid()
    assert [s.status for s in r.starts] == ["converged"] * 4
    same_outcomes(r, of.minimize(SlowWhereMarked(tmp_path), starts=starts, optimizer=GD(lr=0.1)))


def test_a_start_lost_beyond_the_retries_is_reported_by_index(tmp_path):
    starts = np.array([[1.0, 2.0], [3.0, -1.0]])

    class Again(SlowWhereMarked):
        pass

    killer = threading.Thread(target=kill_when_ready, args=(tmp_path, []))
    killer.start()
    r = of.minimize(SlowWhereMarked(tmp_path), starts=starts, optimizer=GD(lr=0.1),
                    workers=1, retries=0)
    killer.join()
    lost = [s for s in r.starts if s.status == "failed"]
    assert [s.index for s in lost] == [1]
    assert "start 1 was lost with its worker 1 times" in lost[0].message
    assert r.starts[0].status == "converged"


BAD = [
    ("no starts", dict(starts=of.MultiStart(1)), None),
    ("K < 1", lambda: of.MultiStart(0), r"'n_starts' must be >= 1: 0"),
    ("bounds length", dict(x0=[0.0, 0.0], starts=of.MultiStart(5, bounds=[(-1, 1)] * 3)),
     r"'bounds' has 3 \(low, high\) pairs but the problem has 2 coordinates"),
    ("low > high", dict(starts=of.MultiStart(5, bounds=[(-1, 1), (2, 1)])),
     r"'bounds'\[1\] has low > high: \(2.0, 1.0\)"),
    ("bounds shape", dict(starts=of.MultiStart(5, bounds=[1, 2, 3])),
     r"'bounds' must be a sequence of \(low, high\) pairs"),
    ("sampler without bounds", dict(fun="plain", x0=[1.0], starts=of.MultiStart(5)),
     r"sampler 'uniform' needs bounds"),
    ("normal without x0", dict(starts=of.MultiStart(5, sampler="normal")),
     r"sampler 'normal' draws around x0"),
    ("unknown sampler", dict(starts=of.MultiStart(5, sampler="sobol")),
     r"unknown sampler 'sobol'"),
    ("starts shape", dict(starts=np.zeros((3, 3))),
     r"'starts' has points of 3 coordinates but the problem has 2"),
    ("starts 1-D", dict(starts=np.zeros(3)), r"'starts' must be a MultiStart or a \(K, n\)"),
    ("starts int", dict(starts=10), r"write starts=MultiStart\(10\)"),
    ("starts NaN", dict(starts=[[0.0, np.nan]]), r"'starts\[0\]' must be finite"),
    ("seed negative", dict(starts=of.MultiStart(2), seed=-1), r"'seed' must be >= 0: -1"),
    ("workers zero", dict(starts=of.MultiStart(2), workers=0), r"'workers' must be >= 1: 0"),
    ("workers unknown", dict(starts=of.MultiStart(2), workers="spark"),
     r"unknown executor 'spark'"),
    ("lambda to processes", dict(fun="lambda", x0=[1.0], starts=[[1.0], [2.0]], workers=2),
     r"cannot be sent to worker processes .* define the objective .* at module level"),
    ("workers without starts", dict(x0=[1.0, 1.0], workers=2),
     r"'workers' apply to multi-start runs"),
]


@pytest.mark.parametrize(("case", "expected"), [(b[1], b[2]) for b in BAD if b[2]],
                         ids=[b[0] for b in BAD if b[2]])
def test_bad_multistart_input_is_refused_before_any_work(case, expected):
    with pytest.raises((ValueError, TypeError, KeyError), match=expected):
        if callable(case):
            case()
            return
        kw = dict(case)
        fun = kw.pop("fun", "himmelblau")
        if fun == "plain":
            fun = np.sum
        elif fun == "lambda":
            fun = lambda x: float(x @ x)  # noqa: E731
        x0 = kw.pop("x0", None)
        of.minimize(fun, x0, **kw)


def test_history_exports_in_long_format():
    pd = pytest.importorskip("pandas")
    r = of.minimize(Quartic(), starts=[[0.5], [0.2]], optimizer=GD(lr=0.1), max_steps=30,
                    record_every=10)
    assert r.history.step.tolist() == [0, 10, 20, 30]
    df = r.history.to_pandas()
    assert isinstance(df, pd.DataFrame) and set(df["start"]) == {0, 1}
    assert list(df.columns) == ["step", "start", "fun", "grad_norm", "step_norm", "step_size"]
    assert r.history.to_csv().splitlines()[0] == ("step,start,fun,grad_norm,step_norm,"
                                                  "step_size")


def test_minima_group_each_point_with_the_first_lower_founder_within_tol():
    from optiframe.minima import distinct_minima
    from optiframe.result import StartOutcome, Status

    def out(i, x, f):
        return StartOutcome(index=i, x0=np.zeros(1), x=np.array([x]), fun=f,
                            status=Status.CONVERGED, message="", nit=1, nfev=1, njev=1)

    outcomes = [out(0, 0.0, 1.0), out(1, 0.8, 0.5), out(2, 1.7, 0.7), out(3, 5.0, 0.1),
                out(4, 0.4, 2.0)]
    minima = distinct_minima(outcomes, tol=1.0)
    # by value: 3 (5.0) founds; 1 (0.8) founds; 2 (1.7) joins 1; 0 (0.0) joins 1; 4 joins 1
    assert [(m.x.tolist(), m.count, sorted(m.starts)) for m in minima] == [
        ([5.0], 1, [3]), ([0.8], 4, [0, 1, 2, 4])]
    diverged = StartOutcome(index=5, x0=np.zeros(1), x=np.array([9.0]), fun=1.0,
                            status=Status.DIVERGED, message="", nit=1, nfev=1, njev=1)
    assert len(distinct_minima([diverged], tol=1.0)) == 0


@pytest.mark.parametrize("workers", [None, map])
def test_points_are_recorded_per_start_on_request(workers):
    starts = np.array([[0.5], [3.0], [0.1]])
    r = of.minimize(Quartic(), optimizer=GD(lr=0.1), starts=starts, max_steps=50, gtol=1e-3,
                    record_x=True, workers=workers)
    X = r.history.x
    assert X.shape == (len(r.history), 3, 1)
    np.testing.assert_array_equal(X[0], starts)
    assert np.isnan(X[-1, 1, 0])  # the diverged start stopped early
    without = of.minimize(Quartic(), optimizer=GD(lr=0.1), starts=starts, max_steps=5)
    with pytest.raises(of.InvalidArgumentError, match="record_x=True"):
        _ = without.history.x


def test_multistart_shows_a_progress_bar_on_request(capsys):
    pytest.importorskip("tqdm")
    of.minimize("himmelblau", optimizer=GD(lr=0.01), max_steps=300, gtol=0, progress=True,
                starts=of.MultiStart(8, bounds=[(-5, 5), (-5, 5)]), seed=0)
    err = capsys.readouterr().err
    assert "optiframe, 8 starts" in err and "f=" in err


def test_the_overall_status_of_a_multi_start_run():
    from optiframe.outcome import Finished
    from optiframe.result import StartOutcome

    def finished(*statuses, best=0):
        return Finished.of([StartOutcome(index=i, x0=np.zeros(1), x=np.zeros(1),
                                         fun=(0.0 if i == best else 1.0 + i), status=s,
                                         message="", nit=1, nfev=1, njev=1)
                            for i, s in enumerate(statuses)], 1)

    assert finished("line_search", "converged", "max_steps").overall(0) == "converged"
    assert finished("converged", "interrupted").overall(0) == "interrupted"
    assert finished("max_steps", "max_time", "max_time").overall(0) == "max_time"
    assert finished("max_steps", "max_time").overall(0) == "max_steps"  # a tie: the best's
    assert finished("completed", "nan").overall(0) == "completed"
    # the best start is one that ended at a point: not the diverged one, lower as it is
    f = finished("diverged", "max_steps", best=0)
    assert f.best() == 1 and f.at_a_point().tolist() == [False, True]
    # counts in the order the statuses first appear; a tie goes to the first in Status
    f = finished("max_time", "nan", "max_time", "line_search", "nan", best=3)
    assert list(f.statuses().items()) == [("max_time", 2), ("nan", 2), ("line_search", 1)]
    assert f.overall(3) == "max_time"
    assert f.at_a_point().tolist() == [True, False, True, True, False]


def stop_odd_starts_at_step_3(info):
    if info.step == 3:
        index = np.atleast_1d(info.index)
        raise StopIteration(index[index % 2 == 1])


def name_no_start(info):
    raise StopIteration([])


@pytest.mark.parametrize("workers", [None, 2])
def test_a_step_callback_can_stop_only_the_starts_it_names(workers):
    stop_odd = stop_odd_starts_at_step_3
    r = of.minimize("rastrigin", starts=of.MultiStart(6, bounds=[(-5, 5)] * 2), seed=0,
                    optimizer=GD(lr=1e-3), max_steps=50, gtol=0, callbacks=stop_odd,
                    workers=workers)
    assert [(s.status, s.nit) for s in r.starts if s.index % 2] == [("callback_stop", 3)] * 3
    assert all(s.status == "max_steps" and s.nit == 50 for s in r.starts if not s.index % 2)
    # one start: named (index 0) it stops, not named it goes on
    one = of.minimize("sphere", [1.0], optimizer=GD(lr=1e-3), max_steps=9, gtol=0,
                      callbacks=name_no_start)
    assert (one.status, one.nit) == ("max_steps", 9)


def test_minima_hold_every_final_point_and_say_how_their_starts_ended():
    # 40 starts, 30 steps of gd: none converges, every start is somewhere
    r = of.minimize("himmelblau", starts=of.MultiStart(40, bounds=[(-5, 5)] * 2), seed=0,
                    optimizer=of.GradientDescent(lr=1e-3), max_steps=30)
    assert r.status == "max_steps" and not r.success
    assert sum(m.count for m in r.minima) == 40
    assert r.minima[0].fun == r.fun and r.best_start in r.minima[0].starts
    assert all(m.statuses == {"max_steps": m.count} and not m.converged for m in r.minima)
    # with max_time every start ends max_time: still every final point is in a minimum
    r = of.minimize("himmelblau", starts=of.MultiStart(10, bounds=[(-5, 5)] * 2), seed=0,
                    max_time=1e-9)
    assert set(r.statuses()) == {"max_time"} and sum(m.count for m in r.minima) == 10
    assert r.minima[0].fun == r.fun


def test_a_multi_start_status_says_how_the_run_went_and_keeps_the_best_starts():
    # start 0 (the lowest) stops by the line search; the others converge
    class Cliff(of.Objective):
        def value(self, x):
            return float(x @ x) if x[0] > -5 else float(x @ x) - 100.0

    starts = np.array([[-6.0, 0.0], [1.0, 1.0], [2.0, -1.0]])
    r = of.minimize(Cliff(), starts=starts, bounds=[(-6, 3)] * 2, max_steps=50,
                    gradient="central")
    assert r.statuses() == {"line_search": 1, "converged": 2}
    assert (r.status, r.success, r.best_status, r.best_start) == (
        "converged", True, "line_search", 0)
    assert r.fun == r.starts[0].fun == -75.0 and r.x.tolist() == r.starts[0].x.tolist()
    assert r.minima[0].starts == (0,) and r.minima[0].statuses == {"line_search": 1}
    assert not r.minima[0].converged and r.minima[1].converged
    assert "start 0 (2 converged, 1 line_search)" in r.message


def test_diverged_starts_are_no_minimum_and_never_the_best_point():
    starts = np.array([[1.0], [0.5]])
    # lr = 1.5 on x^2 diverges from every start: no minimum, status diverged
    r = of.minimize("sphere", starts=starts, optimizer=of.GradientDescent(lr=1.5))
    assert r.status == "diverged" and r.minima == ()
