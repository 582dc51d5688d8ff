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

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .api import OPTIONS as SCIPY_OPTIONS
from .api import minimize
from .errors import InvalidArgumentError
from .optimizers import Optimizer
from .plugins import get_registry


def _with_hyperparameters(optimizer: Any, options: dict[str, Any],
                          ) -> tuple[Any, dict[str, Any]]:
    """The optimizer (a name or mapping) with the options that are its hyperparameters
    moved into it, built once now so that a bad value is refused before scipy runs."""
    if isinstance(optimizer, str):
        optimizer = {"name": optimizer}
    if not isinstance(optimizer, Mapping) or "name" not in optimizer:
        return optimizer, options
    registry = get_registry()
    accepted = registry.get("optimizer", optimizer["name"]).parameters
    hyper = {k: v for k, v in options.items() if k in accepted}
    spec = {**optimizer, **hyper}
    registry.build("optimizer", spec, Optimizer)
    return spec, {k: v for k, v in options.items() if k not in hyper}


def _mapped(scipy_options: dict[str, Any]) -> dict[str, Any]:
    """scipy's options for the method (``tol`` and ``options={...}``, as scipy hands them
    over) as optiframe's, taken out of ``scipy_options``; unknown ones warned about as
    scipy's own methods do (``OptimizeWarning: Unknown solver options``)."""
    from scipy.optimize import OptimizeWarning

    out: dict[str, Any] = {}
    tol = scipy_options.pop("tol", None)
    for key in list(scipy_options):
        if key in SCIPY_OPTIONS and scipy_options[key] is not None:
            out[SCIPY_OPTIONS[key]] = scipy_options.pop(key)
    if tol is not None:
        out.setdefault("gtol", tol)
    unknown = sorted(k for k in scipy_options if k != "disp")
    if unknown:
        warnings.warn(f"Unknown solver options: {', '.join(unknown)} (optiframe's method "
                      f"takes tol, disp, {', '.join(sorted(SCIPY_OPTIONS))}, and optiframe's "
                      "own options as scipy_method keywords)", OptimizeWarning, stacklevel=4)
        for key in unknown:
            del scipy_options[key]
    return out


def scipy_method(optimizer: Any = "lbfgs", gradient: Any = "auto",
                 **options: Any) -> Callable[..., Any]:
    """A ``method`` for ``scipy.optimize.minimize`` that runs optiframe's ``optimizer``
    (an instance, a name or a mapping), with ``gradient`` when scipy passes no ``jac``,
    and optiframe's ``options``: the optimizer's hyperparameters (``scipy_method("adam",
    lr=0.01)``) and :func:`~optiframe.minimize` options (``max_steps``, ``gtol``, ...).

    scipy's ``tol`` (as ``gtol``, unless ``options`` gives one) and ``options`` apply too:
    ``maxiter`` (max_steps), ``maxfun``/``maxfev`` (max_nfev), ``gtol``, ``ftol``,
    ``xtol``, and ``disp`` (print the outcome); scipy's values win over the keywords given
    here. Others are warned about (``OptimizeWarning``) and dropped, as scipy's methods do.
    """
    if "x0" in options or "starts" in options:
        raise InvalidArgumentError("scipy_method runs from scipy's x0: drop 'x0'/'starts'")
    optimizer, options = _with_hyperparameters(optimizer, options)

    def method(fun: Callable[..., Any], x0: Any, args: tuple[Any, ...] = (), *,
               jac: Any = None, bounds: Any = None, callback: Any = None,
               **scipy_options: Any) -> Any:
        import scipy.optimize as so

        scipy_options.pop("hess", None)
        scipy_options.pop("hessp", None)
        if scipy_options.pop("constraints", None):
            raise InvalidArgumentError("optiframe's methods take bounds, not constraints")
        extra = {**options, **_mapped(scipy_options)}
        disp = bool(scipy_options.pop("disp", False))
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
        if disp:
            print(f"{method.__name__}: {r.status}: {r.message} (f = {r.fun:.6g}, "
                  f"{r.nit} steps, {r.nfev} evaluations)")
        return so.OptimizeResult(
            x=r.x, fun=r.fun, jac=jac_value, hess_inv=r.hess_inv, nit=r.nit, nfev=r.nfev,
            njev=r.njev, status=0 if r.success else 1, success=r.success, message=r.message,
            optiframe_status=str(r.status), history=r.history)

    name = optimizer.get("name") if isinstance(optimizer, Mapping) else optimizer
    method.__name__ = f"optiframe_{getattr(name, '__name__', name)}"
    return method
