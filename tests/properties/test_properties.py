"""Property-based tests (hypothesis): the promises hold for random problems.

For random objectives, starts and hyperparameters: no exception but the documented ones,
no mutation of the inputs, a status from the documented list, and ``fun`` equal to the
objective at ``x`` (or NaN only where no finite value was ever seen).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import optiframe as of

STATUSES = {s.value for s in of.Status}
OBJECTIVES = ["sphere", "rosenbrock", "rastrigin", "ackley", "styblinski-tang"]
OPTIMIZERS = ["gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False)
points = st.integers(2, 5).flatmap(lambda n: arrays(np.float64, n, elements=finite))
lrs = st.floats(min_value=1e-6, max_value=10.0)


def same_value(result, objective):
    if math.isnan(result.fun):
        return True
    value = objective.value(np.array(result.x))
    return value == result.fun or (math.isinf(value) and math.isinf(result.fun))


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x0=points, name=st.sampled_from(OBJECTIVES), opt=st.sampled_from(OPTIMIZERS), lr=lrs,
       gradient=st.sampled_from(["analytic", "central", "forward"]),
       max_steps=st.integers(0, 60))
def test_builtin_objectives_keep_every_promise(x0, name, opt, lr, gradient, max_steps):
    before = x0.copy()
    objective = of.get_registry().build("objective", name, of.Objective)
    r = of.minimize(objective, x0, optimizer={"name": opt, "lr": lr}, gradient=gradient,
                    max_steps=max_steps, on_interrupt="return")
    np.testing.assert_array_equal(x0, before)
    assert r.status in STATUSES
    assert r.nit <= max_steps and len(r.history) >= 1
    assert same_value(r, objective)
    assert r.success == (r.status == "converged")


def wild(x):
    """A function that overflows, turns NaN, or is flat, depending on where it is asked."""
    s = float(np.sum(x))
    if s > 50:
        return math.exp(s)  # OverflowError for large s: a Python exception
    if s < -50:
        return math.nan
    return s * s + math.sin(5 * s)


@settings(deadline=None)
@given(x0=points, lr=lrs, max_steps=st.integers(0, 40),
       detect=st.booleans())
def test_misbehaving_user_functions_end_in_a_documented_status(x0, lr, max_steps, detect):
    before = x0.copy()
    r = of.minimize(wild, x0, optimizer=of.GradientDescent(lr=lr), max_steps=max_steps,
                    detect_divergence=detect, on_interrupt="return")
    np.testing.assert_array_equal(x0, before)
    assert r.status in STATUSES
    if r.status == "diverged" and r.nit == 0:  # overflow at x0: no finite point seen
        assert r.fun == math.inf and np.array_equal(r.x, x0)
    elif r.status not in ("failed", "nan"):
        assert math.isfinite(r.fun)


@settings(deadline=None)
@given(K=st.integers(1, 12), seed=st.integers(0, 2**32 - 1), lr=st.floats(1e-4, 0.5),
       opt=st.sampled_from(OPTIMIZERS), sampler=st.sampled_from(["uniform", "lhs"]))
def test_multistart_keeps_every_promise(K, seed, lr, opt, sampler):
    r = of.minimize("himmelblau", optimizer={"name": opt, "lr": lr}, max_steps=50,
                    starts=of.MultiStart(K, sampler=sampler, bounds=[(-5, 5), (-5, 5)]),
                    seed=seed, on_interrupt="return")
    assert len(r.starts) == K and all(s.status in STATUSES for s in r.starts)
    h = of.Himmelblau()
    for s in r.starts:  # multi-start evaluates stacks of points, through values()
        assert math.isnan(s.fun) or s.fun == h.values(np.array(s.x)[None, :])[0]
        assert math.isnan(s.fun) or s.fun == h.value(np.array(s.x))
    # the best point is the best final point of a start that did not diverge (a diverged
    # start's last finite f is no minimum: issue 23)
    finite_funs = [s.fun for s in r.starts if math.isfinite(s.fun)
                   and s.status not in ("diverged", "nan", "failed")]
    if finite_funs:
        assert r.fun == min(finite_funs)
    assert sum(m.count for m in r.minima) <= K


@settings(deadline=None)
@given(n=st.integers(5, 60), batch=st.integers(1, 70), epochs=st.integers(1, 3),
       drop_last=st.booleans(), seed=st.integers(0, 1000))
def test_minibatch_runs_keep_every_promise(n, batch, epochs, drop_last, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = rng.integers(0, 3, size=n)
    X0, y0 = X.copy(), y.copy()
    obj = of.SoftmaxRegression(X, y, n_classes=3)
    try:
        r = of.minimize(obj, np.zeros(obj.dim), optimizer=of.GradientDescent(lr=0.3),
                        batch_size=batch, epochs=epochs, drop_last=drop_last, seed=seed,
                            on_interrupt="return")
    except of.InvalidArgumentError as exc:
        assert drop_last and batch > n and "batch_size" in str(exc)
        return
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    assert r.status in STATUSES and r.epochs == epochs
    per_epoch = n // batch if drop_last else -(-n // batch)
    assert r.nit == per_epoch * epochs
    assert r.fun == obj.value(np.array(r.x))


@settings(deadline=None, max_examples=40)
@given(x0=points, name=st.sampled_from(OBJECTIVES), opt=st.sampled_from(OPTIMIZERS),
       lr=st.floats(1e-4, 0.5), stop_at=st.integers(1, 40),
       every=st.one_of(st.none(), st.integers(1, 15)), multi=st.booleans())
def test_a_run_interrupted_anywhere_resumes_to_the_same_bits(x0, name, opt, lr, stop_at,
                                                               every, multi):
    import tempfile

    def interrupt(info):
        if info.step == stop_at:
            raise KeyboardInterrupt

    spec = {"name": opt, "lr": lr}
    run = {"starts": np.stack([x0, x0 * 0.5 + 0.1])} if multi else {"x0": x0}
    whole = of.Runner(name, spec, max_steps=50, on_interrupt="return").run(**run)
    with tempfile.TemporaryDirectory() as folder:
        part = of.Runner(name, spec, max_steps=50, callbacks=interrupt, checkpoint=folder,
                         checkpoint_every=every, on_interrupt="return").run(**run)
        event(f"resumed: {part.status == 'interrupted'}")
        if part.status != "interrupted":  # the run ended before stop_at
            return
        resumed = of.Runner(name, spec, max_steps=50, on_interrupt="return").resume(folder)
    assert resumed.status == whole.status and resumed.nit == whole.nit
    np.testing.assert_array_equal(resumed.x, whole.x)
    np.testing.assert_array_equal(resumed.history.fun, whole.history.fun)
