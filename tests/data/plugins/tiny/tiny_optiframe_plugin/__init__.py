"""A tiny third-party plugin: one optimizer and one objective, through the entry point."""

import attrs
import numpy as np

import optiframe


@attrs.frozen
class HalfStep(optiframe.Optimizer):
    """Gradient descent with half the learning rate."""

    lr: float = 0.02

    def init(self, x):
        return optiframe.EmptyState()

    def step(self, x, grad, state):
        return x - 0.5 * self.lr * grad, state


class Quartic(optiframe.Objective):
    """sum(x**4)."""

    def value(self, x):
        return float(np.sum(x**4))


@optiframe.hookimpl
def register_optimizers(register):
    register("half-step", HalfStep)


@optiframe.hookimpl
def register_objectives(register):
    register("quartic", Quartic)
