"""Plain-text tables for the command line and the demo."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                 numeric: Sequence[bool] | None = None) -> str:
    """Align ``rows`` under ``headers``; numbers right-aligned, text left-aligned
    (``numeric``: which columns are numbers, where the cells are already text)."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=False)]
    if numeric is None:
        numeric = [all(is_number(row[i]) for row in rows) if rows else False
                   for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=False)
        ]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def head_and_tail(total: int, k: int) -> list[int | None]:
    """The row indices a long table shows: all of ``total`` rows up to ``2 k``, else the
    first and last ``k`` with None between them (where the table prints ``...``)."""
    if total <= 2 * k:
        return list(range(total))
    return [*range(k), None, *range(total - k, total)]
