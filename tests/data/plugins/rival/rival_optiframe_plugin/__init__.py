"""A plugin that chose the same optimizer name as the "tiny" plugin: "half-step"."""

import attrs

import optiframe


@attrs.frozen
class RivalHalfStep(optiframe.Optimizer):
    """Gradient descent with a quarter of the learning rate (not tiny's half)."""

    lr: float = 0.02

    def init(self, x):
        return optiframe.EmptyState()

    def step(self, x, grad, state):
        return x - 0.25 * self.lr * grad, state


@optiframe.hookimpl
def register_optimizers(register):
    register("half-step", RivalHalfStep)
