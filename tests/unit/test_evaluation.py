"""Expensive objectives: evaluate= (points evaluated in batches on a pool), the cache, and
what happens when a worker dies, hangs or the user presses Ctrl-C (optiframe.evaluation)."""

from __future__ import annotations

import numpy as np
import pytest
from evaluation_helpers import (
    Counted,
    ExitsOnce,
    HangsNearZero,
    InterruptsOnce,
    raises_near_zero,
    rosen,
    rosen_der,
    rosen_rows,
)

import optiframe as of
from optiframe.evaluation import EvaluationStats, ParallelObjective

X0 = [-1.2, 1.0, -1.2, 1.0]


def same_run(a, b):
    assert a.status == b.status and a.nit == b.nit
    assert np.array_equal(a.x, b.x) and a.fun == b.fun
    assert np.array_equal(a.history.fun, b.history.fun)


@pytest.mark.parametrize("options", [
    dict(gradient="central"),
    dict(gradient="forward", optimizer="bfgs", max_steps=60),
    dict(gradient="central", optimizer=of.GradientDescent(lr=1e-3), max_steps=40),
    dict(gradient="central", bounds=[(-1.0, 0.5)] * 4),
], ids=["lbfgs-central", "bfgs-forward", "gd", "bounded"])
def test_the_iterates_on_a_pool_are_the_serial_runs_bit_for_bit(options):
    serial = of.minimize(rosen, X0, **options)
    pooled = of.minimize(rosen, X0, evaluate=2, **options)
    same_run(serial, pooled)
    # nfev counts real evaluations: those the serial run made, less the repeated points
    assert pooled.nfev + pooled.evaluation.cache_hits == serial.nfev
    assert pooled.evaluation.evaluations == pooled.nfev
    assert pooled.evaluation.batches > 0 and pooled.evaluation.workers == 2


def test_a_stack_of_starts_shares_one_pool_and_keeps_its_bits():
    starts = of.MultiStart(n_starts=4, bounds=[(-2, 2)] * 3)
    serial = of.minimize(rosen, None, starts=starts, seed=3, max_steps=30)
    pooled = of.minimize(rosen, None, starts=starts, seed=3, max_steps=30, evaluate=2)
    assert np.array_equal(serial.x, pooled.x) and serial.fun == pooled.fun
    assert serial.statuses() == pooled.statuses()


def test_an_objective_that_takes_a_stack_is_sent_in_slices_and_keeps_its_bits():
    f = of.FunctionObjective.from_callable(rosen_rows, vectorized=True)
    serial = of.minimize(f, X0, gradient="central")
    pooled = of.minimize(f, X0, gradient="central", evaluate=2)
    same_run(serial, pooled)


def test_a_point_evaluated_twice_is_served_by_the_cache_and_nfev_counts_real_calls():
    f = Counted(rosen)
    obj = ParallelObjective(of.FunctionObjective.from_callable(f), map, cache=8)
    P = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]])
    first = obj.values(P)
    again = obj.values(P[:1])
    assert first[0] == first[2] == again[0] == rosen(P[0])
    assert f.calls == 2 and obj.stats().cache_hits == 2 and obj.stats().evaluations == 2


def test_the_cache_is_bounded_and_drops_the_least_recently_used_point():
    f = Counted(rosen)
    obj = ParallelObjective(of.FunctionObjective.from_callable(f), map, cache=2)
    a, b, c = np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]), np.array([[2.0, 1.0]])
    for p in (a, b, a, c):  # a is used again, so b is the one dropped for c
        obj.values(p)
    assert f.calls == 3
    obj.values(a)
    assert f.calls == 3  # still cached
    obj.values(b)
    assert f.calls == 4  # dropped
    assert len(obj.cache.values) == 2


def test_a_global_search_counts_real_evaluations_and_its_cache_hits():
    f = Counted(rosen)
    r = of.minimize(f, bounds=[(-2, 2)] * 2, strategy="tiktak", max_nfev=400, seed=0,
                    cache=4096)
    assert r.evaluation.cache_hits > 0  # local searches start at sampled points
    assert r.nfev == f.calls == r.evaluation.evaluations
    assert r.nfev <= 400


def test_the_result_says_what_the_evaluations_cost():
    r = of.minimize(rosen, X0, gradient="central", cache=16, max_steps=5)
    stats = r.evaluation
    assert isinstance(stats, EvaluationStats)
    assert stats.evaluations == r.nfev and 0.0 <= stats.occupancy <= 1.0
    assert "evaluations" in str(stats)
    assert of.minimize(rosen, X0, max_steps=5).evaluation is None


def test_a_worker_that_dies_mid_gradient_is_replaced_and_the_run_keeps_its_bits(tmp_path):
    marker = str(tmp_path / "died")
    serial = of.minimize(rosen, X0, gradient="central", max_steps=10)
    pooled = of.minimize(ExitsOnce(marker), X0, gradient="central", max_steps=10,
                         evaluate=2)
    assert (tmp_path / "died").exists()  # a worker did die
    same_run(serial, pooled)


def test_an_evaluation_past_eval_timeout_fails_the_run_and_keeps_its_history():
    r = of.minimize(HangsNearZero(0.5), [3.0, 3.0], gradient="central",
                    optimizer=of.GradientDescent(lr=0.1), evaluate=2, eval_timeout=1.0,
                    raise_errors=False)
    assert r.status == "failed"
    assert "timeout of 1 s" in r.message and "EvaluationError" in r.message
    assert r.nit >= 5 and len(r.history) == r.nit + 1
    assert np.max(np.abs(r.x)) < 0.7  # the last whole step


def test_an_objective_that_raises_on_a_worker_fails_the_run_with_its_own_error():
    with pytest.raises(ValueError, match=r"no model below 0\.2") as info:
        of.minimize(raises_near_zero, [0.9, 0.9], gradient="central",
                    optimizer=of.GradientDescent(lr=0.1), evaluate=2, max_steps=50)
    assert info.value.result.status == "failed"
    assert info.value.result.nit >= 5  # the steps before are kept


def test_ctrl_c_mid_gradient_stops_the_pool_and_the_run_resumes_to_the_same_bits(tmp_path):
    folder = tmp_path / "ck"
    f = InterruptsOnce(str(tmp_path / "sent"), at=60)
    runner = of.Runner(f, gradient="central", evaluate=2, checkpoint=folder,
                       checkpoint_every=1, on_interrupt="return", max_steps=40)
    stopped = runner.run(X0)
    assert stopped.status == "interrupted" and 0 < stopped.nit < 40
    resumed = of.Runner(f, gradient="central", evaluate=2, checkpoint=folder,
                        checkpoint_every=1, max_steps=40).resume()
    serial = of.minimize(rosen, X0, gradient="central", max_steps=40)
    assert np.array_equal(resumed.x, serial.x) and resumed.nit == serial.nit
    assert np.array_equal(resumed.history.fun, serial.history.fun)


def test_the_progress_bar_shows_evaluations_per_second_and_the_pool(capsys):
    pytest.importorskip("tqdm")
    of.minimize(rosen, X0, gradient="central", evaluate=2, max_steps=3, progress=True)
    err = capsys.readouterr().err
    assert "evals/s" in err and "pool" in err


@pytest.mark.parametrize("kwargs, words", [
    (dict(evaluate=0), "'evaluate' must be >= 1: 0"),
    (dict(evaluate=True), "'evaluate' must be a number of worker processes"),
    (dict(evaluate="nope"), "nope"),
    (dict(eval_timeout=5.0), "'eval_timeout' needs 'evaluate'"),
    (dict(evaluate=map, eval_timeout=5.0), "'eval_timeout' needs workers that can stop"),
    (dict(evaluate=2, eval_timeout=-1.0), "eval_timeout"),
    (dict(evaluate=2, cache=-1), "'cache'"),
    (dict(evaluate=2, workers=2, starts=np.zeros((2, 4))), "not both"),
])
def test_bad_evaluation_options_are_refused_before_any_work(kwargs, words):
    f = Counted(rosen)
    with pytest.raises((ValueError, TypeError, KeyError), match=words.replace("(", r"\(")):
        of.minimize(f, X0, **kwargs)
    assert f.calls == 0


def test_an_objective_workers_cannot_receive_is_refused_before_any_work():
    with pytest.raises(ValueError, match="cannot be sent to worker processes"):
        of.minimize(lambda x: float(x @ x), [1.0, 2.0], evaluate=2)


def test_training_runs_refuse_evaluate():
    rng = np.random.default_rng(0)
    model = of.LeastSquares(rng.standard_normal((20, 2)), rng.standard_normal(20))
    with pytest.raises(ValueError, match="full-batch runs"):
        of.minimize(model, np.zeros(model.dim), batch_size=5, evaluate=2)


def test_the_pool_lives_for_the_run_and_is_stopped_after_it():
    runner = of.Runner(rosen, gradient="central", evaluate=2, max_steps=5, cache=0)
    runner.run(X0)
    assert runner.objective._executor is None  # stopped at the end of the run
    with runner.evaluating():  # several runs can share one pool
        runner.run(X0)
        pool = runner.objective._executor
        assert pool is not None and pool.alive == 2
        runner.run(X0)
        assert runner.objective._executor is pool
    assert runner.objective._executor is None


def test_a_run_checkpointed_on_a_pool_resumes_in_one_process_and_the_other_way(tmp_path):
    serial = of.minimize(rosen, X0, gradient="central", max_steps=30)
    for first, then in ((2, None), (None, 2)):
        folder = tmp_path / f"ck-{first}"
        of.Runner(rosen, gradient="central", evaluate=first, checkpoint=folder,
                  max_steps=12).run(X0)
        r = of.Runner(rosen, gradient="central", evaluate=then, checkpoint=folder,
                      max_steps=30).resume()
        assert np.array_equal(r.x, serial.x) and r.nit == serial.nit


def test_parallel_armijo_takes_the_longest_length_of_each_batch_that_decreases_f_enough():
    x0 = np.array([-1.2, 1.0])
    search = of.Armijo(parallel=4)
    r = of.minimize(rosen, x0, jac=rosen_der, max_steps=1,
                    optimizer=of.GradientDescent(lr=1.0, line_search=search))
    g, f0 = rosen_der(x0), rosen(x0)
    d = -g
    expected, spent = None, 1  # f(x0)
    for i in range(40):  # rounds of 4 lengths: 1, 1/2, 1/4, 1/8, then 1/16, ...
        a = 0.5 ** i
        spent += 1 if i % 4 == 0 else 0
        if rosen(x0 + a * d) <= f0 + 1e-4 * (g @ (a * d)):
            expected = x0 + a * d
            break
    assert expected is not None and np.array_equal(r.x, expected)
    assert r.nfev == 1 + 4 * (i // 4 + 1)  # every trial of every round counts


def test_parallel_armijo_is_reproducible_with_or_without_a_pool_and_saves_rounds():
    opt = of.GradientDescent(lr=1.0, line_search=of.Armijo(parallel=4))
    alone = of.minimize(rosen, X0, optimizer=opt, gradient="central", max_steps=60)
    pooled = of.minimize(rosen, X0, optimizer=opt, gradient="central", max_steps=60,
                         evaluate=2)
    same_run(alone, pooled)
    one_at_a_time = of.minimize(
        rosen, X0, gradient="central", max_steps=60, evaluate=2,
        optimizer=of.GradientDescent(lr=1.0, line_search="armijo"))
    # the same steps' gradients, and fewer rounds of trials
    assert pooled.evaluation.batches < one_at_a_time.evaluation.batches


def test_parallel_armijo_on_a_stack_keeps_each_start_its_own_bits():
    opt = of.GradientDescent(lr=1.0, line_search=of.Armijo(parallel=3))
    X = np.array([[-1.2, 1.0, 0.5], [2.0, 2.0, 2.0], [0.0, 0.0, 0.0]])
    stack = of.minimize(rosen, None, starts=X, optimizer=opt, gradient="central",
                        max_steps=40)
    for k, x in enumerate(X):
        one = of.minimize(rosen, x, optimizer=opt, gradient="central", max_steps=40)
        assert np.array_equal(one.x, stack.starts[k].x) and one.nfev == stack.starts[k].nfev


def test_without_a_cache_a_point_that_comes_twice_is_evaluated_twice():
    f = Counted(rosen)
    obj = ParallelObjective(of.FunctionObjective.from_callable(f), map, cache=0)
    obj.values(np.array([[1.0, 2.0], [1.0, 2.0]]))
    obj.values(np.array([[1.0, 2.0]]))
    assert f.calls == 3 and obj.stats().cache_hits == 0


def test_a_global_search_refuses_workers_with_evaluate_before_any_evaluation():
    f = Counted(rosen)
    with pytest.raises(ValueError, match="not both"):
        of.minimize(f, bounds=[(-2, 2)] * 2, strategy="tiktak", max_nfev=200,
                    workers=2, evaluate=map)  # evaluated here: the count would show it
    assert f.calls == 0


def test_a_sweep_refuses_workers_with_evaluate_before_any_row():
    f = Counted(rosen)
    with pytest.raises(ValueError, match="not both"):
        of.sweep(f, X0, gradient="central", max_steps=[5, 10], workers=2, evaluate=map)
    assert f.calls == 0


def test_a_resumed_run_with_a_cache_counts_the_real_evaluations_of_both_parts(tmp_path):
    # the cache is not saved in the checkpoint: a resumed run's nfev counted the
    # evaluations its checkpoint held as asked, cache hits among them, as real ones. The
    # checkpoint now keeps the cache hits of the part before it
    import warnings

    class CtrlCAt:
        armed = False

        def on_step(self, info):
            if self.armed and info.step == 5:
                self.armed = False
                raise KeyboardInterrupt

    f, ctrl_c = Counted(rosen), CtrlCAt()
    kw = dict(optimizer=of.GradientDescent(lr=1e-3), gradient="central", max_steps=12,
              cache=4096, checkpoint=tmp_path)
    runner = of.Runner(f, **kw, callbacks=[ctrl_c], on_interrupt="return")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = runner.run([-1.2, 1.0])  # (fills the cache: the run below repeats it)
        ctrl_c.armed, before = True, f.calls
        part = runner.run([-1.2, 1.0])
    assert part.status == "interrupted" and part.nit == 5 and f.calls == before
    assert part.nfev == 0 and part.evaluation.cache_hits > 0  # (every point a hit)
    before = f.calls
    back = of.Runner(f, **kw).resume()  # (a new cache: every point of its part is real)
    assert back.nit == whole.nit == 12 and back.fun == whole.fun
    assert back.nfev == f.calls - before  # the real evaluations: the resumed part's
    assert back.nfev < whole.nfev
    # its evaluation describes both parts (before, the resumed part alone: the hits of
    # the part before its checkpoint were missing)
    assert back.evaluation.evaluations == back.nfev
    assert back.nfev + back.evaluation.cache_hits == whole.nfev + whole.evaluation.cache_hits


def test_a_resumed_run_keeps_the_evaluation_stats_of_the_part_before_its_checkpoint(
        tmp_path):
    import json
    import warnings

    kw = dict(optimizer=of.GradientDescent(lr=1e-3), gradient="central", max_steps=8,
              cache=4096, checkpoint=tmp_path)
    plain = {k: v for k, v in kw.items() if k != "cache"}
    f = Counted(rosen)

    def part_with_hits():
        runner = of.Runner(f, **{**kw, "max_steps": 4})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runner.run([-1.2, 1.0])  # (the runner's cache filled: every point below a hit)
            return runner.run([-1.2, 1.0])

    part = part_with_hits()
    saved = json.loads((tmp_path / "checkpoint.json").read_text())["evaluation"]
    # as of its last whole step: the gradient at step 4, measured before the step limit
    # stopped the run, is not in it (the resumed run measures it again)
    assert part.nfev == 0 == saved["evaluations"] and part.evaluation.evaluations == 0
    assert saved["cache_hits"] == part.evaluation.cache_hits - 4 > 0
    # resumed with a cache of its own (empty): the hits of both parts, its own evaluations
    before = f.calls
    back = of.Runner(f, **kw).resume()
    assert back.evaluation.cache_hits >= saved["cache_hits"]
    assert back.evaluation.evaluations == back.nfev == f.calls - before > 0
    whole = of.minimize(f, [-1.2, 1.0], **{**kw, "checkpoint": None})
    assert back.nfev + back.evaluation.cache_hits == whole.nfev + whole.evaluation.cache_hits
    # a run without a cache keeps no stats in its checkpoint
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        of.Runner(f, **{**plain, "max_steps": 4}).run([-1.2, 1.0])
    assert "evaluation" not in json.loads((tmp_path / "checkpoint.json").read_text())
    # resumed without a cache: no stats of its own, but the part before's hits are still
    # not real evaluations (before: counted as real)
    part_with_hits()
    before = f.calls
    bare = of.Runner(f, **plain).resume()
    assert bare.evaluation is None and bare.nit == 8
    assert bare.nfev == f.calls - before > 0


def test_evaluation_stats_add_up_and_round_trip_through_json():
    a = EvaluationStats(3, 2, 1, 0.5, 0.25, 2)
    b = EvaluationStats(4, 0, 2, 1.5, 1.0, 4)
    assert a.plus(b) == EvaluationStats(7, 2, 3, 2.0, 1.25, 4)
    assert EvaluationStats.from_json(a.to_json()) == a
    with pytest.raises(ValueError, match="JSON object"):
        EvaluationStats.from_json([1, 2])


def test_a_checkpoint_that_kept_its_cache_hits_alone_carries_them():
    from types import SimpleNamespace

    from optiframe.errors import CheckpointError
    from optiframe.runs import carried_evaluations

    def carried(meta):
        return carried_evaluations(SimpleNamespace(meta=meta))

    assert carried({"cache_hits": 7}) == EvaluationStats(0, 7, 0, 0.0, 0.0, 0)
    assert carried({}) is None and carried({"cache_hits": 0}) is None
    stats = EvaluationStats(3, 2, 1, 0.5, 0.25, 2)
    assert carried({"evaluation": stats.to_json(), "cache_hits": 9}) == stats
    with pytest.raises(CheckpointError, match="evaluation stats"):
        carried({"evaluation": "3 evaluations"})
