"""Losses over a training set: objectives that are the mean of per-sample losses.

A :class:`DataObjective` holds arrays ``X`` (n_samples, n_features) and ``y`` (never
copied: numpy.memmap or any array supporting fancy indexing on the first axis works) and
offers the loss and its analytic gradient on any batch of sample indices. Its ``value``
and ``gradient`` are over the whole set, computed in chunks of rows, so a dataset larger
than memory is never loaded at once.

Built-ins: :class:`LeastSquares` (linear regression), :class:`LogisticRegression`
(binary), :class:`SoftmaxRegression` (multinomial) and :class:`MLP` (one hidden tanh
layer, softmax output, trained by backpropagation). Subclass :class:`DataObjective` and
implement ``batch_loss_and_gradient`` (or only ``batch_loss``) to add a loss.

Example
-------
>>> import numpy as np, optiframe as of
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 3)); y = X @ [1.0, -2.0, 0.5] + 3.0
>>> obj = of.LeastSquares(X, y)
>>> r = of.minimize(obj, np.zeros(obj.dim), optimizer=of.GradientDescent(lr=0.5))
>>> r.x.round(6).tolist()
[1.0, -2.0, 0.5, 3.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import InvalidArgumentError, InvalidTypeError
from .objective import Objective

#: Rows per chunk when a loss or gradient is computed over the whole set.
CHUNK_ROWS = 4096


def _check_data(X: Any, y: Any) -> tuple[Any, Any]:
    """Check shapes, emptiness and finiteness (by chunks); return the arrays, uncopied."""
    if not hasattr(X, "shape") or not hasattr(X, "__getitem__"):
        X = np.asarray(X, dtype=float)
    if not hasattr(y, "shape") or not hasattr(y, "__getitem__"):
        y = np.asarray(y)
    if len(X.shape) != 2:
        raise InvalidArgumentError(f"'X' must be 2-D (samples, features), got shape {X.shape}")
    if len(y.shape) != 1:
        raise InvalidArgumentError(f"'y' must be 1-D (one target per sample), got shape "
                                   f"{y.shape}")
    if X.shape[0] != y.shape[0]:
        raise InvalidArgumentError(
            f"'X' and 'y' have different lengths: {X.shape[0]} samples and {y.shape[0]} "
            "targets")
    if X.shape[0] == 0:
        raise InvalidArgumentError("the dataset is empty: 'X' has no samples")
    if np.dtype(X.dtype).kind not in "iuf":
        raise InvalidTypeError(f"'X' must hold real numbers, got dtype {X.dtype}")
    for start in range(0, X.shape[0], CHUNK_ROWS):
        block = np.asarray(X[start : start + CHUNK_ROWS], dtype=float)
        if not np.isfinite(block).all():
            row, col = np.argwhere(~np.isfinite(block))[0]
            raise InvalidArgumentError(
                f"'X' must be finite: X[{start + row}, {col}] is "
                f"{float(block[row, col])!r}")
        target = np.asarray(y[start : start + CHUNK_ROWS])
        if target.dtype.kind == "f" and not np.isfinite(target).all():
            i = int(np.flatnonzero(~np.isfinite(target))[0])
            raise InvalidArgumentError(
                f"'y' must be finite: y[{start + i}] is {float(target[i])!r}")
    return X, y


class DataObjective(Objective):
    """The mean of per-sample losses over ``(X, y)``; see the module docstring."""

    trusted = True  # the built-in models; a subclass of user code sets it False

    def __init__(self, X: Any, y: Any) -> None:
        self.X, self.y = _check_data(X, y)

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_params(self) -> int:
        """The number of parameters (``dim``, which every built-in data objective sets)."""
        assert self.dim is not None
        return self.dim

    def parameters_text(self) -> str:
        """What the parameters are, in words (``3 weights + 1 intercept``)."""
        return f"{self.dim} parameters"

    def check_dim(self, n: int) -> None:
        if self.dim is not None and n != self.dim:
            from .errors import InvalidArgumentError

            raise InvalidArgumentError(
                f"x0 has {n} coordinates but {self!r} takes {self.dim} "
                f"({self.parameters_text()}): start from np.zeros(model.dim)"
                + (" or model.init_params(seed)" if hasattr(self, "init_params") else ""))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.n_samples} samples, {self.n_features} "
                "features)")

    # -- what subclasses write ------------------------------------------------------
    def batch_loss(self, params: np.ndarray, idx: np.ndarray) -> float:
        """Mean loss over the samples ``idx``."""
        return self.batch_loss_and_gradient(params, idx)[0]

    def batch_loss_and_gradient(self, params: np.ndarray,
                                idx: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean loss over the samples ``idx`` and its gradient in ``params``."""
        raise NotImplementedError(f"{type(self).__name__} has no analytic gradient")

    # -- the Objective interface, over the whole set ------------------------------------
    def _chunks(self) -> list[np.ndarray]:
        return [np.arange(s, min(s + CHUNK_ROWS, self.n_samples))
                for s in range(0, self.n_samples, CHUNK_ROWS)]

    def value(self, params: np.ndarray) -> float:
        total = 0.0
        for idx in self._chunks():
            total += self.batch_loss(params, idx) * idx.size
        return total / self.n_samples

    def gradient(self, params: np.ndarray) -> np.ndarray:
        g = np.zeros_like(params)
        for idx in self._chunks():
            g += self.batch_loss_and_gradient(params, idx)[1] * idx.size
        return g / self.n_samples

    @property
    def has_gradient(self) -> bool:
        return type(self).batch_loss_and_gradient is not DataObjective.batch_loss_and_gradient

    def batch(self, idx: np.ndarray) -> BatchObjective:
        """This loss restricted to the samples ``idx``: an Objective like any other."""
        return BatchObjective(self, idx)

    def _rows(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Xb, yb = self.X[idx], self.y[idx]
        if type(Xb) is not np.ndarray or Xb.dtype != np.float64:  # a memmap, or ints
            Xb = np.asarray(Xb, dtype=float)
        return Xb, (yb if type(yb) is np.ndarray else np.asarray(yb))


class BatchObjective(Objective):
    """A data objective on one batch of samples; ``idx`` may be changed between steps."""

    def __init__(self, data: DataObjective, idx: np.ndarray) -> None:
        self.data = data
        self.idx = idx
        self.dim = data.dim

    def value(self, params: np.ndarray) -> float:
        return self.data.batch_loss(params, self.idx)

    def gradient(self, params: np.ndarray) -> np.ndarray:
        return self.data.batch_loss_and_gradient(params, self.idx)[1]

    @property
    def has_gradient(self) -> bool:
        return self.data.has_gradient

    def __repr__(self) -> str:
        return f"<batch of {len(self.idx)} samples of {type(self.data).__name__}>"


def _as_labels(y: Any, n_classes: int | None, what: str) -> tuple[np.ndarray, int]:
    labels = np.asarray(y[:]) if not isinstance(y, np.ndarray) else y
    if labels.dtype.kind not in "iu":
        if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
        else:
            raise InvalidArgumentError(f"'y' of {what} must hold integer class labels, got "
                                       f"dtype {labels.dtype}")
    lo, hi = int(labels.min()), int(labels.max())
    k = n_classes if n_classes is not None else hi + 1
    if lo < 0 or hi >= k:
        bad = lo if lo < 0 else hi
        raise InvalidArgumentError(f"labels must be in [0, {k - 1}] for {what}: found {bad}")
    return labels, k


class LeastSquares(DataObjective):
    """Linear regression: ``0.5 * mean((X w + b - y)**2)``; params are ``[w, b]``."""

    def __init__(self, X: Any, y: Any) -> None:
        super().__init__(X, y)
        self.dim = self.n_features + 1

    def parameters_text(self) -> str:
        return f"{self.n_features} weights + 1 intercept"

    def batch_loss_and_gradient(self, params: np.ndarray,
                                idx: np.ndarray) -> tuple[float, np.ndarray]:
        Xb, yb = self._rows(idx)
        r = Xb @ params[:-1] + params[-1] - yb
        m = len(idx)
        return 0.5 * float(r @ r) / m, np.append(Xb.T @ r / m, r.sum() / m)


def _log_softmax(Z: np.ndarray) -> np.ndarray:
    Z = Z - Z.max(axis=1, keepdims=True)
    return Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))


class LogisticRegression(DataObjective):
    """Binary logistic regression (labels 0 and 1): mean cross-entropy; params ``[w, b]``."""

    def __init__(self, X: Any, y: Any) -> None:
        super().__init__(X, y)
        _as_labels(self.y, 2, "LogisticRegression")
        self.dim = self.n_features + 1

    def parameters_text(self) -> str:
        return f"{self.n_features} weights + 1 intercept"

    def batch_loss_and_gradient(self, params: np.ndarray,
                                idx: np.ndarray) -> tuple[float, np.ndarray]:
        Xb, yb = self._rows(idx)
        z = Xb @ params[:-1] + params[-1]
        loss = np.logaddexp(0.0, z) - yb * z  # softplus(z) - y z, stable for any z
        residual = 1.0 / (1.0 + np.exp(-z)) - yb
        m = len(idx)
        return float(loss.mean()), np.append(Xb.T @ residual / m, residual.sum() / m)

    def predict(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X) @ params[:-1] + params[-1] > 0).astype(np.int64)


class _Classifier(DataObjective):
    n_classes: int

    def _onehot(self, yb: np.ndarray) -> np.ndarray:
        Y = np.zeros((len(yb), self.n_classes))
        Y[np.arange(len(yb)), yb.astype(np.int64)] = 1.0
        return Y

    def scores(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The most probable class of each row of ``X``."""
        return np.asarray(self.scores(params, np.asarray(X, dtype=float)).argmax(axis=1))

    def accuracy(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
        """The fraction of rows of ``X`` classified as ``y``."""
        return float(np.mean(self.predict(params, X) == np.asarray(y)))


class SoftmaxRegression(_Classifier):
    """Multinomial logistic regression: mean cross-entropy of ``softmax(X W + b)``.

    params are ``W`` (n_features x n_classes, row-major) then ``b`` (n_classes).
    """

    def __init__(self, X: Any, y: Any, n_classes: int | None = None) -> None:
        super().__init__(X, y)
        _, self.n_classes = _as_labels(self.y, n_classes, "SoftmaxRegression")
        self.dim = (self.n_features + 1) * self.n_classes
        self._shape = (self.n_features, self.n_classes)
        self._split = self.n_features * self.n_classes

    def parameters_text(self) -> str:
        return f"({self.n_features} weights + 1 intercept) x {self.n_classes} classes"

    def _unpack(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return params[: self._split].reshape(self._shape), params[self._split :]

    def scores(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        W, b = self._unpack(params)
        return X @ W + b

    def batch_loss_and_gradient(self, params: np.ndarray,
                                idx: np.ndarray) -> tuple[float, np.ndarray]:
        Xb, yb = self._rows(idx)
        W, b = self._unpack(params)
        logp = _log_softmax(Xb @ W + b)
        m = len(idx)
        rows, labels = np.arange(m), yb.astype(np.int64, copy=False)
        loss = -float(logp[rows, labels].sum()) / m
        dZ = np.exp(logp)
        dZ[rows, labels] -= 1.0
        dZ /= m
        return loss, np.concatenate([(Xb.T @ dZ).ravel(), dZ.sum(axis=0)])


class MLP(_Classifier):
    """A small multilayer perceptron: ``softmax(tanh(X W1 + b1) W2 + b2)``, cross-entropy.

    params are W1 (n_features x hidden), b1, W2 (hidden x n_classes), b2, flattened in
    that order; :meth:`init_params` draws a good start (zeros would keep the hidden units
    identical).
    """

    def __init__(self, X: Any, y: Any, hidden: int = 32, n_classes: int | None = None) -> None:
        super().__init__(X, y)
        if isinstance(hidden, bool) or not isinstance(hidden, int) or hidden < 1:
            raise InvalidArgumentError(f"'hidden' must be an integer >= 1: {hidden!r}")
        self.hidden = hidden
        _, self.n_classes = _as_labels(self.y, n_classes, "MLP")
        d, h, c = self.n_features, hidden, self.n_classes
        self._sizes = (d * h, h, h * c, c)
        self.dim = sum(self._sizes)

    def _unpack(self, params: np.ndarray) -> tuple[np.ndarray, ...]:
        d, h, c = self.n_features, self.hidden, self.n_classes
        a, b, e = d * h, d * h + h, d * h + h + h * c
        return (params[:a].reshape(d, h), params[a:b], params[b:e].reshape(h, c),
                params[e:])

    def init_params(self, seed: int | None = None) -> np.ndarray:
        """Glorot-uniform weights and zero biases, from ``seed``."""
        rng = np.random.default_rng(seed)
        d, h, c = self.n_features, self.hidden, self.n_classes
        w1 = rng.uniform(-1, 1, d * h) * np.sqrt(6.0 / (d + h))
        w2 = rng.uniform(-1, 1, h * c) * np.sqrt(6.0 / (h + c))
        return np.concatenate([w1, np.zeros(h), w2, np.zeros(c)])

    def scores(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        W1, b1, W2, b2 = self._unpack(params)
        return np.tanh(X @ W1 + b1) @ W2 + b2

    def batch_loss_and_gradient(self, params: np.ndarray,
                                idx: np.ndarray) -> tuple[float, np.ndarray]:
        W1, b1, W2, b2 = self._unpack(params)
        Xb, yb = self._rows(idx)
        labels = yb.astype(np.int64, copy=False)
        H = np.tanh(Xb @ W1 + b1)
        logp = _log_softmax(H @ W2 + b2)
        m = len(idx)
        rows = np.arange(m)
        loss = -float(logp[rows, labels].sum()) / m
        dZ = np.exp(logp)
        dZ[rows, labels] -= 1.0
        dZ /= m
        dA = (dZ @ W2.T) * (1.0 - H * H)  # back through tanh
        return loss, np.concatenate([(Xb.T @ dA).ravel(), dA.sum(axis=0),
                                     (H.T @ dZ).ravel(), dZ.sum(axis=0)])


