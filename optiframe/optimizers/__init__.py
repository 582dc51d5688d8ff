"""How a step is taken from the slope: the optimizers, and the pieces they are built from.

``base`` holds the :class:`Optimizer` interface and plain gradient descent,
``transforms`` the composable pieces and :class:`Chain`, ``named`` the named optimizers
(momentum, Nesterov, AdaGrad, RMSProp, Adam, AdamW).
"""

from ..hookspecs import Register, hookimpl
from .base import EmptyState, GradientDescent, Optimizer
from .named import Adagrad, Adam, AdamW, ChainedOptimizer, Momentum, Nesterov, RMSprop
from .quasinewton import BFGS, LBFGS
from .transforms import Chain, ChainState, ClipByGlobalNorm, ClipByValue, Transform

__all__ = [
    "BFGS",
    "LBFGS",
    "Adagrad",
    "Adam",
    "AdamW",
    "Chain",
    "ChainState",
    "ChainedOptimizer",
    "ClipByGlobalNorm",
    "ClipByValue",
    "EmptyState",
    "GradientDescent",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSprop",
    "Transform",
]

BUILTIN_OPTIMIZERS = {
    "gd": GradientDescent,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": Adagrad,
    "rmsprop": RMSprop,
    "adam": Adam,
    "adamw": AdamW,
    "lbfgs": LBFGS,
    "bfgs": BFGS,
}


@hookimpl
def register_optimizers(register: Register) -> None:
    for name, cls in BUILTIN_OPTIMIZERS.items():
        register(name, cls)
