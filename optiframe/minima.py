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
    minima: list[Minimum] = []
    # In order of value, an unassigned point founds a group and claims every unassigned
    # point within tol: each point joins the first founder (by value) within tol, in one
    # vectorized distance computation per group.
    for i, founder in enumerate(settled):
        if group[i] >= 0:
            continue
        free = group < 0
        near = free & (np.linalg.norm(points - points[i], axis=1) <= tol)
        group[near] = len(minima)
        members = tuple(settled[j].index for j in np.flatnonzero(near))
        minima.append(Minimum(x=founder.x, fun=founder.fun, count=len(members),
                              starts=members))
    return tuple(minima)
