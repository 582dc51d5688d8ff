"""The blog's experiment as one call: :func:`sweep` runs every combination of the listed
hyperparameters and options and returns a table.

Combinations that differ only in hyperparameters the optimizer takes one per row (a
learning rate, say) run together as one stack, like the starts of a multi-start run, each
row with its own value; the rest run one by one, or on ``workers``. Either way each row has
exactly the bits of its own :func:`~optiframe.minimize` call.

What is swept: a list, tuple or 1-D array given for a hyperparameter of the optimizer or
for an option that takes one plain value (:data:`SWEEPABLE_OPTIONS`: the stop rules,
``gradient``, ``seed``, ``batch_size``, ...). Any other option keeps its value whole, lists
included (``callbacks=[a, b]`` is two callbacks in every run, ``bounds=[(0, 2), (0, 4)]``
one box); :class:`Swept` sweeps such an option explicitly
(``bounds=of.Swept([(0, 2)], [(0, 4)])``), or a hyperparameter whose one value is itself a
list (``lr=of.Swept(np.array([0.1, 0.2]), np.array([0.2, 0.4]))``, two per-coordinate rates).

Example
-------
>>> import optiframe as of
>>> table = of.sweep(lambda x: x**2 + 1, -3.0, optimizer=of.GradientDescent,
...                  lr=[1e-9, 0.01, 10.0], max_steps=[100, 1000], detect_divergence=False,
...                  gradient=of.CentralDifference(step=1e-7, relative=False))
>>> len(table), sorted(table[0])[:4]
(6, ['fun', 'lr', 'max_steps', 'message'])
>>> [(row["lr"], row["max_steps"], row["status"]) for row in table][:2]
[(1e-09, 100, 'max_steps'), (1e-09, 1000, 'max_steps')]
"""

from __future__ import annotations

import inspect
import itertools
import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from ._files import Target, plain, write_csv, write_text
from ._table import format_table, is_number
from ._validation import did_you_mean
from .api import minimize
from .errors import InvalidArgumentError
from .executors import check_workers
from .history import History, LazyHistory
from .optimizers import Optimizer
from .options import SWEEPABLE
from .plugins import get_registry
from .result import Result
from .schedules import Schedule
from .status import Status


class SweepTable(Sequence[dict[str, Any]]):
    """The rows of a sweep, one per combination, in the order of the grid: the swept
    values, then ``status``, ``success``, ``fun``, ``x``, ``nit``, ``nfev``, ``njev`` and
    ``message``; ``results`` holds the :class:`~optiframe.Result` of each row."""

    def __init__(self, rows: list[dict[str, Any]], results: list[Result],
                 groups: list[list[int]] | None = None) -> None:
        self._rows, self.results = rows, results
        #: the rows that ran together, as one stack (a group of one ran alone)
        self.groups = groups if groups is not None else [[i] for i in range(len(rows))]

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i: Any) -> Any:
        return self._rows[i]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._rows)

    def to_pandas(self) -> Any:
        """The table as a pandas DataFrame (``pip install pandas``)."""
        try:
            import pandas as pd
        except ImportError:
            raise InvalidArgumentError("to_pandas needs pandas: pip install pandas") from None
        return pd.DataFrame(self._rows)

    def to_csv(self, path: Target | None = None) -> str:
        """The table as CSV (floats in their shortest exact form, lists such as ``x`` as
        JSON), written to ``path`` (a path or an open text file) when given; returns it."""
        names = list(self._rows[0]) if self._rows else []
        return write_csv(path, names, ([json.dumps(row[n]) if isinstance(row[n], list) else
                                        repr(row[n]) if isinstance(row[n], float) else row[n]
                                        for n in names] for row in self._rows))

    def to_json(self, path: Target | None = None) -> str:
        """The table as a JSON list of rows (infinities and NaN as strings), written to
        ``path`` when given; returns it."""
        text = json.dumps([{k: plain(v) for k, v in row.items()} for row in self._rows],
                          indent=2) + "\n"
        write_text(path, text)
        return text

    def best(self) -> dict[str, Any]:
        """The row with the lowest finite f."""
        finite = [r for r in self._rows if math.isfinite(r["fun"])]
        if not finite:
            raise InvalidArgumentError("no combination reached a finite f")
        return min(finite, key=lambda r: r["fun"])

    #: the rows ``print(table)`` shows (the others are counted)
    SHOWN_ROWS: int = 30

    def text(self, limit: int | None = None) -> str:
        """The table as aligned text (what ``optiframe sweep`` prints): the swept values,
        ``status``, ``fun``, ``nit``, ``nfev`` and ``njev`` of each row (``x``,
        ``message`` and ``success`` are in the rows); ``limit`` rows at most, the others
        counted."""
        if not self._rows:
            return "(no combination)"
        shown = [k for k in self._rows[0] if k not in ("x", "message", "success")]
        rows = self._rows if limit is None else self._rows[:limit]
        numeric = [all(is_number(row[k]) for row in rows) for k in shown]
        text = format_table(shown, [[_cell(row[k]) for k in shown] for row in rows], numeric)
        if len(rows) < len(self._rows):
            text += f"\n... {len(self._rows) - len(rows)} more rows (table[{len(rows)}:])"
        return text

    def __repr__(self) -> str:
        return (f"SweepTable: {len(self)} combination{'s' if len(self) != 1 else ''}\n"
                + self.text(self.SHOWN_ROWS))


def _cell(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def _check_names(grid: dict[str, Any], fields: dict[str, Any], cls: type) -> None:
    """Refuse a keyword that is neither a hyperparameter of ``cls`` nor an option of
    :func:`~optiframe.minimize`, suggesting the closest of either."""
    params = inspect.signature(minimize).parameters.values()  # (every declared option)
    options = [p.name for p in params if p.kind is not p.VAR_KEYWORD]
    for name in grid:
        if name not in fields and name not in options:
            raise InvalidArgumentError(
                f"sweep: {name!r} is neither a hyperparameter of {cls.__name__} "
                f"({', '.join(fields) or 'none'}) nor an option of minimize."
                f"{did_you_mean(name, [*fields, *options])}")


def _optimizer_class(optimizer: Any) -> type:
    if isinstance(optimizer, type) and issubclass(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        factory = get_registry().get("optimizer", optimizer).factory
        if isinstance(factory, type):
            return factory
    raise InvalidArgumentError(
        f"sweep's 'optimizer' must be an Optimizer class or a registered name (the swept "
        f"hyperparameters build one per combination): {optimizer!r}")


@attrs.frozen
class RowValues(Schedule):
    """A hyperparameter that differs by row and stays fixed: ``column[k]`` for row k of a
    stack (how a sweep runs its learning rates side by side)."""

    column: tuple[float, ...]
    per_start = True
    #: its values are its state, which never changes: the loop may reuse the optimizer
    fixed_per_row = True

    def init_rows(self, rows: int) -> Any:
        return np.array(self.column, dtype=float)

    def value(self, step: int, base: Any, loss: float, state: Any) -> tuple[Any, Any]:
        return state, state

    def values(self, step: int, base: Any, losses: np.ndarray,
               states: Any) -> tuple[np.ndarray, Any]:
        return states, states


#: minimize options under which the rows of a stack would not each be their own run
#: (max_nfev and max_time: a stack shares them between its rows, a row's own run does not)
_NOT_STACKED = ("starts", "workers", "callbacks", "callback", "checkpoint", "stream_history",
                "epoch_callbacks", "progress", "schedules", "max_nfev", "max_time")

#: minimize options that take one plain value: a list, tuple or 1-D array given for one of
#: them (or for a hyperparameter of the optimizer) is swept; any other option is passed whole
SWEEPABLE_OPTIONS = SWEEPABLE  # declared in optiframe.options


class Swept:
    """Values to sweep for an option that would otherwise take a list whole:
    ``of.sweep(f, x0, bounds=of.Swept([(0, 2)], [(0, 4)]))`` is two runs, one per box.

    Example
    -------
    >>> import optiframe as of
    >>> table = of.sweep(lambda x: float((x[0] - 3) ** 2), [0.0], optimizer="lbfgs",
    ...                  bounds=of.Swept([(0, 2)], [(0, 4)]))
    >>> [round(row["fun"], 6) for row in table]
    [1.0, 0.0]
    """

    def __init__(self, *values: Any) -> None:
        if not values:
            raise InvalidArgumentError("Swept() needs at least one value")
        self.values = list(values)

    def __repr__(self) -> str:
        return f"Swept({', '.join(repr(v) for v in self.values)})"


def _swept_values(name: str, value: Any, fields: dict[str, Any]) -> list[Any] | None:
    """The values ``name`` takes in turn, or None when ``value`` is one value for every
    run."""
    if isinstance(value, Swept):
        return value.values
    if name in fields:  # a hyperparameter whose one value is a sequence is not swept
        if isinstance(fields[name], (tuple, list)):
            return None
    elif name not in SWEEPABLE_OPTIONS:
        return None
    if isinstance(value, np.ndarray):
        return value.tolist() if value.ndim == 1 else None
    return list(value) if isinstance(value, (list, tuple)) else None


def _row_names(cls: type, swept: dict[str, list[Any]], fields: Any,
               fixed: dict[str, Any]) -> set[str]:
    """The swept hyperparameters that can take one value per row of a stack: numbers the
    optimizer accepts as a column (K, 1) array, where nothing else forbids a stack."""
    if any(fixed.get(k) not in (None, (), []) for k in _NOT_STACKED):
        return set()
    names = set()
    base = {k: v for k, v in fixed.items() if k in fields}
    for name, values in swept.items():
        if name not in fields or not all(isinstance(v, (int, float)) and
                                         not isinstance(v, bool) for v in values):
            continue
        try:
            attrs.evolve(cls(**base, **{name: values[0]}),
                         **{name: np.array(values, dtype=float)[:, None]})
        except Exception:  # this hyperparameter is not taken per row
            continue
        names.add(name)
    return names


def _stochastic(run: dict[str, Any], fun: Any) -> bool:
    from .runner import Runner

    try:
        probe = Runner(fun, None, run.get("gradient", "auto"))
    except Exception:  # the run itself reports what is wrong
        return True
    return bool(probe.gradient.for_objective(probe.objective).stochastic)


def _row(chosen: dict[str, Any], result: Result) -> dict[str, Any]:
    return {**chosen, "status": str(result.status), "success": result.success,
            "fun": result.fun, "x": result.x.tolist(), "nit": result.nit,
            "nfev": result.nfev, "njev": result.njev, "message": result.message}


def _run_alone(job: tuple[Any, Any, type, dict[str, Any], dict[str, Any]]) -> Result:
    fun, x0, cls, hyper, run = job
    return minimize(fun, x0, optimizer=cls(**hyper), **run)


def _run_stack(fun: Any, x0: Any, cls: type, hypers: list[dict[str, Any]],
               run: dict[str, Any], names: list[str]) -> list[Result]:
    """Run the combinations ``hypers`` (the same but for ``names``) as one multi-start
    stack, each row with its own values of ``names``; one Result per row."""
    shape = np.shape(x0) if np.ndim(x0) > 1 else (-1,)  # as minimize shapes its x
    X0 = np.tile(np.asarray(x0, dtype=float).reshape(-1), (len(hypers), 1))
    base = {k: v for k, v in hypers[0].items() if k not in names}
    optimizer = cls(**base, **{n: hypers[0][n] for n in names})
    rows = {n: RowValues(tuple(float(h[n]) for h in hypers)) for n in names}
    stack: Any = minimize(fun, starts=X0, optimizer=optimizer, schedules=rows, **run)
    h = stack.history  # a StartsHistory
    table, steps = h.table(), np.asarray(h.step)
    results = []
    for k, outcome in enumerate(sorted(stack.starts, key=lambda o: o.index)):
        results.append(Result(outcome.x.reshape(shape), outcome.fun, outcome.status,
                              outcome.message, outcome.nit, outcome.nfev, outcome.njev,
                              LazyHistory(_RowColumns(steps, table, k))))
    return results


@attrs.frozen(eq=False)
class _RowColumns:
    """Row k's columns of a stack's history table, cut out when its history is read:
    nfev and elapsed are the stack's, not one row's (-1 and NaN)."""

    steps: np.ndarray
    table: np.ndarray  # (rows, 4, K): fun, grad_norm, step_norm, step_size
    k: int

    def __call__(self) -> dict[str, np.ndarray]:
        F, G, S, A = (self.table[:, i, self.k] for i in range(4))
        seen = ~(np.isnan(F) & np.isnan(G))
        m = int(seen.sum())
        return {"step": self.steps[seen], "fun": F[seen], "grad_norm": G[seen],
                "step_norm": S[seen], "nfev": np.full(m, -1.0),
                "elapsed": np.full(m, np.nan), "step_size": A[seen]}


def sweep(fun: Any, x0: Any = None, *, optimizer: Any = "gd", zipped: bool = False,
          stack: bool = True, workers: Any = None, **grid: Any) -> SweepTable:
    """Run ``fun`` from ``x0`` for every combination of the values listed in ``grid``.

    A list, tuple or 1-D array given for a hyperparameter or for one of
    :data:`SWEEPABLE_OPTIONS` is swept (:class:`Swept` sweeps any other option); every
    other keyword is fixed for every run, lists included. Keywords that are fields of
    ``optimizer`` (a class or a registered name, e.g. ``lr``) build the optimizer of each
    combination; the others are :func:`~optiframe.minimize` options (``max_steps``,
    ``gradient``, ``seed``, ...). With ``stream_history`` or ``checkpoint``, each row
    writes its own: ``h.jsonl`` becomes ``h-row<i>.jsonl`` and a folder ``ck`` becomes
    ``ck/row<i>`` for row i of the table. With ``max_nfev`` or ``max_time``, each row
    runs alone with its own budget. Ctrl-C ends the sweep: the exception carries the rows
    that finished as ``.table`` (and the interrupted row's partial run as ``.result``);
    with ``on_interrupt="return"`` the sweep returns those rows, the interrupted one
    last. A row whose worker dies twice is recorded ``failed``; the others are kept.
    With ``zipped=True`` the lists (all of one length) are taken together, element by
    element, instead of every combination: ``lr=[0.01, 0.1], max_steps=[500, 50]`` is two runs.

    Combinations that differ only in numeric hyperparameters the optimizer takes one per
    row (``lr`` of every built-in optimizer) run as one stack (``stack=False`` runs each
    alone); the others run one after another, or on ``workers`` (as for
    :func:`~optiframe.minimize`; the objective must then be picklable). A stack's rows
    have the bits of their own runs; their histories, cut out of the stack's when first
    read, lack per-row ``nfev`` and ``elapsed`` (-1 and NaN), and a row that diverged ends
    at its last finite record (its own run also records the point where f blew up).
    ``table.groups`` says which rows ran together. A combination that fails or diverges
    is its own row with its status (failures are recorded, not raised). Returns a
    :class:`SweepTable`.
    """
    cls = _optimizer_class(optimizer)
    if not isinstance(zipped, bool):
        raise InvalidArgumentError(f"sweep's 'zipped' must be True or False: {zipped!r}")
    if workers is not None:
        check_workers(workers)  # now, even if every row stacks and none goes to a worker
    fields = ({f.alias or f.name: f.default for f in attrs.fields(cls)} if attrs.has(cls)
              else {})
    _check_names(grid, fields, cls)
    swept = {k: v for k, v in ((k, _swept_values(k, v, fields)) for k, v in grid.items())
             if v is not None}
    fixed = {k: v for k, v in grid.items() if k not in swept}
    if workers is not None and fixed.get("evaluate") is not None:
        raise InvalidArgumentError(
            "give the sweep 'workers' (rows spread over processes) or 'evaluate' (each "
            "row's points evaluated on a pool), not both: a worker process cannot start "
            "a pool of its own")
    for name, values in swept.items():
        if not values:
            raise InvalidArgumentError(f"sweep: {name!r} lists no values")
    names = list(swept)
    if zipped:
        lengths = {name: len(values) for name, values in swept.items()}
        if len(set(lengths.values())) > 1:
            raise InvalidArgumentError(
                f"sweep(zipped=True) takes lists of one length: {lengths}")
        combos = list(zip(*(swept[n] for n in names), strict=True))
    else:
        combos = list(itertools.product(*(swept[n] for n in names)))
    chosen = [dict(zip(names, combo, strict=True)) for combo in combos]
    settings = [{**fixed, **c} for c in chosen]
    hypers = [{k: v for k, v in s.items() if k in fields} for s in settings]
    runs = [{"raise_errors": False, **{k: v for k, v in s.items() if k not in fields}}
            for s in settings]
    if len(runs) > 1:
        for i, run in enumerate(runs):
            _own_files(run, i)
    per_row = (_row_names(cls, swept, fields, fixed) if stack and x0 is not None
               and not _stochastic(runs[0], fun) else set())
    groups: dict[str, list[int]] = {}
    for i, (hyper, run) in enumerate(zip(hypers, runs, strict=True)):
        key = repr((sorted(run.items()), sorted((k, v) for k, v in hyper.items()
                                                if k not in per_row)))
        groups.setdefault(key if per_row else str(i), []).append(i)
    results: list[Result | None] = [None] * len(combos)
    try:
        _run_all(fun, x0, cls, hypers, runs, list(groups.values()), sorted(per_row),
                 workers, results)
    except KeyboardInterrupt as stop:  # the rows that finished travel with the exception
        stop.table = _table(chosen, results, list(groups.values()))  # type: ignore[attr-defined]
        raise
    return _table(chosen, results, list(groups.values()))


def _run_all(fun: Any, x0: Any, cls: type, hypers: list[dict[str, Any]],
             runs: list[dict[str, Any]], groups: list[list[int]], per_row: list[str],
             workers: Any, results: list[Result | None]) -> None:
    """Fill ``results``: the stacks, then the rows that run alone. A row interrupted with
    ``on_interrupt="return"`` ends the sweep (the rows after it do not run)."""
    alone: list[int] = []
    for group in groups:
        if len(group) == 1:
            alone.append(group[0])
            continue
        for i, result in zip(group, _run_stack(fun, x0, cls, [hypers[i] for i in group],
                                               runs[group[0]], per_row), strict=True):
            results[i] = result
        if any(results[i].status is Status.INTERRUPTED for i in group):  # type: ignore[union-attr]
            return
    if workers is None or len(alone) < 2:
        for i in alone:
            try:
                results[i] = _run_alone((fun, x0, cls, hypers[i], runs[i]))
            except KeyboardInterrupt as stop:
                partial = getattr(stop, "result", None)
                if isinstance(partial, Result):
                    results[i] = partial  # the interrupted row, as far as it went
                raise
            if results[i].status is Status.INTERRUPTED:  # type: ignore[union-attr]
                return
    else:
        _on_workers(workers, [(fun, x0, cls, hypers[i], runs[i]) for i in alone], alone,
                    results)


def _table(chosen: list[dict[str, Any]], results: list[Result | None],
           groups: list[list[int]]) -> SweepTable:
    """The table of the rows that have a result, in the grid's order."""
    done = [i for i, r in enumerate(results) if r is not None]
    kept = set(done)
    return SweepTable([_row(chosen[i], results[i]) for i in done],  # type: ignore[arg-type]
                      [results[i] for i in done],  # type: ignore[misc]
                      [g for g in ([i for i in group if i in kept] for group in groups) if g])


def _own_files(run: dict[str, Any], row: int) -> None:
    """Each row writes its own stream and checkpoint (one file for every row would keep
    only the last row's): ``history.jsonl`` becomes ``history-row3.jsonl`` and a
    checkpoint folder ``ck`` becomes ``ck/row3`` for row 3 of the table."""
    stream = run.get("stream_history")
    if stream is not None:
        path = Path(stream)
        run["stream_history"] = path.with_name(f"{path.stem}-row{row}{path.suffix}")
    folder = run.get("checkpoint")
    if folder is not None:
        run["checkpoint"] = Path(folder) / f"row{row}"


def _on_workers(workers: Any, jobs: list[Any], where: list[int],
                results: list[Result | None]) -> None:
    from .executors import as_executor, check_picklable, run_jobs

    executor = as_executor(workers)
    if getattr(executor, "needs_pickling", False):
        check_picklable(jobs, "sweep's objective")

    def got(i: int, result: Result) -> None:
        results[where[i]] = result

    try:
        lost = run_jobs(executor, _run_alone, jobs, 1, None, got)
    finally:
        executor.close()
    for i, why in lost.items():  # retried once, then recorded: the other rows are kept
        results[where[i]] = _failed_row(jobs[i][1], f"combination {where[i]} {why}")


def _failed_row(x0: Any, why: str) -> Result:
    """The row of a combination whose run was lost (its worker died twice)."""
    x = np.array(x0, dtype=float)
    return Result(x, math.nan, Status.FAILED, f"Failed: {why}", 0, 0, 0,
                  History(x.size))
