"""The outcome of a run: the frozen :class:`Result` and, for many starts,
:class:`MultiStartResult`."""

from __future__ import annotations

import json
from typing import Any, cast

import attrs
import numpy as np

from ._files import Target, plain, write_text
from .errors import RunFailedError
from .history import History
from .outcome import Finished, Minimum, StartOutcome, readonly
from .status import MESSAGES, SUCCESS, Status

__all__ = ["MESSAGES", "GlobalResult", "Minimum", "MultiStartResult", "Result",
           "StartOutcome", "Status"]


def _rebuilt(cls: type, kwargs: dict[str, Any], cache: dict[str, Any]) -> Any:
    """A pickled result, rebuilt (see :meth:`Result.__reduce__`)."""
    result = cls(**kwargs)
    result._cache.update(cache)
    return result


def was_interrupted(result: Result) -> bool:
    """The run (or one of its starts) was stopped by Ctrl-C or SIGTERM."""
    if result.status is Status.INTERRUPTED:
        return True
    statuses = getattr(result, "statuses", None)
    return bool(statuses is not None and statuses().get("interrupted"))


class CtrlCAtTheEnd(KeyboardInterrupt):
    """Ctrl-C in a step callback at the step where every start still running ended by its
    own rules (none ends ``interrupted``): the run raises it with its ``result``, and the
    Runner hands that result to the run-end hooks, as any other, before it raises
    KeyboardInterrupt with it (``on_interrupt="raise"``)."""

    def __init__(self, result: Result) -> None:
        super().__init__(result.message)
        self.result = result


def carrying(result: Any) -> KeyboardInterrupt:
    """The KeyboardInterrupt that stops the script with ``result`` as its ``.result``
    (``on_interrupt="raise"``)."""
    stop = KeyboardInterrupt(result.message)
    stop.result = result  # type: ignore[attr-defined]
    return stop


def ctrl_c_at_the_end(on_interrupt: str, ctrl_c: bool, result: Result) -> None:
    """Ctrl-C in a step callback at the step where every start still running ended by its
    own rules, or after the loop while the run ended (held until the result was whole):
    the starts keep their verdicts, and with ``on_interrupt="raise"`` the run stops as
    Ctrl-C does all the same (:class:`CtrlCAtTheEnd`, for the Runner)."""
    if ctrl_c and on_interrupt == "raise" and not was_interrupted(result):
        raise CtrlCAtTheEnd(result)


def reraise(exc: BaseException | None, result: Result) -> None:
    """Raise the exception that failed a single-start run, with its type and traceback,
    carrying the partial result as ``.result`` and a note saying so (a RunFailedError
    when there is no exception to raise)."""
    if exc is None or isinstance(exc, RunFailedError):
        raise RunFailedError(result.message, result) from exc
    try:
        exc.result = result  # type: ignore[attr-defined]
    except AttributeError:  # an exception type that takes no attributes
        raise RunFailedError(result.message, result) from exc
    exc.add_note(f"optiframe: {result.message} The partial result (its history "
                 "included) is this exception's .result; raise_errors=False returns it as "
                 "a Result with status 'failed' instead.")
    raise exc.with_traceback(exc.__traceback__)


def _one_line(x: np.ndarray, precision: int) -> str:
    """A point for a printed result: its first and last three numbers where it has more
    than eight, on one line whatever its length."""
    return np.array2string(x, precision=precision, threshold=8, max_line_width=10**6)


@attrs.frozen(eq=False)
class Result:
    """What a run found, in scipy.optimize's vocabulary, plus its :class:`History`.

    ``success`` is True only for ``converged`` (and for a training run that ran all its
    epochs: ``completed``). For ``diverged`` and ``nan``, ``x`` and
    ``fun`` are the best finite point seen; otherwise they are the last iterate.
    """

    x: np.ndarray = attrs.field(converter=readonly)
    fun: float
    status: Status
    message: str
    nit: int
    nfev: int
    njev: int
    history: History
    #: ``gradient(x)`` of the run's objective and estimator (set by the Runner), for ``jac``
    gradient_at: Any = attrs.field(default=None, kw_only=True, repr=False)
    #: the inverse Hessian given when the result was made (see :attr:`hess_inv`)
    _hess_inv: np.ndarray | None = attrs.field(default=None, kw_only=True, repr=False)
    #: a function of no arguments that computes ``hess_inv`` on first access (set by the
    #: Runner: the optimizer's ``inverse_hessian`` of its final state)
    hess_inv_at: Any = attrs.field(default=None, kw_only=True, repr=False)
    #: what the evaluations cost with ``evaluate=`` or ``cache=`` (an
    #: :class:`~optiframe.evaluation.EvaluationStats`: real evaluations, cache hits,
    #: batches, the workers' occupancy); None otherwise
    evaluation: Any = attrs.field(default=None, kw_only=True, repr=False)
    _cache: dict[str, Any] = attrs.field(factory=dict, init=False, repr=False)

    #: the names ``r["name"]`` and ``r.keys()`` know, as scipy's ``OptimizeResult`` has them
    KEYS = ("x", "fun", "jac", "hess_inv", "status", "success", "message", "nit", "nfev",
            "njev")

    @property
    def jac(self) -> np.ndarray | None:
        """The gradient at ``x``, as scipy's ``OptimizeResult.jac``: computed on first
        access with the run's estimator (one gradient, not counted in ``nfev``), None when
        it cannot be (a stochastic estimator, or no objective)."""
        at = self.gradient_at
        return self._on_first_access("jac", None if at is None else (
            lambda: readonly(np.asarray(at(np.array(self.x)), dtype=float))))

    @property
    def hess_inv(self) -> np.ndarray | None:
        """The optimizer's inverse Hessian approximation at the end (``bfgs``; ``lbfgs``
        for n <= 500), as scipy's ``OptimizeResult.hess_inv``; None for the others.
        Computed on first access (an n x n matrix a run need not pay for)."""
        if self._hess_inv is not None:
            return self._hess_inv
        return self._on_first_access("hess_inv", self.hess_inv_at)

    def _on_first_access(self, name: str, compute: Any) -> np.ndarray | None:
        """``compute()``, once (None without it, or where it raises: an objective that
        cannot be evaluated there any more, a user optimizer's state this cannot read)."""
        if name not in self._cache:
            try:
                self._cache[name] = None if compute is None else compute()
            except Exception:
                self._cache[name] = None
        return cast("np.ndarray | None", self._cache[name])

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled without the gradient function (the run's objective may not pickle);
        a ``jac`` already computed travels with it, and so does ``hess_inv``."""
        kwargs = {a.alias: getattr(self, a.name) for a in attrs.fields(type(self))
                  if a.init and a.name not in ("gradient_at", "hess_inv_at")}
        kwargs["hess_inv"] = self.hess_inv
        return (_rebuilt, (type(self), kwargs, dict(self._cache)))

    def keys(self) -> tuple[str, ...]:
        """The names ``r[name]`` knows (scipy's ``OptimizeResult`` is a dict)."""
        return self.KEYS

    def __getitem__(self, name: str) -> Any:
        if name not in self.KEYS:
            raise KeyError(f"{name!r}: a Result has {', '.join(self.KEYS)} (and history)")
        return getattr(self, name)

    def __contains__(self, name: object) -> bool:
        return name in self.KEYS

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name) if name in self.KEYS else default

    @property
    def epochs(self) -> int:
        """How many full epochs a minibatch run completed (0 for other runs)."""
        log = getattr(self.history, "epoch_log", ())
        return len({row["epoch"] for row in log})

    @property
    def success(self) -> bool:
        """True when the run converged, or a training run completed its epochs."""
        return self.status in SUCCESS

    def to_dict(self) -> dict[str, Any]:
        """The outcome as plain values (what ``optiframe run`` writes to summary.json):
        ``status``, ``success``, ``message``, ``fun``, ``x`` (a list), ``nit``,
        ``nfev``, ``njev``; a training run's ``epochs`` and ``epoch_table``; a multi-start
        run's ``starts`` and ``minima`` too. The history has exports of its own."""
        out: dict[str, Any] = {
            "status": str(self.status), "success": self.success, "message": self.message,
            "fun": self.fun, "x": self.x.tolist(), "nit": self.nit, "nfev": self.nfev,
            "njev": self.njev}
        log = list(getattr(self.history, "epoch_log", ()) or ())
        if log:  # a training run: its per-epoch table, and its figures
            out["epochs"], out["epoch_table"] = self.epochs, log
        return out

    def to_json(self, path: Target | None = None) -> str:
        """:meth:`to_dict` as standard JSON (a non-finite number as its string:
        ``"nan"``, ``"inf"``; a value JSON has no form for, as its ``str``), written to
        ``path`` (a path or an open text file) when given; returns the text.

        >>> import optiframe as of
        >>> r = of.minimize("sphere", [1.0, 2.0])
        >>> import json; json.loads(r.to_json())["status"]
        'converged'
        """
        text = json.dumps(plain(self.to_dict()), indent=2, default=str) + "\n"
        write_text(path, text)
        return text

    def __repr__(self) -> str:
        lines = [
            f"  status: {self.status.value}",
            f" success: {self.success}",
            f" message: {self.message}",
            f"       x: {_one_line(self.x, 8)}",
            f"     fun: {self.fun!r}",
            f"     nit: {self.nit}",
            f"    nfev: {self.nfev}",
            f"    njev: {self.njev}",
            f" history: {self.history!r}",
        ]
        return "Result(\n" + "\n".join(lines) + "\n)"


#: how many distinct minima a multi-start result's repr lists (best first)
SHOWN_MINIMA = 5


@attrs.frozen(eq=False)
class MultiStartResult(Result):
    """A multi-start run: the best start as ``x``/``fun``, plus every start and the minima.

    ``status`` says how the run went as a whole (:meth:`Finished.overall`): ``converged``
    (and ``success``) when any start converged, ``interrupted`` when Ctrl-C cut starts
    short, else what most starts ended with. ``best_status`` is the best start's own
    status; ``message`` counts the statuses and gives the best start's message. ``nit`` is
    the most steps any start took, ``nfev``/``njev`` the totals; ``history`` is a
    :class:`StartsHistory`.
    """

    finished: Finished = attrs.field(default=None, repr=False)
    minima_tol: float = 1e-3
    #: the row of the best start in ``finished``
    best: int = 0
    _starts: Any = attrs.field(default=None, init=False, repr=False)
    _minima: Any = attrs.field(default=None, init=False, repr=False)

    @property
    def starts(self) -> tuple[StartOutcome, ...]:
        """How every start ended, in the order of their indices (made on first use)."""
        if self._starts is None:
            object.__setattr__(self, "_starts", self.finished.outcomes())
        return cast(tuple[StartOutcome, ...], self._starts)

    @property
    def minima(self) -> tuple[Minimum, ...]:
        """The distinct minima: final points closer than ``minima_tol`` grouped (computed
        on first use)."""
        if self._minima is None:
            from .minima import distinct_minima

            object.__setattr__(self, "_minima", distinct_minima(self.finished,
                                                                self.minima_tol))
        return cast(tuple[Minimum, ...], self._minima)

    def statuses(self) -> dict[str, int]:
        """How many starts ended with each status."""
        return self.finished.statuses()

    def to_dict(self) -> dict[str, Any]:
        """:meth:`Result.to_dict`, and every start (``index``, ``status``, ``fun``, ``x``,
        ``nit``) and the distinct minima (``x``, ``fun``, ``count``, ``statuses``)."""
        out = super().to_dict()
        out["starts"] = [{"index": s.index, "status": str(s.status), "fun": s.fun,
                          "x": s.x.tolist(), "nit": s.nit} for s in self.starts]
        out["minima"] = [{"x": m.x.tolist(), "fun": m.fun, "count": m.count,
                          "statuses": m.statuses} for m in self.minima]
        return out

    @property
    def best_status(self) -> Status:
        """How the best start (the one whose point is ``x``) ended."""
        return self.finished.status[self.best]

    @property
    def best_start(self) -> int:
        """The index of the best start."""
        return int(self.finished.index[self.best])

    def __repr__(self) -> str:
        text = super().__repr__().removesuffix("\n)")
        shown = self.minima[:SHOWN_MINIMA]
        pad = "\n" + " " * 10
        minima = "".join(
            f"{pad}f {m.fun:.6g} at {_one_line(m.x, 6)}"
            f" from {m.count} start{'s' if m.count != 1 else ''}" for m in shown)
        if len(self.minima) > len(shown):
            minima += f"{pad}... {len(self.minima) - len(shown)} more in .minima"
        return (f"{text}\n  starts: {len(self.finished)} {self.statuses()}\n"
                f"  minima: {len(self.minima)} distinct, best first{minima}\n)")


@attrs.frozen(eq=False)
class GlobalResult(MultiStartResult):
    """A global search (``of.minimize(..., strategy=...)``): a multi-start result whose
    starts are its local searches, ``nfev`` every evaluation (samples included), and
    ``trace`` the best value against the evaluations spent (``trace.nfev``,
    ``trace.best``)."""

    trace: Any = None
    strategy: str = ""

    def to_dict(self) -> dict[str, Any]:
        """:meth:`MultiStartResult.to_dict`, the ``strategy`` and the ``trace`` (the best
        value against the evaluations spent)."""
        out = super().to_dict()
        out["strategy"] = self.strategy
        if self.trace is not None:
            out["trace"] = {"nfev": list(self.trace.nfev), "best": list(self.trace.best)}
        return out

    def __repr__(self) -> str:
        text = super().__repr__().removesuffix("\n)").replace("Result(", "GlobalResult(", 1)
        trace = self.trace
        if trace is not None and trace.best:
            text += (f"\n   trace: best f {trace.best[0]:.6g} after {trace.nfev[0]} evaluations"
                     f", {trace.best[-1]:.6g} after {trace.nfev[-1]} "
                     f"({len(trace.best)} improvements; .trace)")
        return f"{text}\nstrategy: {self.strategy}\n)"
