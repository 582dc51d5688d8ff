"""Distinct minima: the final points of a multi-start run, grouped when close together."""

from __future__ import annotations

import collections
from collections.abc import Sequence

import numpy as np

from .outcome import Finished, Minimum, StartOutcome


def distinct_minima(outcomes: Sequence[StartOutcome] | Finished,
                    tol: float) -> tuple[Minimum, ...]:
    """Group final points closer than ``tol`` (Euclidean); best value first.

    Each group is represented by its lowest point; a point joins the first group (in order
    of value) whose representative lies within ``tol``. Every start that ended at a finite
    value counts (:meth:`Finished.at_a_point`), so the best start's point is always the first
    minimum; each minimum's ``statuses`` says how its starts ended.
    """
    if not isinstance(outcomes, Finished):
        n = outcomes[0].x.size if len(outcomes) else 0
        outcomes = Finished.of(list(outcomes), n)
    keep = outcomes.at_a_point()
    if not keep.any():
        return ()
    rows = np.flatnonzero(keep)
    rows = rows[np.lexsort((outcomes.index[rows], outcomes.fun[rows]))]
    points = outcomes.x[rows]
    values = outcomes.fun[rows].tolist()
    indices = outcomes.index[rows].tolist()
    ended = [outcomes.status[j].value for j in rows.tolist()]
    group = np.full(len(rows), -1)
    # Only points whose first coordinate lies within tol can be within tol: sorting by it
    # turns each claim into a window search, near-linear when the minima are distinct.
    order = np.argsort(points[:, 0], kind="stable")
    first = points[order, 0]
    # A point with no other point in its window is a group of its own: no claim needed.
    window_sizes = np.empty(len(rows), dtype=np.int64)
    window_sizes[order] = (np.searchsorted(first, first + tol, side="right")
                           - np.searchsorted(first, first - tol, side="left"))
    alone = (window_sizes == 1).tolist()
    minima: list[Minimum] = []
    # In order of value, an unassigned point founds a group and claims every unassigned
    # point within tol: each point joins the first founder (by value) within tol.
    for i in range(len(rows)):
        if group[i] >= 0:
            continue
        if alone[i]:
            group[i] = len(minima)
            minima.append(Minimum(x=points[i], fun=values[i], count=1, starts=(indices[i],),
                                  statuses={ended[i]: 1}))
            continue
        lo = int(np.searchsorted(first, points[i, 0] - tol, side="left"))
        hi = int(np.searchsorted(first, points[i, 0] + tol, side="right"))
        window = order[lo:hi]
        window = window[group[window] < 0]
        d = points[window] - points[i]
        near = window[np.einsum("ij,ij->i", d, d) <= tol * tol]
        group[near] = len(minima)
        members = tuple(sorted(indices[j] for j in near.tolist()))
        statuses = dict(collections.Counter(ended[j] for j in near.tolist()).most_common())
        minima.append(Minimum(x=points[i], fun=values[i], count=len(members), starts=members,
                              statuses=statuses))
    return tuple(minima)
