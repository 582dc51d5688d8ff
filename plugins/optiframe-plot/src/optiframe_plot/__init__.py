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

__all__ = ["global_trace", "loss_curve", "lr_sweep", "multistart_minima", "training_curves",
           "trajectory"]

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


def _steps_axis(ax: Axes) -> None:
    """Steps from 0 to the last step of any curve on ``ax``, on a linear axis, or a
    symmetric-log one when runs span thousands of steps (so that a run of 40 steps and
    one of 50,000 both show)."""
    last = max([float(np.nanmax(line.get_xdata())) for line in ax.get_lines()
                if len(line.get_xdata())] or [1.0])
    if last >= 2000:
        ax.set_xscale("symlog", linthresh=10)
    ax.set_xlim(0, max(last, 1.0))
    ax.set_xlabel("step")


def loss_curve(result: Any, ax: Axes | None = None, label: str | None = None,
               title: str | None = None) -> Axes:
    """f at each recorded step (log scale when f stays positive); ``title`` names the
    problem (default: "Loss per step"). Called again with the same ``ax``, it adds a
    curve: the way to compare runs.

    For a multi-start result: the best start's curve, the median of all starts (a start
    that has finished keeps its last f) and the band between their 10th and 90th
    percentiles, so that 30 starts read as three things, not 30 lines."""
    ax = _axes(ax)
    h = result.history
    if hasattr(result, "starts"):
        return _starts_curve(result, ax, label, title)
    ax.plot(h.step, h.fun, label=label or f"{result.status}, {result.nit} steps")
    if _positive(h.fun) and (not ax.get_lines()[:-1] or ax.get_yscale() == "log"):
        ax.set_yscale("log")
    _steps_axis(ax)
    ax.set_ylabel("f(x)")
    ax.set_title(title or "Loss per step")
    ax.legend(fontsize="small")
    return ax


def _carried(F: np.ndarray) -> np.ndarray:
    """(steps, starts) with each start's NaN after it finished replaced by its last f."""
    F = F.copy()
    seen = ~np.isnan(F)
    last = np.where(seen, np.arange(len(F))[:, None], 0)
    np.maximum.accumulate(last, axis=0, out=last)
    carried = F[last, np.arange(F.shape[1])]
    started = np.maximum.accumulate(seen, axis=0)
    return np.where(started, carried, np.nan)


def _starts_curve(result: Any, ax: Axes, label: str | None, title: str | None) -> Axes:
    h = result.history
    steps, F = np.asarray(h.step), np.asarray(h.fun, dtype=float)  # (steps, starts), NaN: done
    best = int(np.argmin([s.fun if np.isfinite(s.fun) else np.inf for s in result.starts]))
    F = _carried(F)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a step no start has reached
            lo, mid, hi = (np.nanpercentile(F, q, axis=1) for q in (10, 50, 90))
    ax.fill_between(steps, lo, hi, color="C0", alpha=0.25, lw=0,
                    label=f"10-90 % of the {F.shape[1]} starts")
    ax.plot(steps, mid, color="C0", ls="--",
            label="median start (a finished start keeps its last f)")
    ax.plot(steps, F[:, best], color="C3", lw=2,
            label=label or f"best: start {result.starts[best].index}, f = {result.fun:.3g}")
    if _positive(F.ravel()):
        ax.set_yscale("log")
    _steps_axis(ax)
    ax.set_ylabel("f(x)")
    ax.set_title(title or f"Loss per step, {F.shape[1]} starts")
    ax.legend(fontsize="small")
    return ax


def _contour(ax: Axes, objective: Any, bounds: Sequence[Sequence[float]], levels: int,
             cmap: str = "viridis") -> None:
    (x_lo, x_hi), (y_lo, y_hi) = bounds
    xs, ys = np.linspace(x_lo, x_hi, 200), np.linspace(y_lo, y_hi, 200)
    gx, gy = np.meshgrid(xs, ys)
    points = np.column_stack([gx.ravel(), gy.ravel()])
    z = np.asarray(objective.values(points)).reshape(gx.shape)
    shifted = z - z.min() + 1e-3  # log-spaced levels show both valleys and walls
    ax.contourf(gx, gy, np.log10(shifted), levels=levels, cmap=cmap, alpha=0.85)
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")


def _known_minima(objective: Any) -> list[np.ndarray]:
    """The global minimizers of a built-in test function in 2-D (none for others)."""
    try:
        return [np.asarray(m, dtype=float) for m in objective.minima(2)]
    except Exception:
        return []


def trajectory(results: Any, objective: Any, ax: Axes | None = None,
               bounds: Sequence[Sequence[float]] | None = None, levels: int = 30,
               title: str | None = None) -> Axes:
    """The path of each run (recorded with ``record_x=True``) over the objective's contours.

    ``results`` is one Result, a list of them, or a mapping from a label to a Result;
    ``objective`` an Objective or a registered objective's name (``"rosenbrock"``). Each
    label gets the run's status and step count; paths drawn later are thinner and carry
    their own markers, so one lying on another still shows; a built-in test function's
    global minima are marked with a red cross.
    """
    ax = _axes(ax, (6.0, 5.0))
    if isinstance(objective, (str, Mapping)):
        from optiframe.runner import as_objective

        objective = as_objective(objective)
    if isinstance(results, Mapping):
        runs = dict(results)
    elif isinstance(results, (list, tuple)):
        runs = {f"run {i}": r for i, r in enumerate(results)}
    else:
        runs = {"run": results}
    paths = {label: np.asarray(r.history.x) for label, r in runs.items()}
    for label, path in paths.items():
        _require_2d("trajectory", path.shape[1], f"{label!r} has")
    if bounds is None:
        stacked = np.concatenate(list(paths.values()))
        lo, hi = stacked.min(axis=0), stacked.max(axis=0)
        pad = 0.15 * np.maximum(hi - lo, 1.0)
        bounds = [(lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1])]
    _contour(ax, objective, bounds, levels)
    markers = ("o", "s", "^", "D", "v")
    for i, (label, path) in enumerate(paths.items()):
        r = runs[label]
        ax.plot(path[:, 0], path[:, 1], ls=STYLES[i % 4], lw=max(4.0 - 1.3 * i, 1.0),
                alpha=0.9, marker=markers[i % 5], ms=4, markevery=max(len(path) // 20, 1),
                label=f"{label}: {r.status}, {r.nit} steps", zorder=3 + i)
        colour = ax.get_lines()[-1].get_color()
        ax.plot(path[0, 0], path[0, 1], "o", color="white", mec="black", zorder=20)
        ax.plot(path[-1, 0], path[-1, 1], "*", color=colour, ms=14, mec="black", zorder=20)
    for k, x in enumerate(_known_minima(objective)):
        ax.plot(x[0], x[1], "X", color="red", ms=11, mec="white", zorder=21,
                label=None if k else f"minimum ({_num(x[0])}, {_num(x[1])})")
    ax.set_title(title or "The ball's path (white: start, star: end, in its run's colour)")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def _require_2d(plot: str, n: int, which: str) -> None:
    """Refuse a run that is not 2-D: its first two coordinates over the 2-D function's
    contours would show another function."""
    if n != 2:
        raise optiframe.InvalidArgumentError(
            f"{plot} draws 2-D runs, x[0] against x[1]: {which} {n} coordinates (loss_curve "
            "draws any run)")


def _num(v: float) -> str:
    """A number for a label: 3 significant digits, never "-0"."""
    text = f"{v:.3g}"
    return "0" if text in ("-0", "0") else text


def multistart_minima(result: Any, objective: Any = None, ax: Axes | None = None,
                      bounds: Sequence[Sequence[float]] | None = None, annotate: int = 3,
                      categories: int = 8) -> Axes:
    """Each start of a 2-D multi-start run, coloured by the minimum it rolled to.

    Up to ``categories`` minima: a colour and a legend row each (a hollow star where none
    of its starts converged). More: each start coloured by the f it reached (a colour bar,
    not a legend row per minimum, so hundreds of minima stay readable), each minimum a
    star sized by its number of starts, the best ``annotate`` labelled."""
    if not hasattr(result, "starts"):
        raise optiframe.InvalidArgumentError(
            "multistart_minima needs a multi-start result (starts=MultiStart(...), or a "
            "global search, strategy=...); for one start, draw trajectory or loss_curve")
    _require_2d("multistart_minima", np.size(result.x), "the run has")
    ax = _axes(ax, (6.5, 5.0))
    starts = np.array([s.x0 for s in result.starts])
    minima = result.minima
    if bounds is None:
        points = np.concatenate([starts, *[m.x[None] for m in minima]])
        lo, hi = points.min(axis=0), points.max(axis=0)
        pad = 0.05 * np.maximum(hi - lo, 1e-9)
        bounds = [(lo[0] - pad[0], hi[0] + pad[0]), (lo[1] - pad[1], hi[1] + pad[1])]
    if objective is not None:
        _contour(ax, objective, bounds, 30, cmap="Greys")
    which = np.full(len(result.starts), -1)
    row = {s.index: i for i, s in enumerate(result.starts)}
    for m, minimum in enumerate(minima):
        which[[row[k] for k in minimum.starts]] = m
    gone = which < 0
    if gone.any():
        ax.scatter(starts[gone, 0], starts[gone, 1], c="lightgray", s=14, edgecolors="black",
                   lw=0.3, label="start: diverged or failed")
    if not minima:
        pass
    elif len(minima) <= categories:  # few minima: a colour and a legend row each
        for m, minimum in enumerate(minima):
            mine = which == m
            ax.scatter(starts[mine, 0], starts[mine, 1], color=f"C{m}", s=16,
                       edgecolors="black", lw=0.3)
            ax.plot(minimum.x[0], minimum.x[1], "*", ms=16, mec="black", zorder=5,
                    color=f"C{m}" if minimum.converged else "none",
                    label=f"({_num(minimum.x[0])}, {_num(minimum.x[1])}): f = "
                          f"{_num(minimum.fun)}, {_starts(minimum.count)}"
                          + ("" if minimum.converged else ", none converged"))
    else:  # many: coloured by the f reached (a colour bar), the best few annotated
        funs = np.array([m.fun for m in minima])
        norm = _colour_norm(funs)
        reached = np.where(gone, np.nan, funs[np.maximum(which, 0)])
        dots = ax.scatter(starts[~gone, 0], starts[~gone, 1], c=reached[~gone],
                          cmap="plasma", norm=norm, s=16, edgecolors="black", lw=0.3,
                          label="start, coloured by the f it reached")
        counts = np.array([m.count for m in minima], dtype=float)
        sizes = 60 + 240 * counts / counts.max()
        xy = np.array([m.x for m in minima])
        done = np.array([m.converged for m in minima])
        ax.scatter(xy[done, 0], xy[done, 1], c=funs[done], cmap="plasma", norm=norm,
                   s=sizes[done], marker="*", edgecolors="black", lw=0.6, zorder=5,
                   label="minimum (size: its starts)")
        if (~done).any():
            ax.scatter(xy[~done, 0], xy[~done, 1], facecolors="none", s=sizes[~done],
                       marker="*", edgecolors="black", lw=0.8, zorder=5,
                       label="where starts stopped, none converged")
        offsets = ((8, 8), (8, -16), (-100, 8), (-100, -16))  # neighbours' labels apart
        for k, m in enumerate(minima[:annotate]):
            ax.annotate(f"f = {_num(m.fun)}, {_starts(m.count)}", (m.x[0], m.x[1]),
                        xytext=offsets[k % 4], textcoords="offset points", fontsize="small",
                        zorder=6, bbox={"boxstyle": "round,pad=0.2", "fc": "white",
                                        "alpha": 0.8})
        ax.figure.colorbar(dots, ax=ax, label="f of the minimum reached")
    ax.set_xlim(*bounds[0])
    ax.set_ylim(*bounds[1])
    ax.set_xlabel("x[0]")
    ax.set_ylabel("x[1]")
    converged = sum(m.converged for m in minima)
    ax.set_title(f"{len(result.starts)} starts, {len(minima)} distinct minima "
                 f"({converged} converged)")
    ax.legend(loc="upper right", fontsize="x-small", framealpha=0.8)
    return ax


def _starts(count: int) -> str:
    return f"{count} start{'s' if count != 1 else ''}"


def _colour_norm(funs: np.ndarray) -> Any:
    """A colour scale over the minima's values: logarithmic above the best when they
    span decades, so that nearly-equal deep minima and shallow ones both read."""
    from matplotlib.colors import Normalize, SymLogNorm

    lo, hi = float(np.min(funs)), float(np.max(funs))
    if hi - lo <= 0:
        return Normalize(lo - 1.0, lo + 1.0)
    spread = hi - lo
    if spread > 100 * max(abs(lo), 1e-12) or spread > 1e3:
        return SymLogNorm(linthresh=max(spread * 1e-3, 1e-12), vmin=lo, vmax=hi)
    return Normalize(lo, hi)


def _sweep_curves(results: Any) -> list[tuple[str, Any]]:
    """(label, result) per curve: from ``{lr: result}`` or an ``of.sweep`` table."""
    if isinstance(results, optiframe.SweepTable):
        out = []
        for row, r in zip(results, results.results, strict=True):
            swept = {k: v for k, v in row.items() if k not in _SWEEP_COLUMNS}
            out.append((", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                                  for k, v in swept.items()), r))
        return out
    if not isinstance(results, Mapping):
        raise optiframe.InvalidArgumentError(
            f"lr_sweep draws several runs: the table of.sweep returns, or {{lr: result}}; "
            f"got a {type(results).__name__}: for one run, draw loss_curve(result)")
    return [(f"lr = {lr:g}", r) for lr, r in results.items()]


#: the columns of a sweep table that are outcomes, not swept values
_SWEEP_COLUMNS = ("status", "success", "fun", "x", "nit", "nfev", "njev", "message")


def lr_sweep(results: Mapping[Any, Any] | Any, ax: Axes | None = None,
             title: str | None = None) -> Axes:
    """Loss curves of runs that differ by learning rate: ``{lr: result}``, or the table
    ``of.sweep`` returns (one curve per row, labelled by its swept values, its status and
    its final f).

    A curve whose f grew (more than 10x above where it started) is labelled as growing,
    whatever its run's status says, and when it climbs far above the others it is cut at
    the top of the plot (its label says how high it went) instead of squashing them into
    the bottom strip of a log axis."""
    ax = _axes(ax)
    positive = True
    drawn: list[np.ndarray] = []
    curves = _sweep_curves(results)
    starts = [float(r.history.fun[0]) for _, r in curves if len(r.history.fun)]
    ceiling = 10 * max([abs(v) for v in starts if np.isfinite(v)] or [1.0])
    clipped = False
    for i, (label, r) in enumerate(curves):
        h = r.history
        f = np.asarray(h.fun, dtype=float)
        positive = positive and _positive(f)
        same = next((j for j, g in enumerate(drawn) if g.shape == f.shape
                     and np.allclose(g, f, rtol=1e-3)), None)
        note = "" if same is None else f", on top of {curves[same][0]}"
        drawn.append(f)
        finite = f[np.isfinite(f)]
        top = float(finite.max()) if finite.size else np.nan
        end = float(finite[-1]) if finite.size else np.nan
        if finite.size and end > 10 * abs(float(finite[0])) + 1e-300 and end > finite[0]:
            # the run's own status may be "converged" (a slope that reads 0 up there): the
            # curve says f grew, and only a detected divergence is named as one
            what = (f"diverged, f grew to {_num(end)}" if r.status == "diverged"
                    else f"f grew to {_num(end)}")
        else:
            what = f"{r.status}, f = {_num(end)}"
        if top > ceiling:
            clipped = True
            what += ", off the top"
        # later curves are thinner, so one lying exactly on another still shows around it
        ax.plot(h.step, f, ls=STYLES[i % 4], lw=max(3.2 - 0.6 * i, 1.0),
                label=f"{label} ({what}{note})")
    if positive:
        ax.set_yscale("log")
    if clipped:
        bottom = ax.get_ylim()[0]
        ax.set_ylim(bottom, ceiling)
    _steps_axis(ax)
    ax.set_ylabel("f(x)")
    ax.set_title(title or "Learning-rate sweep")
    ax.legend(fontsize="small")
    return ax


def training_curves(result: Any, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Per-epoch training loss of a minibatch run with its epoch metrics: those named
    like a loss (``val_loss``) on the loss's axis, the others (accuracy) on a second."""
    ax = _axes(ax)
    table = result.history.epochs
    if not table:
        raise optiframe.InvalidArgumentError(
            "training_curves needs a minibatch run (batch_size=..., epochs=...)")
    lines = ax.plot(table["epoch"], table["train_loss"], "o-", color="C0",
                    label="training loss")
    ax.set_xlabel("epoch")
    metrics = [name for name in table if name not in ("epoch", "step", "train_loss")]
    losses = [name for name in metrics if "loss" in name.lower()]
    others = [name for name in metrics if name not in losses]
    for i, name in enumerate(losses, start=1):
        lines += ax.plot(table["epoch"], table[name], "o:", color=f"C{i}",
                         label=name.replace("_", " "))
    ax.set_ylabel(", ".join(["training loss", *[m.replace("_", " ") for m in losses]]))
    if others:
        twin = ax.twinx()
        for i, name in enumerate(others, start=1 + len(losses)):
            lines += twin.plot(table["epoch"], table[name], "s--", color=f"C{i}",
                               label=name.replace("_", " "))
        twin.set_ylabel(", ".join(m.replace("_", " ") for m in others))
    ax.set_title(title or "Training, per epoch")
    ax.legend(lines, [line.get_label() for line in lines], loc="center right")
    return ax


def global_trace(results: Mapping[str, Any] | Any, ax: Axes | None = None,
                 title: str | None = None) -> Axes:
    """The best f against the evaluations spent, for global searches
    (``of.minimize(..., strategy=...)``): one result or ``{label: result}``. A symmetric
    log scale shows both the first large values and a final 0."""
    ax = _axes(ax)
    runs = results if isinstance(results, Mapping) else {"search": results}
    lowest = np.inf
    for i, (label, r) in enumerate(runs.items()):
        trace = getattr(r, "trace", None)
        if trace is None or not trace.nfev:
            raise optiframe.InvalidArgumentError(
                "global_trace needs the result of a global search (strategy=...)")
        nfev = [*trace.nfev, r.nfev]
        best = [*trace.best, trace.best[-1]]
        lowest = min(lowest, min(best))
        ax.step(nfev, best, where="post", ls=STYLES[i % 4], lw=max(2.6 - 0.4 * i, 1.0),
                label=f"{label}: f = {_num(r.fun)} after {r.nfev} evaluations")
    if lowest >= 0:
        ax.set_yscale("symlog", linthresh=1e-6)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best f so far")
    ax.set_title(title or "Global search: the best f against the evaluations spent")
    ax.legend(fontsize="small")
    return ax


@optiframe.hookimpl
def register_plots(register: Any) -> None:
    register("loss", loss_curve)
    register("trajectory", trajectory)
    register("minima", multistart_minima)
    register("lr-sweep", lr_sweep)
    register("training", training_curves)
    register("global", global_trace)
