"""The blog's experiment as one call: :func:`sweep` runs every combination of the listed
hyperparameters and options and returns a table.

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

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from .api import minimize
from .errors import InvalidArgumentError
from .optimizers import Optimizer
from .plugins import get_registry
from .result import Result


class SweepTable(Sequence[dict[str, Any]]):
    """The rows of a sweep, one per combination, in the order of the grid: the swept
    values, then ``status``, ``success``, ``fun``, ``x``, ``nit``, ``nfev``, ``njev`` and
    ``message``; ``results`` holds the :class:`~optiframe.Result` of each row."""

    def __init__(self, rows: list[dict[str, Any]], results: list[Result]) -> None:
        self._rows, self.results = rows, results

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

    def best(self) -> dict[str, Any]:
        """The row with the lowest finite f."""
        finite = [r for r in self._rows if r["fun"] == r["fun"]]
        if not finite:
            raise InvalidArgumentError("no combination reached a finite f")
        return min(finite, key=lambda r: r["fun"])

    def __repr__(self) -> str:
        return f"<SweepTable: {len(self)} combinations>"


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


def sweep(fun: Any, x0: Any = None, *, optimizer: Any = "gd", **grid: Any) -> SweepTable:
    """Run ``fun`` from ``x0`` for every combination of the values listed in ``grid``.

    A keyword whose value is a list (or tuple) is swept; any other is fixed for every run.
    Keywords that are fields of ``optimizer`` (a class or a registered name, e.g. ``lr``)
    build the optimizer of each combination; the others are :func:`~optiframe.minimize`
    options (``max_steps``, ``gradient``, ``seed``, ...). The combinations run one after
    another, each as its own run (a failed one is recorded, not raised), so each row has
    exactly the bits of the equivalent ``minimize`` call. Returns a :class:`SweepTable`.
    """
    cls = _optimizer_class(optimizer)
    fields = {f.alias or f.name for f in attrs.fields(cls)} if attrs.has(cls) else set()
    swept = {k: list(v) for k, v in grid.items() if isinstance(v, (list, tuple))}
    fixed = {k: v for k, v in grid.items() if k not in swept}
    for name, values in swept.items():
        if not values:
            raise InvalidArgumentError(f"sweep: {name!r} lists no values")
    rows: list[dict[str, Any]] = []
    results: list[Result] = []
    names = list(swept)
    for combo in itertools.product(*(swept[n] for n in names)):
        chosen = dict(zip(names, combo, strict=True))
        settings = {**fixed, **chosen}
        hyper = {k: v for k, v in settings.items() if k in fields}
        run = {k: v for k, v in settings.items() if k not in fields}
        run.setdefault("raise_errors", False)
        result = minimize(fun, x0, optimizer=cls(**hyper), **run)
        results.append(result)
        rows.append({**chosen, "status": str(result.status), "success": result.success,
                     "fun": result.fun, "x": result.x.tolist(), "nit": result.nit,
                     "nfev": result.nfev, "njev": result.njev, "message": result.message})
    return SweepTable(rows, results)
