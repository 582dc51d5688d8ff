"""Bad input, written as data: each case is raised before the first step, naming the value."""

from __future__ import annotations

import numpy as np
import pytest

import optiframe as of
from tests.conftest import func1, func2

# (id, call, expected exception, message pattern)
CASES = [
    # minimize keeps a shaped x0's shape (issue 14); a Runner takes flat points
    ("x0 2-D", lambda: of.Runner(func2).run([[1.0, 2.0]]), of.InvalidArgumentError,
     r"'x0' must be 1-D .* shape \(1, 2\)"),
    ("x0 NaN", lambda: of.minimize(func2, [1.0, np.nan]), of.InvalidArgumentError,
     r"'x0' must be finite: x0\[1\] is nan"),
    ("x0 inf", lambda: of.minimize(func2, np.inf), of.InvalidArgumentError,
     r"'x0' must be finite: x0\[0\] is -?inf"),
    ("x0 string", lambda: of.minimize(func2, "1.0"), of.InvalidTypeError,
     r"'x0' must be a number"),
    ("x0 strings", lambda: of.minimize(func2, ["a", "b"]), of.InvalidTypeError,
     r"'x0' must hold real numbers, got dtype <U1"),
    ("x0 complex", lambda: of.minimize(func2, [1j]), of.InvalidTypeError,
     r"dtype complex128"),
    ("x0 bool", lambda: of.minimize(func2, [True]), of.InvalidTypeError, r"dtype bool"),
    ("x0 empty", lambda: of.minimize(func2, []), of.InvalidArgumentError,
     r"at least one coordinate"),
    ("x0 ragged", lambda: of.minimize(func2, [1.0, [2.0]]), of.InvalidTypeError,
     r"'x0' must be a 1-D array of numbers"),
    ("x0 missing", lambda: of.minimize(func2), of.InvalidArgumentError, r"'x0' is required"),
    ("returns vector", lambda: of.minimize(lambda x: x, [1.0, 2.0]), of.InvalidTypeError,
     r"must return one number, got an array of shape \(2,\)"),
    ("returns None", lambda: of.minimize(lambda x: None, [1.0]), of.InvalidTypeError,
     r"must return a real number, got NoneType"),
    ("returns str", lambda: of.minimize(lambda x: "1", [1.0]), of.InvalidTypeError,
     r"must return a real number, got str: '1'"),
    ("returns complex", lambda: of.minimize(lambda x: np.complex128(1j), [1.0]),
     of.InvalidTypeError, r"dtype complex128"),
    ("lr zero", lambda: of.GradientDescent(lr=0.0), of.InvalidArgumentError,
     r"'lr' must be > 0: 0.0"),
    ("lr negative", lambda: of.GradientDescent(lr=-0.1), of.InvalidArgumentError,
     r"'lr' must be > 0: -0.1"),
    ("lr NaN", lambda: of.GradientDescent(lr=float("nan")), of.InvalidArgumentError,
     r"'lr' must not be NaN: nan"),
    ("lr inf", lambda: of.GradientDescent(lr=float("inf")), of.InvalidArgumentError,
     r"'lr' must be finite: inf"),
    ("lr string", lambda: of.GradientDescent(lr="0.1"), of.InvalidArgumentError,
     r"'lr' must be a real number: '0.1'"),
    ("max_steps negative", lambda: of.minimize(func2, [1.0], max_steps=-1),
     of.InvalidArgumentError, r"'max_steps' must be >= 0: -1"),
    ("max_steps fractional", lambda: of.minimize(func2, [1.0], max_steps=2.5),
     of.InvalidArgumentError, r"'max_steps' must be an integer >= 0: 2.5"),
    ("max_steps bool", lambda: of.minimize(func2, [1.0], max_steps=True),
     of.InvalidArgumentError, r"'max_steps' must be an integer"),
    ("gtol negative", lambda: of.minimize(func2, [1.0], gtol=-1e-3), of.InvalidArgumentError,
     r"'gtol' must be >= 0: -0.001"),
    ("record_every 0", lambda: of.minimize(func2, [1.0], record_every=0),
     of.InvalidArgumentError, r"'record_every' must be >= 1: 0"),
    ("unknown option", lambda: of.minimize(func2, [1.0], max_step=10), of.InvalidArgumentError,
     r"unknown option 'max_step'. Did you mean 'max_steps'\?"),
    ("unknown optimizer", lambda: of.minimize(func2, [1.0], optimizer="dg"),
     of.UnknownComponentError,
     r"unknown optimizer 'dg'. Did you mean 'gd'\? Available: adagrad, adam, adamw, bfgs, gd, "
     r"lbfgs, (lion, )?momentum, nesterov, rmsprop"),
    ("unknown gradient", lambda: of.minimize(func2, [1.0], gradient="centrall"),
     of.UnknownComponentError, r"unknown gradient 'centrall'. Did you mean 'central'\?"),
    ("unknown objective", lambda: of.minimize("rosenbrok", [1.0, 1.0]),
     of.UnknownComponentError, r"Did you mean 'rosenbrock'\?"),
    ("optimizer wrong type", lambda: of.minimize(func2, [1.0], optimizer=3),
     of.InvalidTypeError, r"optimizer must be a registered name.*: 3"),
    ("mapping without name", lambda: of.minimize(func2, [1.0], optimizer={"lr": 0.1}),
     of.InvalidTypeError, r"needs a 'name' key"),
    ("fun not callable", lambda: of.minimize(42, [1.0]), of.InvalidTypeError,
     r"'fun' must be a callable"),
    ("dim mismatch", lambda: of.minimize("himmelblau", [1.0, 2.0, 3.0]),
     of.InvalidArgumentError, r"x0 has 3 coordinates but .* takes 2"),
    ("rosenbrock 1-D", lambda: of.minimize("rosenbrock", [1.0]), of.InvalidArgumentError,
     r"needs at least 2"),
    ("analytic missing", lambda: of.minimize(func1, [1.0], gradient="analytic"),
     of.InvalidArgumentError, r"has no analytic gradient.*gradient='central'"),
    ("fd step negative", lambda: of.CentralDifference(step=-1e-7), of.InvalidArgumentError,
     r"'step' must be > 0: -1e-07"),
    ("fd relative not bool", lambda: of.ForwardDifference(relative="no"), TypeError,
     r"'relative' must be <class 'bool'>"),
    ("callback not callable", lambda: of.minimize(func2, [1.0], callbacks=[1]),
     of.InvalidTypeError,
     r"'callbacks' must hold callables or objects with any of the methods .*: 1"),
    ("bounds one flat pair", lambda: of.minimize(func2, [1.0, 2.0], bounds=(0, 2)),
     of.InvalidArgumentError, r"'bounds'\[0\] must be a \(lo, hi\) pair of numbers or None: 0; "
     r"for \(0, 2\) on every coordinate give one pair a coordinate: \[\(0, 2\)\] \* n"),
    ("callbacks a number", lambda: of.minimize(func2, [1.0], callbacks=3),
     of.InvalidTypeError, r"'callbacks' must be one of, or a list of, callables or objects "
     r"with any of the methods .*: 3"),
    ("callbacks a string", lambda: of.minimize(func2, [1.0], callbacks="progress"),
     of.InvalidTypeError, r"'callbacks' must be one of, or a list of, .*: 'progress'"),
    ("epoch callbacks a number", lambda: of.Runner(func2, epoch_callbacks=3),
     of.InvalidTypeError, r"'epoch_callbacks' must be one of, or a list of, callables: 3"),
    ("record_x not bool", lambda: of.minimize(func2, [1.0], record_x="yes"),
     of.InvalidArgumentError, r"'record_x' must be True or False: 'yes'"),
    ("dim invalid", lambda: of.Sphere(dim=0), of.InvalidArgumentError,
     r"'dim' of Sphere must be an integer >= 1: 0"),
    # a per-coordinate learning rate of another length than x's: refused before any work,
    # not a numpy broadcasting error at the first step
    ("lr array too long", lambda: of.minimize(
        func2, [1.0, 2.0], optimizer=of.GradientDescent(lr=[0.1, 0.2, 0.3])),
     of.InvalidArgumentError, r"'lr' of GradientDescent must be a number or an array of one "
     r"per coordinate of x \(2\): got shape \(3,\): \[0.1, 0.2, 0.3\]"),
    ("lr array of a stack", lambda: of.minimize(
        func2, starts=np.zeros((3, 2)), optimizer=of.Adam(lr=[0.1, 0.2, 0.3])),
     of.InvalidArgumentError, r"'lr' of Adam .* \(2\): got shape \(3,\)"),
    ("lr array 2-D", lambda: of.minimize(
        func2, [1.0, 2.0], optimizer=of.Momentum(lr=[[0.1, 0.2]])),
     of.InvalidArgumentError, r"'lr' of Momentum .* got shape \(1, 2\)"),
    ("lr array in a chain", lambda: of.minimize(func2, [1.0, 2.0], optimizer=of.Chain.of(
        lr=of.optimizers.transforms.ScaleByLearningRate([0.1, 0.2, 0.3]))),
     of.InvalidArgumentError, r"'lr' of ScaleByLearningRate .* got shape \(3,\)"),
]


@pytest.mark.parametrize(("call", "exc", "pattern"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_a_clear_message(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_errors_subclass_the_builtins():
    assert issubclass(of.InvalidArgumentError, ValueError)
    assert issubclass(of.InvalidTypeError, TypeError)
    assert issubclass(of.UnknownComponentError, KeyError)
    for exc in (of.InvalidArgumentError, of.InvalidTypeError, of.UnknownComponentError,
                of.DuplicateComponentError, of.PluginError, of.RunFailedError):
        assert issubclass(exc, of.OptiframeError)


def test_no_objective_call_before_validation_fails():
    calls = []

    def f(x):
        calls.append(1)
        return float(np.sum(x**2))

    with pytest.raises(of.InvalidArgumentError):
        of.minimize(f, [1.0], max_steps=-1)
    with pytest.raises(of.UnknownComponentError):
        of.minimize(f, [1.0], optimizer="nope")
    with pytest.raises(of.InvalidArgumentError):
        of.minimize(f, [np.nan])
    with pytest.raises(of.InvalidArgumentError, match="'lr' of GradientDescent"):
        of.minimize(f, [1.0, 2.0], optimizer=of.GradientDescent(lr=[0.1, 0.2, 0.3]))
    assert calls == []


@pytest.mark.parametrize("lr", [[0.1, 0.2], [0.1], np.float64(0.1)])
def test_a_learning_rate_array_of_one_per_coordinate_or_one_for_all_runs(lr):
    r = of.minimize(func2, [1.0, 2.0], optimizer=of.GradientDescent(lr=lr), max_steps=3)
    assert r.status == "max_steps" and r.x.shape == (2,)


def test_an_optimizers_own_matrix_hyperparameter_is_not_taken_for_a_learning_rate():
    import attrs

    @attrs.frozen
    class Preconditioned(of.Optimizer):  # x <- x - P g, P an (n, n) matrix of its own
        P: np.ndarray = attrs.field(eq=False)

        def init(self, x):
            return ()

        def step(self, x, grad, state):
            return x - grad @ self.P.T, state

    P = np.array([[0.25, 0.0], [0.0, 0.5]])
    r = of.minimize(func2, [1.0, 2.0], optimizer=Preconditioned(P), max_steps=3)
    assert r.status == "max_steps"
    np.testing.assert_allclose(r.x, [0.5**3, 0.0], atol=1e-6)  # (I - 2P)^3 x0


def test_size_one_results_count_as_scalars():
    r = of.minimize(func1, np.array([2.0]), max_steps=3)
    assert isinstance(r.fun, float)
    r = of.minimize(lambda x: np.array([[np.sum(x**2)]]), [2.0, 1.0], max_steps=3)
    assert isinstance(r.fun, float)


def test_integer_x0_becomes_float():
    r = of.minimize(func2, [3, 3], optimizer=of.GradientDescent(lr=0.25), max_steps=2)
    assert r.x.dtype == np.float64
    np.testing.assert_allclose(r.x, [0.75, 0.75], rtol=1e-9)


@pytest.mark.parametrize(("call", "says"), [
    (lambda: of.minimize("sphere", [1.0, np.float64(np.nan)]), "x0[1] is nan"),
    (lambda: of.minimize("sphere", [1.0, 2.0], starts=of.MultiStart(np.int64(0))),
     "'n_starts' must be >= 1: 0"),
    (lambda: of.Adam(lr=0.1, beta1=np.float64(1.5)), "'beta1' must be in [0, 1): 1.5"),
    (lambda: of.minimize("sphere", [1.0, 2.0], starts=np.array([[1.0, np.nan]])),
     "starts[0][1] is nan"),
])
def test_numpy_numbers_in_errors_read_as_plain_numbers(call, says):
    """A value given as a numpy scalar is named as the number, not numpy's repr
    (np.float64(1.5))."""
    with pytest.raises(of.InvalidArgumentError) as err:
        call()
    assert says in str(err.value) and "np." not in str(err.value)


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"fun": lambda: 0.0}, "'fun': <lambda>() cannot be called as fun(x)"),
    ({"fun": lambda x, y: 0.0}, "'fun': <lambda>(x, y) cannot be called as fun(x)"),
    ({"jac": lambda: 0.0}, "'jac': <lambda>() cannot be called as jac(x)"),
    ({"gradient": lambda x, y: x}, "'gradient': <lambda>(x, y) cannot be called"),
    ({"fun": lambda x, a: 0.0, "args": (1.0, 2.0)},
     "cannot be called as fun(x, *args): it must take the point x and then the 2 values"),
    ({"jac": lambda x: x, "args": 2.0, "fun": lambda x, a: float(x @ x)},
     "'jac': <lambda>(x) cannot be called as jac(x, *args)"),
])
def test_a_function_of_the_wrong_signature_is_refused_before_any_evaluation(kwargs, says):
    calls = []

    def f(x, *args):
        calls.append(1)
        return float(x @ x)

    kw = dict(kwargs)
    fun = kw.pop("fun", f)
    with pytest.raises(of.InvalidTypeError) as err:
        of.minimize(fun, np.array([1.0, 2.0]), **kw)
    assert says in str(err.value)
    assert calls == []
    with pytest.raises(of.InvalidTypeError, match=r"'fun': <lambda>\(a, b\) cannot be called"):
        of.Runner(lambda a, b: 0.0)  # the Runner, before any run


@pytest.mark.parametrize("fun", [np.linalg.norm, lambda x, scale=1.0: float(x @ x),
                                 lambda *a: float(a[0] @ a[0])])
def test_functions_that_can_take_the_point_are_accepted(fun):
    assert of.minimize(fun, np.array([1.0, 2.0]), max_steps=2).nit <= 2


@pytest.mark.parametrize("method", ["Nelder-Mead", "powell", "SLSQP", "trust-constr"])
def test_scipys_other_methods_are_refused_saying_what_to_use(method):
    with pytest.raises(of.InvalidArgumentError, match=rf"method={method!r} is one of "
                       "scipy's methods that optiframe does not have: .*L-BFGS-B"):
        of.minimize("sphere", [1.0, 2.0], method=method)


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"optimizer": "adam", "lr": 0.1}, "'lr' is a hyperparameter of the optimizer (Adam's), "
     "not an option of the run: optimizer=of.Adam(lr=...) or optimizer={'name': 'adam', "
     "'lr': ...}."),
    ({"optimizer": of.Adam(), "beta1": 0.8}, "'beta1' is a hyperparameter of the optimizer "
     "(Adam's), not an option of the run: optimizer=of.Adam(beta1=...)."),
    ({"learning_rate": 0.1}, "'learning_rate' is optiframe's 'lr', a hyperparameter of the "
     "optimizer (LBFGS's)"),
    ({"lrr": 0.1}, "'lrr' is close to 'lr', a hyperparameter of the optimizer (LBFGS's)"),
    ({"max_iter": 10}, "'max_iter'. optiframe calls it 'max_steps'."),
    ({"verbose": True}, "optiframe calls it 'progress'."),
    ({"max_stepz": 5}, "Did you mean 'max_steps'?"),
])
def test_an_unknown_option_says_where_it_goes(kwargs, says):
    """A hyperparameter given as an option of the run, or another library's name for an
    option, is refused saying where it goes (it was 'unknown option', or the wrong
    suggestion: max_iter -> 'max_time')."""
    with pytest.raises(of.InvalidArgumentError) as err:
        of.minimize("rosenbrock", [1.0, 2.0], **kwargs)
    assert says in str(err.value)


def test_a_hyperparameter_of_ones_own_optimizer_is_named_too():
    """An optimizer of one's own, not an attrs class: its constructor's parameters are
    its hyperparameters (the check raised NotAnAttrsClassError)."""
    class Scaled(of.Optimizer):
        def __init__(self, rate=0.1):
            self.rate = rate

        def init(self, x):
            return None

        def step(self, x, grad, state):
            return x - self.rate * grad, state

    with pytest.raises(of.InvalidArgumentError, match=r"'rate' is a hyperparameter of the "
                       r"optimizer \(Scaled's\), not an option of the run: "
                       r"optimizer=Scaled\(rate=\.\.\.\)\."):
        of.minimize("sphere", [1.0, 2.0], optimizer=Scaled(), rate=0.2)
    with pytest.raises(of.InvalidArgumentError, match=r"unknown option 'lr'\. Options: "):
        of.minimize("sphere", [1.0, 2.0], optimizer=Scaled(), lr=0.2)
