"""Specializing a function on a few flags: one source, branches that cannot run removed.

The step loop (:mod:`optiframe.loop`) is written once for every kind of run, with a few
boolean flags (one point or rows, full data or batches, ...) tested on its way. Testing
them costs a single start a fifth of its step; :func:`specialize` recompiles the loop with
the flags as constants and the branches they rule out removed, as attrs compiles the
methods it generates. The recompiled function keeps its source file and line numbers, so
tracebacks and coverage point at the real code.

>>> def f(x, fast):
...     if fast:
...         return x
...     return -x if not fast else x
>>> g = specialize(f, fast=False)
>>> g(3, fast=True)   # the flag argument is no longer read
-3
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from typing import Any


class _Fold(ast.NodeTransformer):
    """Replace the flags with constants and drop what a constant test rules out."""

    def __init__(self, constants: dict[str, bool]) -> None:
        self.constants = constants

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if isinstance(node.ctx, ast.Load) and node.id in self.constants:
            return ast.copy_location(ast.Constant(self.constants[node.id]), node)
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.Not) and isinstance(node.operand, ast.Constant):
            return ast.copy_location(ast.Constant(not node.operand.value), node)
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        values: list[ast.expr] = []
        for value in node.values:
            if isinstance(value, ast.Constant):
                decided = bool(value.value) if isinstance(node.op, ast.Or) else not value.value
                if decided:  # True in an `or`, False in an `and`: the rest never runs
                    if not values:
                        return ast.copy_location(ast.Constant(value.value), node)
                    values.append(value)
                    break
                continue  # False in an `or`, True in an `and`: no effect
            values.append(value)
        if not values:
            return ast.copy_location(ast.Constant(isinstance(node.op, ast.And)), node)
        if len(values) == 1:
            return values[0]
        node.values = values
        return node

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.test, ast.Constant):
            return node.body if node.test.value else node.orelse
        return node

    def visit_If(self, node: ast.If) -> Any:
        self.generic_visit(node)
        if isinstance(node.test, ast.Constant):
            kept = node.body if node.test.value else node.orelse
            return kept or [ast.copy_location(ast.Pass(), node)]
        return node


def specialize(fn: Callable[..., Any], **constants: bool) -> Callable[..., Any]:
    """``fn`` recompiled with each name in ``constants`` read as that constant, and the
    branches a constant test rules out removed. ``fn`` must be a plain module-level
    function; the result shares its module's globals (as they are now)."""
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError):  # no source to read (a frozen build): the function as is
        return fn
    tree = ast.parse(source)
    ast.increment_lineno(tree, fn.__code__.co_firstlineno - 1)
    tree = ast.fix_missing_locations(_Fold(constants).visit(tree))
    namespace: dict[str, Any] = dict(fn.__globals__)
    exec(compile(tree, fn.__code__.co_filename, "exec"), namespace)
    special = namespace[fn.__name__]
    flags = ", ".join(f"{k}={v}" for k, v in constants.items())
    special.__qualname__ = f"{fn.__qualname__}[{flags}]"
    return special
