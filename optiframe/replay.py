"""What a stacked evaluation asked of f before it raised, given back when its rows are
evaluated again one by one.

A stack's gradient asks the objective about every row in one pass (a finite-difference
gradient: every perturbed point of every row). Where a row raises,
:func:`~optiframe.problem.traced` evaluates the rows again, one by one, to learn which
failed. For an objective asked point by point (not vectorized), :func:`point_by_point`
keeps what the pass asked (the points, their answers, and the error that ended it);
the second, row-by-row evaluation takes those answers instead of calling the user's
function again (a stochastic estimate's random directions too, :meth:`Recording.drawn`).
So each start asks f exactly what it would ask alone, and ``nfev`` counts no call twice
and misses none. (A vectorized objective answers a whole stack in one call that either
returns or raises: its failed call is not split among rows.)

A gradient is charged its whole cost in evaluations; one that raised part way did not
make them all. The evaluation that raised notes on the exception how many points it
left unasked (:func:`note_unasked`; the layers around it add theirs: later blocks, the
finer half of Richardson's differences), and whoever charges the failed gradient takes
that off (:func:`unasked`): the line search's trials, a failed row, a failed start.

Example
-------
>>> import numpy as np
>>> calls = []
>>> def f(p):
...     calls.append(float(p[0]))
...     if p[0] > 1.5:
...         raise ValueError("too far")
...     return float(p[0])
>>> P = np.array([[1.0], [2.0], [3.0]])
>>> with Recording() as record:
...     try:
...         point_by_point(f, P)
...     except ValueError:
...         record.replay()
...         first = point_by_point(f, P[:1])  # answered from the record
>>> first, calls  # 1.0 and 2.0 asked once; 3.0 not reached
(array([1.]), [1.0, 2.0])
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from contextvars import ContextVar
from operator import length_hint
from typing import Any

import numpy as np

from .objective import Objective, as_scalar


class Recording:
    """What the evaluations of one stacked call asked, while it is the current one (a
    context manager): each call's points and answers, the last one's ending in the
    error it raised; after :meth:`replay`, those answers are given back in order."""

    __slots__ = ("_answers", "_draws", "_kept", "_token")

    def __init__(self) -> None:
        self._kept: list[tuple[np.ndarray, list[Any]]] = []
        self._answers: dict[bytes, deque[Any]] | None = None
        self._draws: dict[int, np.ndarray] = {}

    def __enter__(self) -> Recording:
        self._token = _CURRENT.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _CURRENT.reset(self._token)

    @property
    def replaying(self) -> bool:
        """Whether :meth:`replay` was called."""
        return self._answers is not None

    def keep(self, points: np.ndarray, answers: list[Any]) -> None:
        """The answers (values, or the error last) to the first rows of ``points`` (a
        copy: a caller may ask about its next points in the same buffer)."""
        self._kept.append((points[:len(answers)].copy(), answers))

    def replay(self) -> None:
        """From now on, a point asked before is answered from the record (once)."""
        answers: dict[bytes, deque[Any]] = {}
        for points, said in self._kept:
            for point, answer in zip(points, said, strict=False):
                answers.setdefault(point.tobytes(), deque()).append(answer)
        self._answers, self._kept = answers, []

    def drawn(self, rng: Any, draw: Callable[[Any], np.ndarray]) -> np.ndarray:
        """``draw(rng)``, kept while recording; once replaying, what ``rng`` drew then
        (so a stochastic estimate asks the same points again, and they are answered)."""
        key = id(rng)
        if self._answers is not None and key in self._draws:
            return self._draws.pop(key)
        value = draw(rng)
        if self._answers is None:
            self._draws[key] = value
        return value

    def answer(self, point: np.ndarray) -> tuple[bool, Any]:
        """(True, the recorded answer) for a point asked before, else (False, None)."""
        answers = self._answers
        if not answers:
            return False, None
        said = answers.get(point.tobytes())
        if not said:
            return False, None
        return True, said.popleft()


_CURRENT: ContextVar[Recording | None] = ContextVar("optiframe_recording", default=None)

#: the attribute, on an exception raised part way through a gradient, that counts the
#: evaluations of f the gradient would have made and did not
_UNASKED = "_optiframe_unasked"


def current() -> Recording | None:
    """The recording of the stacked call in progress (None outside one)."""
    return _CURRENT.get()


def note_unasked(exc: BaseException, count: int, first: bool = False) -> None:
    """Add ``count`` to the evaluations ``exc`` left unasked (``first``: the innermost
    call, which sets the count afresh)."""
    before = 0 if first else exc.__dict__.get(_UNASKED, 0)
    exc.__dict__[_UNASKED] = before + count


def unasked(exc: BaseException) -> int:
    """The evaluations of f that the gradient ``exc`` ended would have made and did not
    (0 where none is noted), taken off the exception: a gradient that raised part way
    is charged what it asked."""
    return int(exc.__dict__.pop(_UNASKED, 0))


def point_by_point(call: Callable[[np.ndarray], Any], P: np.ndarray,
                   where: Any = None) -> np.ndarray:
    """``call(p)`` for each row p of ``P``: with ``where`` (the objective), each answer
    a float (:func:`~optiframe.objective.as_scalar`), as an array; without, the answers
    stacked. Outside a :class:`Recording` plainly; inside one, keeping what was asked (or
    answering from the record once it replays)."""
    record = _CURRENT.get()
    if record is None:
        if where is None:
            return np.stack([call(p) for p in P])
        points = iter(P)
        try:
            return np.array([as_scalar(call(p), where) for p in points])
        except Exception as exc:  # the points after the one that raised: not asked
            note_unasked(exc, length_hint(points), first=True)
            raise
    out: list[Any] = []
    keep = out.append  # (bound once: these loops run once per point)
    replaying = record.replaying
    try:
        if replaying:
            for p in P:
                found, answer = record.answer(p)
                if not found:
                    answer = call(p) if where is None else as_scalar(call(p), where)
                elif isinstance(answer, BaseException):
                    raise answer
                keep(answer)
        elif where is None:
            for p in P:
                keep(call(p))
        else:
            for p in P:
                keep(as_scalar(call(p), where))
    except Exception as exc:
        if not replaying:
            record.keep(P, [*out, exc])  # the points asked, the last one's error
        note_unasked(exc, len(P) - len(out) - 1 if where is not None else 0, first=True)
        raise
    if not replaying:
        record.keep(P, out)
    return np.stack(out) if where is None else np.array(out)


def asks_point_by_point(objective: Objective, analytic: bool) -> bool:
    """Whether a stack's gradient asks ``objective`` point by point (through
    :func:`point_by_point`), so that recording it pays: the ``analytic`` gradients of an
    objective that keeps :meth:`Objective.gradients`' loop, or finite differences (or
    SPSA) of an objective that is not vectorized."""
    if analytic:
        return type(objective).gradients is Objective.gradients
    return not objective.vectorized
