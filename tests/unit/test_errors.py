"""optiframe.errors: refused_call's verdicts (a plain function's read from its code
object, where inspect.signature would cost tens of microseconds a run)."""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest

from optiframe.errors import _takes_positional, refused_call


def _one(x): ...
def _two(x, y): ...
def _default(x, y=1): ...
def _star(*args): ...
def _star_after(x, *rest): ...
def _kw_required(x, *, k): ...
def _kw_default(x, *, k=1): ...
def _positional_only(x, y, /): ...
def _none(): ...
def _everything(x, y=2, /, z=3, *rest, k=4, **kw): ...


@functools.wraps(_two)
def _wrapped_two(*args, **kwargs): ...


class _Holder:
    def method(self, x): ...

    def __call__(self, x): ...


PLAIN = [_one, _two, _default, _star, _star_after, _kw_required, _kw_default,
         _positional_only, _none, _everything, lambda x: 0, lambda x, y: 0,
         lambda *a, **k: 0, _wrapped_two]
OTHERS = [functools.partial(_two, 1), _Holder().method, _Holder(), np.sin, len, _Holder]


def _binds(fn, count: int) -> bool:
    try:
        inspect.signature(fn).bind(*([None] * count))
    except TypeError:
        return False
    return True


@pytest.mark.parametrize("fn", PLAIN + OTHERS, ids=lambda f: getattr(f, "__name__", repr(f)))
@pytest.mark.parametrize("count", [0, 1, 2, 3])
def test_refused_call_agrees_with_the_signature(fn, count):
    """Whatever the route, the verdict is inspect's bind (or None where Python cannot
    read the signature)."""
    try:
        inspect.signature(fn)
    except (TypeError, ValueError):
        assert refused_call(fn, *([None] * count)) is None
        return
    refused = refused_call(fn, *([None] * count))
    assert (refused is None) == _binds(fn, count)
    if refused is not None:
        assert refused.endswith(str(inspect.signature(fn)))


@pytest.mark.parametrize("fn", PLAIN, ids=lambda f: f.__name__)
@pytest.mark.parametrize("count", [0, 1, 2, 3])
def test_the_code_object_route_never_accepts_what_the_signature_refuses(fn, count):
    """The fast route may leave a case to the signature, never decide one wrongly."""
    if _takes_positional(fn, count):
        assert _binds(fn, count)


def test_the_code_object_route_decides_the_usual_functions():
    assert _takes_positional(_one, 1) and _takes_positional(lambda x: 0, 1)
    assert _takes_positional(_default, 1) and _takes_positional(_star_after, 3)
    assert not _takes_positional(functools.partial(_two, 1), 1)  # left to the signature
    assert not _takes_positional(_kw_required, 1)
    # a decorated function's signature is its original's (inspect follows __wrapped__)
    assert not _takes_positional(_wrapped_two, 1)
    assert refused_call(_wrapped_two, None) == "_two(x, y)"
