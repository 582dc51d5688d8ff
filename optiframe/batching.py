"""Which data a step sees: batch samplers, and the minibatch loop over epochs.

A batch sampler (hook ``register_batch_samplers``) splits the sample indices of one epoch
into batches; ``shuffle`` (the default) draws a new order every epoch from the run's seed,
``sequential`` keeps the data's order. The data itself is never reordered or copied:
each batch is an index array.
"""

from __future__ import annotations

import abc
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from .checkpoint import Checkpoint, Checkpointer, Snapshot, save_at_interrupt
from .data import DataObjective
from .errors import InvalidArgumentError, RunFailedError
from .gradients import AnalyticGradient
from .history import History
from .hookspecs import Register, hookimpl
from .progress import TICK, Progress
from .result import MESSAGES, Result, Status
from .stream import HistoryStream, open_stream, recording

if TYPE_CHECKING:
    from .runner import Runner


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

    def check(self, objective: Any) -> None:
        if not isinstance(objective, DataObjective):
            raise InvalidArgumentError(
                f"'batch_size' needs a data objective (a DataObjective such as "
                f"SoftmaxRegression(X, y)), not {objective!r}")
        if self.drop_last and self.batch_size > objective.n_samples:
            raise InvalidArgumentError(
                f"'batch_size' is {self.batch_size} but the data has only "
                f"{objective.n_samples} samples, and drop_last=True would leave no batch")


@attrs.frozen
class EpochInfo:
    """What an epoch callback sees: return a dict of metrics to record them."""

    epoch: int
    step: int
    x: np.ndarray
    train_loss: float


def run_batches(runner: Runner, x: np.ndarray, batching: Batching, seed: int | None,
                epoch_callbacks: Sequence[Callable[[EpochInfo], Any]],
                checkpointer: Checkpointer | None = None,
                restored: Checkpoint | None = None) -> Result:
    """Minibatch descent: ``epochs`` sweeps over the data in batches from the sampler.

    With ``restored``, go on from that checkpoint (``x`` is its parameters).
    """
    stream = open_stream(runner.stream_history, "single", x.size, None,
                         None if restored is None else restored.step, runner.record_x)
    try:
        return _run_batches(runner, x, batching, seed, epoch_callbacks, checkpointer,
                            restored, stream)
    finally:
        if stream is not None:
            stream.close()


#: The counters and values a minibatch checkpoint keeps, saved and restored in this order.
_BATCH_SCALARS = ("step", "nfev", "njev", "epoch", "position", "count", "skipped", "snorm",
                  "loss", "total", "f_limit")
#: The per-model arrays of a K-model minibatch checkpoint.
_STACK_ARRAYS = ("P", "starts0", "index", "SN", "f_limit", "BAD")


def _run_batches(runner: Runner, x: np.ndarray, batching: Batching, seed: int | None,
                 epoch_callbacks: Sequence[Callable[[EpochInfo], Any]],
                 checkpointer: Checkpointer | None, restored: Checkpoint | None,
                 stream: HistoryStream | None) -> Result:
    objective = runner.objective
    assert isinstance(objective, DataObjective)
    loss_and_grad, fev_per_grad = batch_loss_and_grad(
        objective, runner.gradient.for_objective(objective), x.size)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    history = (History(x.size, runner.record_x) if restored is None
               else restored.history(x.size, runner.record_x))
    record, xs = recording(history, stream)
    every = runner.record_every
    opt_step = runner.optimizer.step
    state = runner.optimizer.init(x)
    max_steps = runner.stop.max_steps if runner.stop_given.get("max_steps") else math.inf
    clock = time.perf_counter
    t0 = clock()
    k = nfev = njev = skipped = 0
    max_bad = runner.stop.max_bad_gradients
    from .runner import StepInfo

    callbacks = runner.step_callbacks()  # per step: fun is the batch loss
    epoch = 0
    snorm = math.nan
    f_limit: float | None = None  # set from the first batch loss
    status, detail = Status.MAX_STEPS, f"{batching.epochs} epochs"
    per_epoch = (objective.n_samples // batching.batch_size if batching.drop_last
                 else -(-objective.n_samples // batching.batch_size))
    bar = Progress.create(runner.progress, per_epoch * batching.epochs, "optiframe training")
    loss = math.nan
    first_epoch, first_pos, total, count = 1, 0, 0.0, 0
    if restored is not None:
        state = restored.tree("optimizer", state)
        (k, nfev, njev, first_epoch, first_pos, count, skipped, snorm, loss, total,
         f_limit) = (restored.scalar(name) for name in _BATCH_SCALARS)
        t0 -= restored.scalar("elapsed")
        rng.bit_generator.state = restored.rng_state("epoch_rng")
    top: dict[str, Any] | None = None

    def save(top: dict[str, Any]) -> None:
        assert checkpointer is not None
        snap = Snapshot()
        for name in _BATCH_SCALARS:
            snap.scalar(name, top[name])
        snap.scalar("elapsed", clock() - t0)
        snap.array("x", top["x"])
        snap.tree("optimizer", top["state"])
        snap.rng("epoch_rng", top["epoch_rng"])
        snap.history(history, top["step"])
        checkpointer.save(top["step"], snap)

    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(first_epoch, batching.epochs + 1):
                epoch_rng = rng.bit_generator.state if checkpointer is not None else None
                batches = batching.sampler.batches(objective.n_samples, batching.batch_size,
                                                   batching.drop_last, rng)
                if epoch > first_epoch or not first_pos:
                    total, count = 0.0, 0
                for position in range(first_pos if epoch == first_epoch else 0,
                                      len(batches)):
                    idx = batches[position]
                    if checkpointer is not None:
                        top = {"step": k, "nfev": nfev, "njev": njev, "epoch": epoch,
                               "position": position, "count": count, "snorm": snorm,
                               "loss": loss, "total": total, "f_limit": f_limit, "x": x,
                               "state": state, "epoch_rng": epoch_rng, "skipped": skipped}
                        if checkpointer.due(k):
                            save(top)
                    if bar is not None and not k % TICK:
                        bar.tick(k, loss)
                    loss, g = loss_and_grad(x, idx)
                    nfev += 1 + fev_per_grad
                    njev += 1
                    gnorm = float(np.sqrt(g @ g))
                    if k % every == 0:
                        record((k, loss, gnorm, snorm, nfev, clock() - t0))
                        if xs is not None:
                            xs.append(x)
                    if f_limit is None and math.isfinite(loss):
                        f_limit = runner.stop.divergence_limit(loss)
                    if not (loss <= (f_limit or math.inf) and math.isfinite(gnorm)):
                        if math.isnan(loss) or not math.isfinite(gnorm):
                            if skipped < max_bad and k < max_steps:
                                # skip the batch: parameters and state unchanged
                                skipped += 1
                                k += 1
                                snorm = 0.0
                                continue
                            status = Status.NAN
                            detail = (f"the batch loss or gradient is not finite at step {k}, "
                                      f"after {skipped} such batches skipped "
                                      f"(max_bad_gradients = {max_bad})")
                        else:
                            status, detail = Status.DIVERGED, f"batch loss {loss:.6g} at step {k}"
                        raise _StopEpochsError
                    if k >= max_steps:
                        status, detail = Status.MAX_STEPS, f"max_steps = {k}"
                        raise _StopEpochsError
                    x_new, state = opt_step(x, g, state)
                    d = x_new - x
                    snorm = float(np.sqrt(d @ d))
                    x = x_new
                    k += 1
                    total += loss * len(idx)
                    count += len(idx)
                    if callbacks:
                        step_info = StepInfo(k, _readonly_view(x), loss, snorm)
                        try:
                            for cb in callbacks:
                                cb(step_info)
                        except StopIteration:
                            status, detail = Status.CALLBACK_STOP, f"at step {k}"
                            raise _StopEpochsError from None
                metrics: dict[str, float] = {}
                info = EpochInfo(epoch, k, _readonly_view(x), total / max(count, 1))
                for epoch_cb in epoch_callbacks:
                    extra = epoch_cb(info)
                    if isinstance(extra, dict):
                        metrics.update({str(key): float(v) for key, v in extra.items()})
                history.epoch_log.append({"epoch": epoch, "step": k,
                                          "train_loss": info.train_loss, **metrics})
                if stream is not None:
                    stream.epoch(history.epoch_log[-1])
    except _StopEpochsError:
        pass
    except StopIteration:
        status, detail = Status.CALLBACK_STOP, f"after epoch {epoch}"
    except KeyboardInterrupt:
        history._repair()
        status, detail = Status.INTERRUPTED, f"in epoch {epoch}, at step {k}"
        detail += save_at_interrupt(save, top)
    except Exception as exc:
        history._repair()
        if bar is not None:
            bar.close(k, loss)
        message = (f"{MESSAGES[Status.FAILED]}: in epoch {epoch}, at step {k}: "
                   f"{type(exc).__name__}: {exc}.")
        result = Result(x=x, fun=math.nan, status=Status.FAILED, message=message, nit=k,
                        nfev=nfev, njev=njev, history=history)
        if runner.raise_errors:
            raise RunFailedError(message, result) from exc
        return result
    if bar is not None:
        bar.close(k, loss)
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            fun = objective.value(x)  # the loss over the whole training set, at the final x
    except KeyboardInterrupt:  # a second Ctrl-C while the final loss is computed
        fun = math.nan
        status, detail = Status.INTERRUPTED, f"{detail}; the final loss over the whole " \
            "training set was not computed"
    except Exception as exc:
        fun, status = math.nan, Status.FAILED
        detail = f"the final loss over the whole training set raised {type(exc).__name__}: {exc}"
    message = f"{MESSAGES[status]}: {detail}."
    result = Result(x=x, fun=fun, status=status, message=message, nit=k, nfev=nfev, njev=njev,
                    history=history)
    if status is Status.FAILED and runner.raise_errors:
        raise RunFailedError(message, result)
    return result


class _StopEpochsError(Exception):
    """Ends the epochs early (NaN or max_steps)."""


def _readonly_view(x: np.ndarray) -> np.ndarray:
    view = x.view()
    view.flags.writeable = False
    return view


def batch_loss_and_grad(objective: DataObjective, estimator: Any, n_params: int,
                        ) -> tuple[Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]],
                                   int]:
    """``(loss, gradient) = f(params, idx)`` on a batch, and the function evaluations per
    gradient: the objective's analytic pair in one call, or any estimator on a view of the
    batch."""
    if isinstance(estimator, AnalyticGradient):
        estimator._check(objective)
        return objective.batch_loss_and_gradient, 0
    view = objective.batch(np.arange(1))
    grad = estimator.bind(view)

    def loss_and_grad(params: np.ndarray, idx: np.ndarray) -> tuple[float, np.ndarray]:
        view.idx = idx
        return view.value(params), grad(params)

    return loss_and_grad, estimator.evaluations(view, n_params)[0]


def stack_loss_and_grad(objective: DataObjective, estimator: Any, n_params: int,
                        ) -> tuple[Callable[[np.ndarray, np.ndarray],
                                            tuple[np.ndarray, np.ndarray]], int]:
    """The same for each row of a (K, p) stack of parameters: each row by the very call a
    single-start run makes, so K models trained together give the bits each would alone."""
    one, fev_per_grad = batch_loss_and_grad(objective, estimator, n_params)

    def stacked(P: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pairs = [one(p, idx) for p in P]
        return np.array([loss for loss, _ in pairs]), np.stack([g for _, g in pairs])

    return stacked, fev_per_grad


def run_batches_stack(runner: Runner, P0: np.ndarray, index: np.ndarray, history: Any,
                      seed: int | None, checkpointer: Checkpointer | None = None,
                      restored: Checkpoint | None = None) -> list[Any]:
    """Minibatch descent for K parameter vectors at once, on one shared batch sequence.

    With ``restored``, go on from that checkpoint (``P0`` and ``index`` unused).
    """
    from .multistart import keep_rows, row_norms, take_rows
    from .result import StartOutcome

    objective, batching = runner.objective, runner.batching
    assert isinstance(objective, DataObjective) and batching is not None
    estimator = runner.gradient.for_objective(objective)
    loss_grad, fev = stack_loss_and_grad(objective, estimator, P0.shape[1])
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    P, starts0, idx = np.array(P0, dtype=float), np.array(P0, dtype=float), np.array(index)
    state = runner.optimizer.init(P)
    SN = np.full(P.shape[0], np.nan)
    f_limit = np.full(P.shape[0], np.nan)  # NaN until a row's first finite batch loss
    BAD = np.zeros(P.shape[0], dtype=np.int64)  # non-finite gradients skipped, per row
    max_bad = runner.stop.max_bad_gradients
    outcomes: list[StartOutcome] = []
    k = 0
    first_epoch, first_pos = 1, 0
    if restored is not None:
        P, starts0, idx, SN, f_limit, BAD = (restored.array(name).copy()
                                             for name in _STACK_ARRAYS)
        state = restored.tree("optimizer", runner.optimizer.init(P))
        k, first_epoch, first_pos = (restored.scalar(n) for n in ("step", "epoch", "position"))
        outcomes.extend(restored.outcomes())
        rng.bit_generator.state = restored.rng_state("epoch_rng")
    top: dict[str, Any] | None = None

    def save(top: dict[str, Any]) -> None:
        assert checkpointer is not None
        snap = Snapshot()
        for name in ("step", "epoch", "position"):
            snap.scalar(name, top[name])
        for name in _STACK_ARRAYS:
            snap.array(name, top[name])
        snap.tree("optimizer", top["state"])
        snap.rng("epoch_rng", top["epoch_rng"])
        snap.outcomes(outcomes[: top["n_outcomes"]])
        snap.starts_history(history, top["step"])
        checkpointer.save(top["step"], snap)

    def finish(rows: np.ndarray, status: Status, details: list[str]) -> None:
        for j, detail in zip(rows, details, strict=True):
            x = P[j]
            fun = objective.value(x) if status is not Status.FAILED else math.nan
            outcomes.append(StartOutcome(
                index=int(idx[j]), x0=starts0[j], x=x, fun=fun, status=status,
                message=f"{MESSAGES[status]}: {detail}.", nit=k,
                nfev=k * (1 + fev), njev=k))

    def drop(done: np.ndarray) -> None:
        nonlocal P, starts0, idx, SN, state, f_limit, BAD
        keep = ~done
        n_rows = P.shape[0]
        P, starts0, idx, SN = P[keep], starts0[keep], idx[keep], SN[keep]
        f_limit, BAD = f_limit[keep], BAD[keep]
        state = take_rows(state, keep, n_rows)

    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(first_epoch, batching.epochs + 1):
                epoch_rng = rng.bit_generator.state if checkpointer is not None else None
                batches = batching.sampler.batches(objective.n_samples, batching.batch_size,
                                                   batching.drop_last, rng)
                for position in range(first_pos if epoch == first_epoch else 0,
                                      len(batches)):
                    b = batches[position]
                    if not P.shape[0]:
                        break
                    if checkpointer is not None:
                        top = {"step": k, "epoch": epoch, "position": position, "P": P,
                               "starts0": starts0, "index": idx, "SN": SN,
                               "f_limit": f_limit.copy(), "BAD": BAD.copy(),
                               "state": state, "epoch_rng": epoch_rng,
                               "n_outcomes": len(outcomes)}
                        if checkpointer.due(k):
                            save(top)
                    L, G = loss_grad(P, b)
                    GN = row_norms(G)
                    if k % runner.record_every == 0:
                        history._record(k, idx, L, GN, SN, P if runner.record_x else None)
                    fresh = np.isnan(f_limit) & np.isfinite(L)
                    if fresh.any():
                        f_limit[fresh] = [runner.stop.divergence_limit(v) for v in L[fresh]]
                    bad = ~(((f_limit >= L) | np.isnan(f_limit)) & np.isfinite(GN)
                            & ~np.isnan(L))
                    skip = None
                    if bad.any():
                        # a NaN loss or non-finite gradient: skip the row's step, up to
                        # max_bad_gradients times
                        skip = (np.isnan(L) | ~np.isfinite(GN)) & (max_bad > BAD)
                        BAD[skip] += 1
                        bad &= ~skip
                    if bad.any():
                        rows = np.flatnonzero(bad)
                        nan = np.isnan(L[rows]) | ~np.isfinite(GN[rows])
                        if nan.any():
                            finish(rows[nan], Status.NAN, [
                                f"the batch loss ({L[r]:.6g}) or gradient is not finite at "
                                f"step {k}, after {BAD[r]} such batches skipped "
                                f"(max_bad_gradients = {max_bad})" for r in rows[nan]])
                        if (~nan).any():
                            finish(rows[~nan], Status.DIVERGED,
                                   [f"batch loss {L[r]:.6g} at step {k}" for r in rows[~nan]])
                        keep = ~bad
                        drop(bad)
                        G = G[keep]
                        skip = None if skip is None else skip[keep]
                        if not P.shape[0]:
                            break
                    P_new, state_new = runner.optimizer.step(P, G, state)
                    if skip is not None and skip.any():
                        P_new = np.where(skip[:, None], P, P_new)
                        state_new = keep_rows(state_new, state, skip, P.shape[0])
                    state = state_new
                    SN = row_norms(P_new - P)
                    P = P_new
                    k += 1
        finish(np.arange(P.shape[0]), Status.MAX_STEPS,
               [f"{batching.epochs} epochs"] * P.shape[0])
    except KeyboardInterrupt:
        note = save_at_interrupt(save, top)
        finish(np.arange(P.shape[0]), Status.INTERRUPTED, [f"at step {k}{note}"] * P.shape[0])
    except Exception as exc:
        finish(np.arange(P.shape[0]), Status.FAILED,
               [f"at step {k}: {type(exc).__name__}: {exc}"] * P.shape[0])
    return outcomes
