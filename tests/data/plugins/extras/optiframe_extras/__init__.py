"""A plugin written from the docs before optiframe had its own "spsa": it registers a
gradient of that name (a plain forward difference here), and an optimizer of its own."""

import attrs
import numpy as np

import optiframe


@attrs.frozen
class OldSpsa(optiframe.GradientEstimator):
    """Forward differences, under the name this plugin chose long ago."""

    def gradient(self, objective, x):
        h = 1e-7
        f0 = objective.value(x)
        return np.array([(objective.value(x + h * e) - f0) / h for e in np.eye(len(x))])


@attrs.frozen
class ThirdStep(optiframe.Optimizer):
    """Gradient descent with a third of the learning rate."""

    lr: float = 0.03

    def init(self, x):
        return optiframe.EmptyState()

    def step(self, x, grad, state):
        return x - self.lr / 3 * grad, state


@optiframe.hookimpl
def register_gradient_estimators(register):
    register("spsa", OldSpsa)


@optiframe.hookimpl
def register_optimizers(register):
    register("third-step", ThirdStep)
