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

from .data import DataObjective
from .errors import InvalidArgumentError, RunFailedError
from .gradients import AnalyticGradient
from .history import History
from .hookspecs import Register, hookimpl
from .result import MESSAGES, Result, Status

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
                epoch_callbacks: Sequence[Callable[[EpochInfo], Any]]) -> Result:
    """Minibatch descent: ``epochs`` sweeps over the data in batches from the sampler."""
    objective = runner.objective
    assert isinstance(objective, DataObjective)
    estimator = runner.gradient.for_objective(objective)
    if isinstance(estimator, AnalyticGradient):
        estimator._check(objective)
        loss_and_grad = objective.batch_loss_and_gradient
        fev_per_grad = 0
    else:
        view = objective.batch(np.arange(1))
        grad = estimator.bind(view)
        fev_per_grad = estimator.evaluations(view, x.size)[0]

        def loss_and_grad(params: np.ndarray, idx: np.ndarray) -> tuple[float, np.ndarray]:
            view.idx = idx
            return view.value(params), grad(params)

    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed)))
    history = History(x.size, runner.record_x)
    record = history._rows.extend
    xs = history._xs
    every = runner.record_every
    opt_step = runner.optimizer.step
    state = runner.optimizer.init(x)
    max_steps = runner.stop.max_steps if runner.stop_given.get("max_steps") else math.inf
    clock = time.perf_counter
    t0 = clock()
    k = nfev = njev = 0
    epoch = 0
    snorm = math.nan
    f_limit: float | None = None  # set from the first batch loss
    status, detail = Status.MAX_STEPS, f"{batching.epochs} epochs"
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for epoch in range(1, batching.epochs + 1):
                total, count = 0.0, 0
                for idx in batching.sampler.batches(objective.n_samples, batching.batch_size,
                                                    batching.drop_last, rng):
                    loss, g = loss_and_grad(x, idx)
                    nfev += 1 + fev_per_grad
                    njev += 1
                    gnorm = float(np.sqrt(g @ g))
                    if k % every == 0:
                        record((k, loss, gnorm, snorm, nfev, clock() - t0))
                        if xs is not None:
                            xs.append(x)
                    if f_limit is None:
                        f_limit = runner.stop.divergence_limit(loss)
                    if not (loss <= f_limit and math.isfinite(gnorm)):
                        if math.isnan(loss) or not math.isfinite(gnorm):
                            status = Status.NAN
                            detail = f"the batch loss or gradient is not finite at step {k}"
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
                metrics: dict[str, float] = {}
                info = EpochInfo(epoch, k, _readonly_view(x), total / max(count, 1))
                for cb in epoch_callbacks:
                    extra = cb(info)
                    if isinstance(extra, dict):
                        metrics.update({str(key): float(v) for key, v in extra.items()})
                history.epoch_log.append({"epoch": epoch, "step": k,
                                          "train_loss": info.train_loss, **metrics})
    except _StopEpochsError:
        pass
    except StopIteration:
        status, detail = Status.CALLBACK_STOP, f"after epoch {epoch}"
    except KeyboardInterrupt:
        history._repair()
        status, detail = Status.INTERRUPTED, f"in epoch {epoch}, at step {k}"
    except Exception as exc:
        history._repair()
        message = (f"{MESSAGES[Status.FAILED]}: in epoch {epoch}, at step {k}: "
                   f"{type(exc).__name__}: {exc}.")
        result = Result(x=x, fun=math.nan, status=Status.FAILED, message=message, nit=k,
                        nfev=nfev, njev=njev, history=history)
        if runner.raise_errors:
            raise RunFailedError(message, result) from exc
        return result
    fun = objective.value(x)  # the loss over the whole training set, at the final x
    message = f"{MESSAGES[status]}: {detail}."
    return Result(x=x, fun=fun, status=status, message=message, nit=k, nfev=nfev, njev=njev,
                  history=history)


class _StopEpochsError(Exception):
    """Ends the epochs early (NaN or max_steps)."""


def _readonly_view(x: np.ndarray) -> np.ndarray:
    view = x.view()
    view.flags.writeable = False
    return view
