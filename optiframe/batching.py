"""Which data a step sees: batch samplers, and :class:`Batches`, the source of each
training step's objective.

A batch sampler (hook ``register_batch_samplers``) splits the sample indices of one epoch
into batches; ``shuffle`` (the default) draws a new order every epoch from the run's seed,
``sequential`` keeps the data's order. The data itself is never reordered or copied:
each batch is an index array.

A training run is the step loop of every run with :class:`Batches` as the source of each
step's loss and gradient: the batch at the run's cursor (epoch, position). All starts of
a multi-start training run see the same batches. At each epoch's end the epoch callbacks
see every start, and the per-epoch table gets a row per start.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from typing import Any

import attrs
import numpy as np

from .data import DataObjective
from .errors import InvalidArgumentError
from .gradients import AnalyticGradient, bind_for, evaluations_for
from .hookspecs import Register, hookimpl
from .observers import EpochInfo
from .problem import RowError
from .state import BatchCursor
from .status import Status


class BatchSampler(abc.ABC):
    """Splits one epoch's sample indices into batches; subclass as a frozen attrs class."""

    @abc.abstractmethod
    def batches(self, n_samples: int, batch_size: int, drop_last: bool,
                rng: np.random.Generator) -> list[np.ndarray]:
        """The batches of one epoch, as index arrays."""


def _split(order: np.ndarray, batch_size: int, drop_last: bool) -> list[np.ndarray]:
    stop = len(order) - len(order) % batch_size if drop_last else len(order)
    return [order[i : i + batch_size] for i in range(0, stop, batch_size)]


@attrs.frozen
class ShuffledBatches(BatchSampler):
    """A new random order every epoch."""

    def batches(self, n_samples: int, batch_size: int, drop_last: bool,
                rng: np.random.Generator) -> list[np.ndarray]:
        return _split(rng.permutation(n_samples), batch_size, drop_last)


@attrs.frozen
class SequentialBatches(BatchSampler):
    """The data's own order, every epoch."""

    def batches(self, n_samples: int, batch_size: int, drop_last: bool,
                rng: np.random.Generator) -> list[np.ndarray]:
        return _split(np.arange(n_samples), batch_size, drop_last)


@hookimpl
def register_batch_samplers(register: Register) -> None:
    register("shuffle", ShuffledBatches)
    register("sequential", SequentialBatches)


@attrs.frozen
class Batching:
    """The minibatch settings of a run, checked against the data before any work."""

    batch_size: int
    epochs: int
    drop_last: bool
    sampler: BatchSampler

    @property
    def per_epoch(self) -> Callable[[int], int]:
        """The number of batches in an epoch of ``n`` samples."""
        return lambda n: n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def check(self, objective: Any) -> None:
        if not isinstance(objective, DataObjective):
            raise InvalidArgumentError(
                f"'batch_size' needs a data objective (a DataObjective such as "
                f"SoftmaxRegression(X, y)), not {objective!r}")
        if self.drop_last and self.batch_size > objective.n_samples:
            raise InvalidArgumentError(
                f"'batch_size' is {self.batch_size} but the data has only "
                f"{objective.n_samples} samples, and drop_last=True would leave no batch")


def batch_loss_and_grad(objective: DataObjective, estimator: Any, n_params: int,
                        bounds: Any = None,
                        ) -> tuple[Callable[..., tuple[float, np.ndarray]], int]:
    """``(loss, gradient) = f(params, idx)`` on a batch (``f(params, idx, rngs)`` for a
    stochastic estimator), and the function evaluations per gradient: the objective's
    analytic pair in one call, or any estimator on a view of the batch."""
    if isinstance(estimator, AnalyticGradient):
        estimator._check(objective)
        return objective.batch_loss_and_gradient, 0
    view = objective.batch(np.arange(1))
    grad = bind_for(estimator, view, bounds)

    def loss_and_grad(params: np.ndarray, idx: np.ndarray, *rngs: Any,
                      ) -> tuple[float, np.ndarray]:
        view.idx = idx
        return view.value(params), grad(params, *rngs)

    return loss_and_grad, evaluations_for(estimator, view, n_params, bounds)[0]


class Batches:
    """The source of each training step's loss and gradient: the batch at the cursor.

    ``measure(s, X)`` gives the batch loss and gradient of every row at the cursor's
    batch; ``moved`` is the cursor after the step (committed with it); ``end_epoch``
    runs at an epoch's end: the epoch callbacks and table, then the next epoch, or the end
    of the run after the last one. The batch order of an epoch comes from the sampler and
    a generator seeded by the run's seed; the cursor keeps the generator's state at the
    epoch's start, so a checkpoint restores the order without storing it.
    """

    def __init__(self, objective: DataObjective, batching: Batching, estimator: Any,
                 point: bool, n: int, seed: int | None, stop: Any, bounds: Any = None) -> None:
        self.objective, self.batching, self._stop = objective, batching, stop
        self.rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
        self._loss_and_grad: Callable[..., tuple[Any, np.ndarray]]
        if point:
            self._loss_and_grad, fev = batch_loss_and_grad(objective, estimator, n, bounds)
        else:
            one, fev = batch_loss_and_grad(objective, estimator, n, bounds)
            self._loss_and_grad = _traced_pairs(one)
        self.fev = 1 + fev  # the batch loss counts, then what the gradient costs
        self.order: list[np.ndarray] = []
        self.log: Any = None  # the history's per-epoch table

    def _draw(self, cursor: BatchCursor) -> None:
        b = self.batching
        self.order = b.sampler.batches(self.objective.n_samples, b.batch_size, b.drop_last,
                                       self.rng)

    def begin(self, s: Any) -> None:
        """Put ``s`` at the start of the first epoch."""
        rows = None if s.point else len(s.index)
        s.cursor = BatchCursor(1, 0, dict(self.rng.bit_generator.state),
                               0.0 if rows is None else np.zeros(rows),
                               0 if rows is None else np.zeros(rows, dtype=np.int64))
        self._draw(s.cursor)

    def restore(self, s: Any) -> None:
        """Go on from ``s.cursor`` (a resumed run): the same batches as the run that saved
        it."""
        self.rng.bit_generator.state = s.cursor.epoch_rng
        self._draw(s.cursor)

    def epoch_done(self, cursor: BatchCursor) -> bool:
        """Whether the cursor's epoch has no batch left (or the run is past its epochs: a
        checkpoint written when the epochs ran out, resumed)."""
        return cursor.position >= len(self.order) or cursor.epoch > self.batching.epochs

    def measure(self, cursor: BatchCursor, X: np.ndarray, *rngs: Any) -> tuple[Any, np.ndarray]:
        """The batch loss and gradient of every row at the cursor's batch (``rngs``: the
        rows' random streams, for a stochastic estimator)."""
        return self._loss_and_grad(X, self.order[cursor.position], *rngs)

    def alarm(self, L: Any, s: Any) -> bool:
        """Whether a batch loss needs a verdict (NaN, or above the divergence limit, which
        the first finite batch loss of each start sets)."""
        if s.point:
            if s.f_limit != s.f_limit and math.isfinite(L):
                s.f_limit = self._limit(L)
            return not s.f_limit >= L if s.f_limit == s.f_limit else L != L
        fresh = np.isnan(s.f_limit) & np.isfinite(L)
        if fresh.any():
            s.f_limit = np.where(fresh, [self._limit(v) if math.isfinite(v) else math.nan
                                         for v in L.tolist()], s.f_limit)
        return bool(np.isnan(L).any() or (s.f_limit < L).any())

    def _limit(self, loss: float) -> float:
        return self._stop.divergence_limit(loss)

    def moved(self, c: BatchCursor, losses: Any, point: bool) -> BatchCursor:
        """The cursor ``c`` after a step on its batch: the next position, and the losses
        (None, or NaN for a row, when the batch was skipped) added to the epoch's totals."""
        m = len(self.order[c.position])
        if point:
            total, count = (c.total, c.count) if losses is None else (
                c.total + losses * m, c.count + m)
        else:
            seen = ~np.isnan(losses)
            total = c.total + np.where(seen, losses, 0.0) * m
            count = c.count + seen * m
        return BatchCursor(c.epoch, c.position + 1, c.epoch_rng, total, count)

    def end_epoch(self, s: Any, w: Any) -> None:
        """The epoch at the cursor is over: every running start's epoch callbacks and
        table row (StopIteration from a callback stops that start), then the next epoch,
        then the epoch-stage stop rules (each start's epoch loss in the view's ``F``).
        After the last epoch (the ``Epochs`` rule) the checkpoint is written at the
        start of the next (so that a resumed run with more ``epochs`` goes on) and every
        start ends ``completed``."""
        from .settle import finish_rows
        from .stop_rules import RuleView, stage_verdicts

        c = s.cursor
        epochs = self.batching.epochs
        losses = np.full(s.running, np.nan)  # each start's mean loss over the epoch
        if c.epoch <= epochs:
            entries, stopped = [], []
            totals, counts = np.atleast_1d(c.total), np.atleast_1d(c.count)
            for r in range(s.running):
                x = (s.X if s.point else s.X[r]).view()
                x.flags.writeable = False
                index = 0 if s.point else int(s.index[r])
                losses[r] = loss = float(totals[r] / max(int(counts[r]), 1))
                metrics, stop = w.epoch(EpochInfo(c.epoch, s.k, x, loss, index))
                if stop:  # early stopping keeps the epoch it stopped in
                    stopped.append(r)
                entries.append((index, {"epoch": c.epoch, "step": s.k, "train_loss": loss,
                                        **metrics}))
            state = dict(self.rng.bit_generator.state)
            rows = s.running
            for index, entry in entries:
                self.log(index, entry)
            s.cursor = BatchCursor(c.epoch + 1, 0, state, 0.0 if s.point else np.zeros(rows),
                                   0 if s.point else np.zeros(rows, dtype=np.int64))
            self._draw(s.cursor)
            if stopped:
                finish_rows(s, w.p, stopped, [(Status.CALLBACK_STOP, f"after epoch {c.epoch}")]
                            * len(stopped), resumable=False)  # (the epoch is logged)
                losses = np.delete(losses, stopped)
        # the epoch-stage rules: the epochs ran out (the gate: one comparison), rules of
        # the run's own (asked after every epoch)
        if s.running and (s.cursor.epoch > epochs or "epoch" in w.p.gates.asked):
            done, _, verdicts = stage_verdicts(w.p.gates.epoch, RuleView(s, w.p, F=losses))
            if done.any():
                w.budget_end(s)  # a resumed run with more epochs goes on
                finish_rows(s, w.p, np.flatnonzero(done), verdicts)


def epoch_to_log(batches: Batches | None, cursor: BatchCursor | None) -> bool:
    """Whether a training run's cursor is at an epoch that is over but not yet ended (its
    callbacks and table rows to come: a checkpoint written by Ctrl-C after its last
    step or in its epoch callbacks), so a run resumed from it logs that epoch again."""
    return (batches is not None and cursor is not None
            and cursor.position >= len(batches.order)
            and cursor.epoch <= batches.batching.epochs)


def _traced_pairs(one: Callable[..., tuple[float, np.ndarray]],
                  ) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """The batch loss and gradient of each row of a stack, each by the very call a
    single-model run makes (so K models trained together give the bits each would
    alone); rows that raise fail on their own (:class:`~optiframe.problem.RowError`)."""
    def stacked(P: np.ndarray, idx: np.ndarray, *rngs: Any) -> tuple[np.ndarray, np.ndarray]:
        L = np.full(P.shape[0], np.nan)
        G = np.full(P.shape, np.nan)
        errors: dict[int, BaseException] = {}
        for i, p in enumerate(P):
            try:
                L[i], G[i] = one(p, idx, *([r[i]] for r in rngs))
            except (OverflowError, FloatingPointError):
                pass  # a non-finite loss: the batch is skipped for this row
            except Exception as exc:
                errors[i] = exc
        if errors:
            raise RowError(G, errors, L)
        return L, G

    return stacked
