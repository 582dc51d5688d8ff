"""Results (optiframe.result): what survives pickling, and the computed jac."""

from __future__ import annotations

import numpy as np

import optiframe as of


def test_results_pickle_with_their_history_and_a_computed_jac():
    import pickle

    r = of.minimize(lambda x: float(((x - 1) ** 2).sum()), [3.0, -1.0])
    jac = r.jac
    back = pickle.loads(pickle.dumps(r))
    assert (back.status, back.nit, back.nfev) == (r.status, r.nit, r.nfev)
    np.testing.assert_array_equal(back.x, r.x)
    np.testing.assert_array_equal(back.history.fun, r.history.fun)
    np.testing.assert_array_equal(back.jac, jac)
    multi = of.minimize("himmelblau", starts=np.array([[1.0, 1.0], [-3.0, 3.0]]))
    again = pickle.loads(pickle.dumps(multi))
    assert len(again.minima) == len(multi.minima) and again.fun == multi.fun
