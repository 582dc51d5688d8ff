"""How each start of a run ended: :class:`StartOutcome`, kept column by column in
:class:`Finished` while the run goes on, and the distinct :class:`Minimum` they reach."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import numpy as np

from .status import SUCCESS, Status


def readonly(x: np.ndarray) -> np.ndarray:
    """A read-only copy; an array that is already read-only and owns its data is shared."""
    if isinstance(x, np.ndarray) and not x.flags.writeable and x.base is None:
        return x
    x = np.array(x, copy=True)
    x.flags.writeable = False
    return x


@attrs.frozen(eq=False)
class StartOutcome:
    """How one start of a multi-start run ended."""

    index: int
    x0: np.ndarray = attrs.field(converter=readonly)
    x: np.ndarray = attrs.field(converter=readonly)
    fun: float
    status: Status
    message: str
    nit: int
    nfev: int
    njev: int

    @property
    def success(self) -> bool:
        return self.status in SUCCESS


@attrs.frozen(eq=False)
class Minimum:
    """A distinct minimum: the best point of a group of final points closer than a tolerance.

    ``statuses`` says how the group's starts ended (``{"converged": 12, "max_steps": 1}``):
    a group none of whose starts converged is a place the run stopped in, not a minimum
    it has shown (``converged`` is False).
    """

    x: np.ndarray = attrs.field(converter=readonly)
    fun: float
    count: int
    starts: tuple[int, ...]
    statuses: dict[str, int] = attrs.field(factory=dict)

    @property
    def converged(self) -> bool:
        """Whether at least one of the group's starts converged."""
        return self.statuses.get(Status.CONVERGED.value, 0) > 0


def _ints(a: object) -> np.ndarray:
    return np.asarray(a, dtype=np.int64).reshape(-1)


def _floats(a: object) -> np.ndarray:
    return np.asarray(a, dtype=float).reshape(-1)


#: Status by itself and by its value: converting a thousand statuses costs a lookup each
_STATUS: dict[Any, Status] = {**{s: s for s in Status}, **{s.value: s for s in Status}}


def _statuses(values: Iterable[Any]) -> tuple[Status, ...]:
    values = tuple(values)
    if set(map(type, values)) <= {Status}:  # (a type test costs less than an enum's hash)
        return values
    try:
        return tuple(_STATUS[v] for v in values)
    except KeyError:  # not a status: Status() says which and why
        return tuple(Status(v) for v in values)


def _texts(values: Iterable[Any]) -> tuple[str, ...]:
    values = tuple(values)
    return values if set(map(type, values)) <= {str} else tuple(str(v) for v in values)


#: statuses that end a start without a final point of its own
_NO_POINT = (Status.DIVERGED, Status.NAN, Status.FAILED)


@attrs.frozen(eq=False)
class Finished:
    """Starts that have ended, one entry per start in each column; blocks made as rows
    finish are joined (:meth:`join`) and turned into :class:`StartOutcome` objects only
    when asked (:meth:`outcomes`), so a thousand starts cost a few arrays."""

    index: np.ndarray = attrs.field(converter=_ints)
    x0: np.ndarray
    x: np.ndarray
    fun: np.ndarray = attrs.field(converter=_floats)
    nit: np.ndarray = attrs.field(converter=_ints)
    nfev: np.ndarray = attrs.field(converter=_ints)
    njev: np.ndarray = attrs.field(converter=_ints)
    status: tuple[Status, ...] = attrs.field(converter=_statuses)
    message: tuple[str, ...] = attrs.field(converter=_texts)

    def __len__(self) -> int:
        return len(self.index)

    @classmethod
    def empty(cls, n: int) -> Finished:
        return cls(index=(), x0=np.empty((0, n)), x=np.empty((0, n)), fun=(), nit=(), nfev=(),
                   njev=(), status=(), message=())

    @classmethod
    def of(cls, outcomes: Sequence[StartOutcome], n: int) -> Finished:
        """The columns of ``outcomes``."""
        if not outcomes:
            return cls.empty(n)
        return cls(index=[o.index for o in outcomes], x0=np.stack([o.x0 for o in outcomes]),
                   x=np.stack([o.x for o in outcomes]), fun=[o.fun for o in outcomes],
                   nit=[o.nit for o in outcomes], nfev=[o.nfev for o in outcomes],
                   njev=[o.njev for o in outcomes], status=[o.status for o in outcomes],
                   message=[o.message for o in outcomes])

    @classmethod
    def join(cls, blocks: Sequence[Finished], n: int) -> Finished:
        """One block of every start in ``blocks``, in the order of their indices."""
        blocks = [b for b in blocks if len(b)]
        if not blocks:
            return cls.empty(n)
        if len(blocks) == 1 and bool(np.all(np.diff(blocks[0].index) > 0)):
            return blocks[0]
        index = np.concatenate([b.index for b in blocks])
        order = np.argsort(index, kind="stable")
        status = [s for b in blocks for s in b.status]
        message = [m for b in blocks for m in b.message]
        return cls(index=index[order], x0=np.concatenate([b.x0 for b in blocks])[order],
                   x=np.concatenate([b.x for b in blocks])[order],
                   fun=np.concatenate([b.fun for b in blocks])[order],
                   nit=np.concatenate([b.nit for b in blocks])[order],
                   nfev=np.concatenate([b.nfev for b in blocks])[order],
                   njev=np.concatenate([b.njev for b in blocks])[order],
                   status=[status[i] for i in order], message=[message[i] for i in order])

    def outcomes(self) -> tuple[StartOutcome, ...]:
        return tuple(StartOutcome(index=int(i), x0=x0, x=x, fun=float(f), status=s, message=m,
                                  nit=int(t), nfev=int(e), njev=int(j))
                     for i, x0, x, f, s, m, t, e, j in zip(
                         self.index.tolist(), self.x0, self.x, self.fun.tolist(), self.status,
                         self.message, self.nit.tolist(), self.nfev.tolist(),
                         self.njev.tolist(), strict=True))

    def statuses(self) -> dict[str, int]:
        """How many starts ended with each status."""
        return {status.value: count for status, count in self._counts().items()}

    def _counts(self) -> dict[Status, int]:
        """How many starts ended with each status, in the order they first appear
        (one count per status, not a Python step per start)."""
        return {s: self.status.count(s) for s in dict.fromkeys(self.status)}

    def at_a_point(self) -> np.ndarray:
        """Which starts ended at a point that counts: at a finite value, and not by
        diverging, a NaN or failing user code (whose ``x`` is only the best point seen
        before); whatever else stopped them: a budget, a line search, a step limit."""
        if not any(s in _NO_POINT for s in dict.fromkeys(self.status)):
            return np.isfinite(self.fun)
        lost = np.array([s in _NO_POINT for s in self.status], dtype=bool)
        return np.isfinite(self.fun) & ~lost

    def best(self) -> int:
        """The row of the start with the lowest value among those :meth:`at_a_point` (any
        finite value when none is; row 0 when no value is finite)."""
        usable = self.at_a_point()
        if not usable.any():
            usable = np.isfinite(self.fun)
        if not usable.any():
            return 0
        rows = np.flatnonzero(usable)
        return int(rows[np.argmin(self.fun[rows])])

    def overall(self, best: int) -> Status:
        """How the run went as a whole: ``interrupted`` when Ctrl-C cut any start short;
        else ``converged`` when any start converged (the run found a minimum it can vouch
        for), ``completed`` when any ran all its training epochs; else the status most
        starts ended with (the best start's among equals)."""
        counts = self._counts()
        for status in (Status.INTERRUPTED, Status.CONVERGED, Status.COMPLETED):
            if counts.get(status):
                return status
        most = max(counts.values())
        own = self.status[best]
        return own if counts[own] == most else next(s for s in Status
                                                    if counts.get(s) == most)
