"""The multi-start engine: K starts advanced as one (K, n) array, each stopping on its own.

Rows that stop are written to their :class:`~optiframe.result.StartOutcome` and removed
from the working set (the iterates, values, and every array in the optimizer's state),
so each step computes on the running starts only. Row k's arithmetic never depends on
the other rows, so a start gives the same bits run alone (a (1, n) stack, as the serial,
process and cluster paths do) or among a thousand.

An exception from a vectorized evaluation is traced to its rows by evaluating them one
by one: those starts end ``failed`` with the error, the others go on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from ._tree import tree_map
from .checkpoint import Checkpoint, Checkpointer, Snapshot, save_at_interrupt
from .history import StartsHistory
from .progress import TICK, Progress
from .result import MESSAGES, StartOutcome, Status
from .runner import StepInfo

if TYPE_CHECKING:
    from .runner import Runner


def _per_row(leaf: Any, n_rows: int) -> bool:
    return isinstance(leaf, np.ndarray) and leaf.ndim >= 1 and leaf.shape[0] == n_rows


def take_rows(tree: Any, keep: np.ndarray, n_rows: int) -> Any:
    """Keep rows ``keep`` of every (n_rows, ...) array in an optimizer state tree."""
    return tree_map(lambda a: a[keep] if _per_row(a, n_rows) else a, tree)


def keep_rows(new: Any, old: Any, rows: np.ndarray, n_rows: int) -> Any:
    """``new`` state tree with the rows ``rows`` (a mask) taken from ``old`` instead.

    Per-start arrays are merged row by row; anything shared by all rows (a step
    counter) is kept from ``old`` only when every row is kept.
    """
    def merge(a: Any, b: Any) -> Any:
        if _per_row(a, n_rows):
            return np.where(rows.reshape((-1,) + (1,) * (a.ndim - 1)), b, a)
        return b if rows.all() else a

    return tree_map(merge, new, old)


def row_norms(A: np.ndarray) -> np.ndarray:
    """The Euclidean norm of each row. Narrow rows sum column by column: a reduction along
    short rows costs numpy three times more than a few whole-column operations."""
    if A.shape[1] <= 8:
        s = A[:, 0] * A[:, 0]
        for j in range(1, A.shape[1]):
            s += A[:, j] * A[:, j]
        return np.sqrt(s, out=s)
    return np.sqrt(np.einsum("ij,ij->i", A, A))


def _rowwise(fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray, row_shape: tuple[int, ...],
             overflow: float = math.inf) -> tuple[np.ndarray, dict[int, BaseException]]:
    """Evaluate ``fn`` on all rows; if that raises, row by row to find the failing ones.

    Failing rows come back as NaN, with their exceptions by row; rows raising
    OverflowError or FloatingPointError come back as ``overflow``, without error.
    """
    try:
        return np.asarray(fn(X), dtype=float).reshape((X.shape[0], *row_shape)), {}
    except Exception:
        pass
    out = np.full((X.shape[0], *row_shape), np.nan)
    errors: dict[int, BaseException] = {}
    for i in range(X.shape[0]):
        try:
            out[i] = np.asarray(fn(X[i : i + 1]), dtype=float).reshape(row_shape)
        except (OverflowError, FloatingPointError):
            out[i] = overflow
        except Exception as exc:
            errors[i] = exc
    return out, errors


#: The per-start arrays a multi-start checkpoint keeps, saved and restored in this order.
_STACK_ARRAYS = ("X", "F", "index", "f_limit", "best_X", "best_F", "SN", "starts0", "BAD")


def run_stack(runner: Runner, X0: np.ndarray, index: np.ndarray, history: StartsHistory,
              checkpointer: Checkpointer | None = None, restored: Checkpoint | None = None,
              ) -> list[StartOutcome]:
    """Run the starts ``X0`` (rows, global indices ``index``); record into ``history``.

    With ``restored``, go on from that checkpoint instead (``X0`` and ``index`` unused).
    """
    objective, stop = runner.objective, runner.stop
    estimator = runner.gradient.for_objective(objective)
    grad = estimator.bind_stack(objective)
    values = objective.values
    fev_per_grad, jev_per_grad = estimator.evaluations(objective, X0.shape[1])
    every = runner.record_every
    max_steps, gtol, xtol = stop.max_steps, stop.gtol, stop.xtol
    max_bad = stop.max_bad_gradients
    use_ftol = stop.ftol > 0.0
    callbacks = runner.step_callbacks()
    record_x = runner.record_x
    inf = math.inf
    outcomes: list[StartOutcome] = []

    X = np.array(X0, dtype=float)
    starts0 = X.copy()
    idx = np.array(index)
    k = 0

    def finish(rows: np.ndarray, statuses: list[tuple[Status, str]], x: np.ndarray,
               f: np.ndarray, grads_done: int) -> None:
        for j, (status, detail) in zip(rows, statuses, strict=True):
            message = f"{MESSAGES[status]}: {detail}." if detail else f"{MESSAGES[status]}."
            outcomes.append(StartOutcome(
                index=int(idx[j]), x0=starts0[j], x=x[j], fun=float(f[j]), status=status,
                message=message, nit=k, nfev=1 + grads_done * fev_per_grad + k,
                njev=grads_done * jev_per_grad))

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        opt_step = runner.optimizer.step
        if restored is None:
            F, errors = _rowwise(values, X, ())
            state = runner.optimizer.init(X)
            f_limit = np.array([stop.divergence_limit(f) if math.isfinite(f) else inf
                                for f in F])
            best_X, best_F = X.copy(), F.copy()
            SN = np.full(X.shape[0], np.nan)
            BAD = np.zeros(X.shape[0], dtype=np.int64)  # non-finite gradients skipped
            grads_done = 0
        else:
            X, F, idx, f_limit, best_X, best_F, SN, starts0, BAD = (
                restored.array(name).copy() for name in _STACK_ARRAYS)
            state = restored.tree("optimizer", runner.optimizer.init(X))
            k, grads_done = restored.scalar("step"), restored.scalar("grads_done")
            outcomes.extend(restored.outcomes())
            errors = {}

        skip: np.ndarray | None = None  # rows whose step is skipped (non-finite gradient)

        def drop(done: np.ndarray) -> None:
            nonlocal X, F, idx, f_limit, best_X, best_F, SN, state, starts0, BAD, skip
            keep = ~done
            n_rows = X.shape[0]
            X, F, idx, f_limit, BAD = X[keep], F[keep], idx[keep], f_limit[keep], BAD[keep]
            skip = None if skip is None else skip[keep]
            best_X, best_F, SN, starts0 = best_X[keep], best_F[keep], SN[keep], starts0[keep]
            state = take_rows(state, keep, n_rows)

        def fail(errors: dict[int, BaseException], stage: str) -> None:
            rows = np.array(sorted(errors))
            details = [(Status.FAILED, f"{stage} raised at step {k}: "
                        f"{type(errors[r]).__name__}: {errors[r]}") for r in rows]
            finish(rows, details, X, F, grads_done)
            done = np.zeros(X.shape[0], dtype=bool)
            done[rows] = True
            drop(done)

        if errors:
            fail(errors, "the objective")
        if restored is None:
            at_start = [stop.at_start(f) for f in F]
            done = np.array([s is not None for s, _ in at_start], dtype=bool)
            if done.any():
                rows = np.flatnonzero(done)
                finish(rows, [at_start[r] for r in rows], X, F, 0)  # type: ignore[misc]
                drop(done)
        bar = Progress.create(runner.progress, max_steps, f"optiframe, {X.shape[0]} starts")
        top: dict[str, Any] | None = None

        def save(top: dict[str, Any]) -> None:
            assert checkpointer is not None
            snap = Snapshot()
            snap.scalar("step", top["k"])
            snap.scalar("grads_done", top["grads_done"])
            for name in _STACK_ARRAYS:
                snap.array(name, top[name])
            snap.tree("optimizer", top["state"])
            snap.outcomes(outcomes[: top["n_outcomes"]])
            snap.starts_history(history, top["k"])
            checkpointer.save(top["k"], snap)

        try:
            while X.shape[0]:
                if checkpointer is not None:
                    top = {"k": k, "grads_done": grads_done, "X": X, "F": F, "index": idx,
                           "f_limit": f_limit, "best_X": best_X.copy(),
                           "best_F": best_F.copy(), "SN": SN, "starts0": starts0,
                           "BAD": BAD.copy(),
                           "state": state, "n_outcomes": len(outcomes)}
                    if checkpointer.due(k):
                        save(top)
                if bar is not None and not k % TICK:
                    bar.tick(k, float(np.min(F)) if F.size else math.nan)
                G, errors = _rowwise(grad, X, X.shape[1:], overflow=math.nan)
                if errors:
                    fail(errors, "the gradient")
                    if not X.shape[0]:
                        break
                    G = G[~np.isin(np.arange(G.shape[0]), sorted(errors))]
                grads_done += 1
                GN = row_norms(G)
                if k % every == 0:
                    history._record(k, idx, F, GN, SN, X if record_x else None)
                # One cheap test on the way down (NaN fails it too); the mask only if not.
                skip = None
                if not (GN.min() > gtol and GN.max() < inf) or k >= max_steps:
                    done = ~((gtol < GN) & (inf > GN))
                    if k >= max_steps:
                        done[:] = True
                    else:
                        # a NaN or inf gradient: skip the row's step, up to max_bad_gradients
                        skip = ~(inf > GN) & (max_bad > BAD)
                        BAD[skip] += 1
                        done &= ~skip
                    rows = np.flatnonzero(done)
                    finish(rows, [stop.at_gradient(float(GN[r]), k, int(BAD[r]))
                                  for r in rows], X, F, grads_done)
                    drop(done)
                    G = G[~done]
                    if not X.shape[0]:
                        break
                    if skip is not None and not skip.any():
                        skip = None
                n_rows = X.shape[0]
                X_new, state_new = opt_step(X, G, state)
                if skip is not None:
                    X_new = np.where(skip[:, None], X, X_new)
                    state_new = keep_rows(state_new, state, skip, n_rows)
                state = state_new
                F_new, errors = _rowwise(values, X_new, ())
                if skip is not None:
                    F_new[skip] = F[skip]
                SN = row_norms(X_new - X)
                if errors:
                    # a start whose new point cannot be evaluated keeps its last good pair
                    # (and its step count: the step did not complete)
                    keep = ~np.isin(np.arange(F_new.shape[0]), sorted(errors))
                    fail(errors, "the objective")
                    X_new, F_new = X_new[keep], F_new[keep]  # drop() took SN's rows
                    if not X.shape[0]:
                        break
                k += 1
                if not ((F_new <= f_limit).all() and F_new.min() > -inf):
                    bad = ~((-inf < F_new) & (F_new <= f_limit))
                    rows = np.flatnonzero(bad)
                    # x and fun of a diverged start are its best finite point
                    finish(rows, [stop.at_bad_value(float(F_new[r]), k, X_new[r]) for r in rows],
                           best_X, best_F, grads_done)
                    keep = ~bad
                    drop(bad)
                    X_new, F_new = X_new[keep], F_new[keep]  # drop() took SN's rows
                    if not X.shape[0]:
                        break
                F_old, X, F = F, X_new, F_new
                better = best_F > F
                np.copyto(best_X, X, where=better[:, None])
                np.copyto(best_F, F, where=better)
                small = None
                if SN.min() <= xtol or use_ftol:
                    small = xtol >= SN
                    if use_ftol:
                        small |= np.abs(F_old - F) <= stop.ftol * np.maximum(
                            np.maximum(np.abs(F_old), np.abs(F)), 1.0)
                if small is not None and skip is not None:
                    small &= ~skip  # a skipped step is neither small nor stalled
                if small is not None and small.any():
                    rows = np.flatnonzero(small)
                    finish(rows, [stop.at_small_step(float(SN[r]), float(F_old[r]),
                                                     float(F[r]), k) for r in rows],
                           X, F, grads_done)
                    drop(small)
                if callbacks and X.shape[0]:
                    view = X.view()
                    view.flags.writeable = False
                    try:
                        for cb in callbacks:
                            cb(StepInfo(k, view, F.copy(), SN.copy()))
                    except StopIteration:
                        rows = np.arange(X.shape[0])
                        finish(rows, [(Status.CALLBACK_STOP, f"at step {k}")] * len(rows), X, F,
                               grads_done)
                        X = X[:0]
        except KeyboardInterrupt:
            note = save_at_interrupt(save, top)
            rows = np.arange(X.shape[0])
            finish(rows, [(Status.INTERRUPTED, f"at step {k}{note}")] * len(rows), X, F,
                   grads_done)
            X = X[:0]
        except Exception as exc:
            rows = np.arange(X.shape[0])
            finish(rows, [(Status.FAILED, f"at step {k}: {type(exc).__name__}: {exc}")]
                   * len(rows), X, F, grads_done)
            X = X[:0]
        finally:
            if bar is not None:
                bar.close(k, float(np.min(F)) if F.size else math.nan)
    return outcomes


def run_one_start(runner: Runner, job: tuple[int, np.ndarray], batch_seed: int | None = None,
                  ) -> tuple[StartOutcome, StartsHistory]:
    """Run one start alone, as a (1, n) stack: what the serial and parallel paths call."""
    from .batching import run_batches_stack

    k, x0 = job
    history = StartsHistory(1, runner.record_x)
    stack = np.asarray(x0, dtype=float)[None, :]
    if runner.batching is not None:
        (outcome,) = run_batches_stack(runner, stack, np.array([0]), history, batch_seed)
    else:
        (outcome,) = run_stack(runner, stack, np.array([0]), history)
    return attrs.evolve(outcome, index=k), history
