"""The strong Wolfe search's trial lengths from what it has measured: the minimizer of
the cubic or quadratic that fits two trials (inside a bracket) and the step beyond the
last trial while there is none. Each works on arrays of rows or on float64 scalars, by
the same arithmetic, so that a single start and a row of a stack get the same bits.

Example
-------
>>> import numpy as np
>>> from optiframe.interpolation import cubic_minimizer, extrapolated
>>> float(cubic_minimizer(0.0, 1.0, -2.0, 2.0, 1.0, 2.0))  # (t - 1)^2 on [0, 2]
1.0
>>> float(extrapolated(np.float64(0.0), 1.0, -2.0, 0.25, 0.5625, -1.5))  # still falling
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Without a bracket, the next trial lies 1.1 to 4 times the last stride beyond the last
#: (Moré and Thuente; scipy's ``dcsrch``: xtrapl, xtrapu)
XTRAPL, XTRAPU = 1.1, 4.0


def cubic_minimizer(a: Any, fa: Any, da: Any, b: Any, fb: Any, db: Any) -> Any:
    """The minimizer of the cubic through (a, fa, da) and (b, fb, db) (NaN if none); on
    arrays, or on float64 scalars (the same arithmetic)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        d1 = da + db - 3.0 * (fa - fb) / (a - b)
        d2 = np.sign(b - a) * np.sqrt(d1 * d1 - da * db)
        return b - (b - a) * (db + d2 - d1) / (db - da + 2.0 * d2)


def extrapolated(a: Any, fa: Any, da: Any, b: Any, fb: Any, db: Any) -> Any:
    """The next trial beyond ``b`` while there is no bracket (Moré and Thuente's first
    stage, as scipy's ``dcsrch``): the minimizer of the cubic through (a, fa, da) and
    (b, fb, db) where it lies beyond ``b``, kept within ``[b + 1.1 (b - a), b + 4 (b - a)]``;
    the far end of that interval otherwise. On arrays, or on float64 scalars."""
    c = cubic_minimizer(a, fa, da, b, fb, db)
    near, far = b + XTRAPL * (b - a), b + XTRAPU * (b - a)
    return np.where(np.isfinite(c) & (c > b), np.clip(c, near, far), far)


def quadratic_minimizer(a: Any, fa: Any, da: Any, b: Any, fb: Any) -> Any:
    """The minimizer of the quadratic through (a, fa, da) and (b, fb)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        h = b - a
        return a - da * h * h / (2.0 * (fb - fa - da * h))


__all__ = ["XTRAPL", "XTRAPU", "cubic_minimizer", "extrapolated", "quadratic_minimizer"]
