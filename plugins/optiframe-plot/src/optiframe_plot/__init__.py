"""Plots of optiframe runs; every function takes ``ax=None`` and returns the Axes.

Without an Axes a new ``matplotlib.figure.Figure`` is made (no pyplot state, no window);
nothing here calls ``plt.show()``. matplotlib is imported when the first plot is drawn,
so loading the plugin (which every optiframe process does) costs nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

import optiframe

if TYPE_CHECKING:  # matplotlib is imported when a plot is drawn, not when plugins load
    from matplotlib.axes import Axes

__all__ = ["loss_curve", "lr_sweep", "multistart_minima", "training_curves", "trajectory"]

#: Line styles cycled so that curves lying on top of each other stay visible.
STYLES = ("-", "--", ":", "-.")


def _axes(ax: Axes | None, size: tuple[float, float] = (6.0, 4.0)) -> Axes:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained").add_subplot()


def _positive(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return finite.size > 0 and bool((finite > 0).all())


def loss_curve(result: Any, ax: Axes | None = None, label: str | None = None) -> Axes:
    """f at each recorded step (log scale when f stays positive).

    For a multi-start result: the best start's curve, the median over the starts still
    running at each step, and the band between their 10th and 90th percentiles, so that
    30 starts read as three things, not 30 lines."""
    ax = _axes(ax)
    h = result.history
    if hasattr(result, "starts"):
        return _starts_curve(result, ax, label)
    ax.plot(h.step, h.fun, label=label or f"{result.status}, {result.nit} steps")
    if _positive(h.fun):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("f(x)")
    ax.set_title("Loss per step")
    ax.legend()
    return ax


def _starts_curve(result: Any, ax: Axes, label: str | None) -> Axes:
    h = result.history
    steps, F = np.asarray(h.step), np.asarray(h.fun, dtype=float)  # (steps, starts), NaN: done
    best = int(np.argmin([s.fun if np.isfinite(s.fun) else np.inf for s in result.starts]))
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # steps where no start runs
            lo, mid, hi = (np.nanpercentile(F, q, axis=1) for q in (10, 50, 90))
    ax.fill_between(steps, lo, hi, color="C0", alpha=0.25, lw=0,
                    label=f"10-90 % of the {F.shape[1]} starts")
    ax.plot(steps, mid, color="C0", ls="--", label="median start")
    ax.plot(steps, F[:, best], color="C3", lw=2,
            label=label or f"best: start {result.starts[best].index}, f = {result.fun:.3g}")
    if _positive(F.ravel()):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("f(x)")
    ax.set_title(f"Loss per step, {F.shape[1]} starts")
    ax.legend(fontsize="small")
    return ax


def _contour(ax: Axes, objective: Any, bounds: Sequence[Sequence[float]], levels: int) -> None:
    (x_lo, x_hi), (y_lo, y_hi) = bounds
    xs, ys = np.linspace(x_lo, x_hi, 200), np.linspace(y_lo, y_hi, 200)
    gx, gy = np.meshgrid(xs, ys)
    points = np.column_stack([gx.ravel(), gy.ravel()])
    z = np.asarray(objective.values(points)).reshape(gx.shape)
    shifted = z - z.min() + 1e-3  # log-spaced levels show both valleys and walls
    ax.contourf(gx, gy, np.log10(shifted), levels=levels, cmap="viridis", alpha=0.85)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")


def trajectory(results: Any, objective: Any, ax: Axes | None = None,
               bounds: Sequence[Sequence[float]] | None = None, levels: int = 30) -> Axes:
    """The path of each run (recorded with ``record_x=True``) over the objective's contours.

    ``results`` is one Result, a list of them, or a mapping from a label to a Result;
    ``objective`` an Objective or a registered objective's name (``"rosenbrock"``).
    """
    ax = _axes(ax, (6.0, 5.0))
    if isinstance(objective, (str, Mapping)):
        from optiframe.runner import as_objective

        objective = as_objective(objective)
    if isinstance(results, Mapping):
        runs = dict(results)
    elif isinstance(results, (list, tuple)):
        runs = {f"run {i}: {r.status}": r for i, r in enumerate(results)}
    else:
        runs = {"run": results}
    paths = {label: np.asarray(r.history.x) for label, r in runs.items()}
    if bounds is None:
        stacked = np.concatenate(list(paths.values()))
        lo, hi = stacked.min(axis=0), stacked.max(axis=0)
        pad = 0.15 * np.maximum(hi - lo, 1.0)
        bounds = [(lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1])]
    _contour(ax, objective, bounds, levels)
    for i, (label, path) in enumerate(paths.items()):
        ax.plot(path[:, 0], path[:, 1], marker=".", ls=STYLES[i % 4], lw=2.2 - 0.5 * (i % 3),
                ms=3, label=str(label), zorder=3 + i)
        colour = ax.get_lines()[-1].get_color()
        ax.plot(path[0, 0], path[0, 1], "o", color="white", mec="black")
        ax.plot(path[-1, 0], path[-1, 1], "*", color=colour, ms=14, mec="black", zorder=10)
    ax.set_title("The ball's path (white: start, star: end, in its run's colour)")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def multistart_minima(result: Any, objective: Any = None, ax: Axes | None = None,
                      bounds: Sequence[Sequence[float]] | None = None) -> Axes:
    """Each start of a 2-D multi-start run, coloured by the minimum it rolled to."""
    ax = _axes(ax, (6.0, 5.0))
    starts = np.array([s.x0 for s in result.starts])
    if bounds is None:
        lo, hi = starts.min(axis=0), starts.max(axis=0)
        bounds = [(lo[0], hi[0]), (lo[1], hi[1])]
    if objective is not None:
        _contour(ax, objective, bounds, 30)
    which = np.full(len(result.starts), -1)
    for m, minimum in enumerate(result.minima):
        which[list(minimum.starts)] = m
    colors = [f"C{m % 10}" if m >= 0 else "lightgray" for m in which]
    ax.scatter(starts[:, 0], starts[:, 1], c=colors, s=18, edgecolors="black", lw=0.3)
    for m, minimum in enumerate(result.minima):
        ax.plot(minimum.x[0], minimum.x[1], "*", ms=16, color=f"C{m % 10}", mec="black",
                label=f"({minimum.x[0]:.3f}, {minimum.x[1]:.3f}): {minimum.count} starts")
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")
    ax.set_title(f"{len(result.starts)} starts, {len(result.minima)} distinct minima")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def _sweep_curves(results: Any) -> list[tuple[str, Any]]:
    """(label, result) per curve: from ``{lr: result}`` or an ``of.sweep`` table."""
    if isinstance(results, optiframe.SweepTable):
        out = []
        for row, r in zip(results, results.results, strict=True):
            swept = {k: v for k, v in row.items() if k not in _SWEEP_COLUMNS}
            out.append((", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                                  for k, v in swept.items()), r))
        return out
    return [(f"lr = {lr:g}", r) for lr, r in results.items()]


#: the columns of a sweep table that are outcomes, not swept values
_SWEEP_COLUMNS = ("status", "success", "fun", "x", "nit", "nfev", "njev", "message")


def lr_sweep(results: Mapping[Any, Any] | Any, ax: Axes | None = None) -> Axes:
    """Loss curves of runs that differ by learning rate: ``{lr: result}``, or the table
    ``of.sweep`` returns (one curve per row, labelled by its swept values)."""
    ax = _axes(ax)
    positive = True
    drawn: list[np.ndarray] = []
    curves = _sweep_curves(results)
    for i, (label, r) in enumerate(curves):
        h = r.history
        positive = positive and _positive(h.fun)
        same = next((j for j, f in enumerate(drawn) if f.shape == h.fun.shape
                     and np.allclose(f, h.fun, rtol=1e-3)), None)
        note = "" if same is None else f", on top of {curves[same][0]}"
        drawn.append(np.asarray(h.fun))
        # later curves are thinner, so one lying exactly on another still shows around it
        ax.plot(h.step, h.fun, ls=STYLES[i % 4], lw=max(3.2 - 0.6 * i, 1.0),
                label=f"{label} ({r.status}{note})")
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("f(x)")
    ax.set_title("Learning-rate sweep")
    ax.legend(fontsize="small")
    return ax


def training_curves(result: Any, ax: Axes | None = None) -> Axes:
    """Per-epoch training loss of a minibatch run, and its epoch metrics on a second axis."""
    ax = _axes(ax)
    table = result.history.epochs
    if not table:
        raise optiframe.InvalidArgumentError(
            "training_curves needs a minibatch run (batch_size=..., epochs=...)")
    lines = ax.plot(table["epoch"], table["train_loss"], "o-", color="C0",
                    label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean training loss", color="C0")
    metrics = [name for name in table if name not in ("epoch", "step", "train_loss")]
    if metrics:
        twin = ax.twinx()
        for i, name in enumerate(metrics, start=1):
            words = name.replace("_", " ")
            lines += twin.plot(table["epoch"], table[name], "s--", color=f"C{i}", label=words)
        twin.set_ylabel(", ".join(m.replace("_", " ") for m in metrics))
    ax.set_title("Training, per epoch")
    ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    return ax


@optiframe.hookimpl
def register_plots(register: Any) -> None:
    register("loss", loss_curve)
    register("trajectory", trajectory)
    register("minima", multistart_minima)
    register("lr-sweep", lr_sweep)
    register("training", training_curves)
