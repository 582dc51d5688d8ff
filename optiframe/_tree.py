"""State trees: optimizer and schedule states are attrs classes, mappings, tuples and
lists around numpy arrays and numbers. One walk serves every use (taking rows, merging
rows, flattening for checkpoints), so they all visit the leaves in the same order."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

import attrs


def tree_map(fn: Callable[..., Any], tree: Any, *others: Any) -> Any:
    """``tree`` with each leaf replaced by ``fn(leaf, *matching leaves of others)``.

    attrs classes are rebuilt with ``attrs.evolve`` over their init fields (derived
    fields are recomputed, not walked); mappings, tuples and lists keep their type.
    """
    if attrs.has(type(tree)):
        changes = {f.alias or f.name: tree_map(fn, getattr(tree, f.name),
                                               *(getattr(o, f.name) for o in others))
                   for f in attrs.fields(type(tree)) if f.init}
        return attrs.evolve(tree, **changes) if changes else tree
    if isinstance(tree, Mapping):
        return cast(Any, type(tree))({k: tree_map(fn, v, *(o[k] for o in others))
                                      for k, v in tree.items()})
    if isinstance(tree, (tuple, list)):
        return type(tree)(tree_map(fn, v, *(o[i] for o in others))
                          for i, v in enumerate(tree))
    return fn(tree, *others)


def tree_leaves(tree: Any) -> Iterator[Any]:
    """The leaves of ``tree`` in :func:`tree_map`'s order."""
    if attrs.has(type(tree)):
        for f in attrs.fields(type(tree)):
            if f.init:
                yield from tree_leaves(getattr(tree, f.name))
    elif isinstance(tree, Mapping):
        for v in tree.values():
            yield from tree_leaves(v)
    elif isinstance(tree, (tuple, list)):
        for v in tree:
            yield from tree_leaves(v)
    else:
        yield tree
