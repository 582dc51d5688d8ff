"""Distinct minima: the final points of a multi-start run, grouped when close together."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .result import Minimum, StartOutcome, Status

#: Statuses whose final point counts as a minimum found.
SETTLED = (Status.CONVERGED, Status.MAX_STEPS, Status.STALLED, Status.CALLBACK_STOP,
           Status.INTERRUPTED)


def distinct_minima(outcomes: Sequence[StartOutcome], tol: float) -> tuple[Minimum, ...]:
    """Group final points closer than ``tol`` (Euclidean); best value first.

    Each group is represented by its lowest point; a point joins the first group (in order
    of value) whose representative lies within ``tol``. Starts that diverged, hit NaN or
    failed are left out.
    """
    settled = sorted((o for o in outcomes if o.status in SETTLED and np.isfinite(o.fun)),
                     key=lambda o: (o.fun, o.index))
    if not settled:
        return ()
    points = np.stack([o.x for o in settled])
    group = np.full(len(settled), -1)
    # Only points whose first coordinate lies within tol can be within tol: sorting by it
    # turns each claim into a window search, near-linear when the minima are distinct.
    order = np.argsort(points[:, 0], kind="stable")
    first = points[order, 0]
    # A point with no other point in its window is a group of its own: no claim needed.
    window_sizes = np.empty(len(settled), dtype=np.int64)
    window_sizes[order] = (np.searchsorted(first, first + tol, side="right")
                           - np.searchsorted(first, first - tol, side="left"))
    alone = window_sizes == 1
    minima: list[Minimum] = []
    # In order of value, an unassigned point founds a group and claims every unassigned
    # point within tol: each point joins the first founder (by value) within tol.
    for i, founder in enumerate(settled):
        if group[i] >= 0:
            continue
        if alone[i]:
            group[i] = len(minima)
            minima.append(Minimum(x=founder.x, fun=founder.fun, count=1,
                                  starts=(founder.index,)))
            continue
        lo = int(np.searchsorted(first, points[i, 0] - tol, side="left"))
        hi = int(np.searchsorted(first, points[i, 0] + tol, side="right"))
        window = order[lo:hi]
        window = window[group[window] < 0]
        d = points[window] - points[i]
        near = window[np.einsum("ij,ij->i", d, d) <= tol * tol]
        group[near] = len(minima)
        members = tuple(sorted(settled[j].index for j in near))
        minima.append(Minimum(x=founder.x, fun=founder.fun, count=len(members),
                              starts=members))
    return tuple(minima)
