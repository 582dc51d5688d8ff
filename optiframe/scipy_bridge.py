"""optiframe inside scipy: :func:`scipy_method` makes an optiframe optimizer a ``method``
that ``scipy.optimize.minimize`` (and so ``basinhopping`` and differential evolution's
polishing) accepts.

scipy is imported only when the method is called, so this module costs nothing without
it. scipy calls the method as ``method(fun, x0, args, jac=..., bounds=..., callback=...,
**options)``; it returns a real ``OptimizeResult`` with ``nit``, ``nfev``, ``njev``,
``status`` (0 when optiframe converged, else 1, with optiframe's own status in
``optiframe_status``), ``message`` and the optiframe ``history``.

Example
-------
>>> import numpy as np, optiframe as of
>>> from scipy.optimize import minimize, rosen, rosen_der
>>> r = minimize(rosen, [-1.2, 1.0], jac=rosen_der, method=of.scipy_method("lbfgs"))
>>> r.success, np.round(r.x, 6).tolist(), r.optiframe_status, len(r.history) == r.nit + 1
(True, [1.0, 1.0], 'converged', True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .api import minimize
from .errors import InvalidArgumentError


def scipy_method(optimizer: Any = "lbfgs", gradient: Any = "auto",
                 **options: Any) -> Callable[..., Any]:
    """A ``method`` for ``scipy.optimize.minimize`` that runs optiframe's ``optimizer``
    (an instance, a name or a mapping), with ``gradient`` when scipy passes no ``jac``,
    and optiframe's ``options`` (``max_steps``, ``gtol``, ``line_search`` settings of the
    optimizer, ...). scipy's own ``options={"maxiter": ...}`` and ``tol`` still apply."""
    if "x0" in options or "starts" in options:
        raise InvalidArgumentError("scipy_method runs from scipy's x0: drop 'x0'/'starts'")

    def method(fun: Callable[..., Any], x0: Any, args: tuple[Any, ...] = (), *,
               jac: Any = None, bounds: Any = None, callback: Any = None,
               **scipy_options: Any) -> Any:
        import scipy.optimize as so

        scipy_options.pop("hess", None)
        scipy_options.pop("hessp", None)
        if scipy_options.pop("constraints", None):
            raise InvalidArgumentError("optiframe's methods take bounds, not constraints")
        extra = dict(options)
        maxiter = scipy_options.pop("maxiter", None)
        if maxiter is not None:
            extra["max_steps"] = maxiter
        if scipy_options.get("gtol") is not None:
            extra["gtol"] = scipy_options.pop("gtol")
        f = fun if not args else (lambda x: fun(x, *args))
        if callable(jac):
            g = jac if not args else (lambda x: jac(x, *args))
            jac_arg, grad_arg = g, "auto"
        else:
            jac_arg, grad_arg = (jac if isinstance(jac, str) else None), gradient
        r = minimize(f, np.asarray(x0, dtype=float), optimizer=optimizer, gradient=grad_arg,
                     jac=jac_arg, bounds=bounds, callback=callback, raise_errors=True,
                     **extra)
        jac_value = r.jac
        return so.OptimizeResult(
            x=r.x, fun=r.fun, jac=jac_value, hess_inv=r.hess_inv, nit=r.nit, nfev=r.nfev,
            njev=r.njev, status=0 if r.success else 1, success=r.success, message=r.message,
            optiframe_status=str(r.status), history=r.history)

    method.__name__ = f"optiframe_{getattr(optimizer, '__name__', optimizer)}"
    return method
