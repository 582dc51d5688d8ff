"""Quasi-Newton optimizers: ``lbfgs`` (limited memory, two-loop recursion) and ``bfgs``
(a dense inverse Hessian, for small n), each with a strong Wolfe line search by default.

Both learn curvature from the steps they take: at each step the state holds the
previous point and gradient, so the pair ``s = x_k - x_{k-1}``, ``y = g_k - g_{k-1}`` is
the step actually taken, whatever the line search or a bound's projection made of the
proposed one. A pair with ``s.y <= eps |s| |y|`` (no positive curvature along the step, as
on a concave stretch or with a noisy gradient) is rejected: the memory keeps its older
pairs and the count of rejected pairs grows; the direction stays a descent one, and with
no pair at all it is the steepest descent. The first step is ``-g / |g|``, a unit
displacement, as in L-BFGS-B (and so is any step without a stored pair), lengthened
where a unit step would round back to x. Norms and ``s.y`` are computed without
overflow, so a gradient of 1e200 is a direction like any other.

Every array of the state has one row per start first (a single start's state has one
row), so a multi-start run advances K starts as one stack and checkpoints them like any
other state.
"""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

import attrs
import numpy as np

from .._validation import check_int
from ..numerics import count_nonzero, einsum, scaled_dots, scaled_row_norms, unit_steps
from ._fields import learning_rate, line_search_field
from .base import Optimizer

_EPS = float(np.finfo(float).eps)
_SQRT_EPS = _EPS ** 0.5


def _memory(instance: Any, attribute: Any, value: Any) -> None:
    check_int(attribute.name, value, minimum=1)


def _rows(x: np.ndarray) -> np.ndarray:
    return x.reshape(-1, x.shape[-1])


@functools.cache
def _int_row(v: int) -> np.ndarray:
    """``np.array([v], dtype=np.int64)``, made once per value and shared (read-only): a
    single start's head and count change every step, and making the array costs more
    than finding it."""
    a = np.array([v], dtype=np.int64)
    a.flags.writeable = False
    return a


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return einsum("ij,ij->i", a, b)


def _unit_first_steps(D: np.ndarray, G: np.ndarray, first: np.ndarray,
                      X: np.ndarray) -> np.ndarray:
    """D, with the rows that have no curvature yet (``first``: no pair stored) a unit
    step down their gradient, ``-g / |g|``, as L-BFGS-B's first step (its norm computed
    without overflow), lengthened where a unit step would round back to x."""
    if not first.any():
        return D
    rows = np.flatnonzero(first)
    D = D.copy()
    D[rows] = unit_steps(-G[rows], X[rows])
    return D


@attrs.frozen
class LBFGSState:
    """The last ``memory`` steps ``S`` and gradient changes ``Y`` (rows, memory, n), their
    ``rho = 1 / (s.y)`` (0 in an empty slot), the slot the next pair goes to, how many
    pairs are stored and how many were rejected, and the previous point and gradient
    (NaN before the first step)."""

    S: np.ndarray
    Y: np.ndarray
    rho: np.ndarray
    head: np.ndarray
    count: np.ndarray
    rejected: np.ndarray
    x_prev: np.ndarray
    g_prev: np.ndarray


def _pairs(x: np.ndarray, g: np.ndarray, x_prev: np.ndarray, g_prev: np.ndarray,
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The new curvature pairs, their s.y, and which rows keep theirs. A pair is kept
    when ``s.y > eps |s| |y|`` (the angle between s and y: the same at any scale of f,
    where ``s.y > eps y.y`` rejected the exact pairs of x**4 at x = 1e10) and the step is
    above the rounding of x (``|s| > sqrt(eps) max(1, |x|)``); a step at the rounding
    of x, whose y may be the noise of a finite-difference gradient, must also pass
    ``s.y > eps y.y``."""
    s, y = x - x_prev, g - g_prev
    sy, ns, ny = scaled_dots(s, y)
    with np.errstate(invalid="ignore", over="ignore"):
        angle = np.isfinite(sy) & (sy > _EPS * ns * ny) & (ny > 0) & (ns > 0)
        scale = np.maximum(1.0, np.abs(x).max(axis=1))
        above_rounding = ns > _SQRT_EPS * scale
        strict = (sy / ny) > _EPS * ny  # s.y > eps y.y, without overflow
    take = angle & (above_rounding | strict)
    return s, y, sy, take


@attrs.frozen
class LBFGS(Optimizer):
    """L-BFGS: the direction ``-H g`` from the last ``memory`` curvature pairs (two-loop
    recursion), scaled by ``lr`` (1: the line search starts at the quasi-Newton step).

    Example
    -------
    >>> import numpy as np, optiframe as of
    >>> r = of.minimize("rosenbrock", np.full(20, -1.0), optimizer="lbfgs")
    >>> r.status, bool(np.allclose(r.x, 1.0, atol=1e-6)), r.nfev < 200
    ('converged', True, True)
    """

    #: the step it proposes is a first trial of length 1 for the line search
    natural_step: ClassVar[bool] = True

    memory: int = attrs.field(default=10, validator=_memory)
    line_search: Any = line_search_field("wolfe")
    lr: Any = learning_rate(1.0)

    #: the largest n for which :meth:`inverse_hessian` builds the dense matrix
    DENSE_LIMIT: ClassVar[int] = 500

    def inverse_hessian(self, state: LBFGSState) -> np.ndarray | None:
        """The L-BFGS matrix of the first row's stored pairs, dense (n <= DENSE_LIMIT;
        None beyond, or before any pair)."""
        n = state.S.shape[2]
        if int(state.count[0]) == 0 or n > self.DENSE_LIMIT:
            return None
        take = np.zeros(n, dtype=np.int64)
        with np.errstate(invalid="ignore", over="ignore"):  # (after the run: a run's own)
            H = _two_loop(np.eye(n), state.S[take], state.Y[take], state.rho[take],
                          state.head[take], state.count[take])
        return (H + H.T) / 2.0  # symmetric up to rounding

    def forget(self, state: LBFGSState) -> LBFGSState:
        """The state without its curvature pairs (a restart); the point and gradient the
        last step began at stay, so the next step's pair is learnt as usual."""
        return attrs.evolve(state, S=np.zeros_like(state.S), Y=np.zeros_like(state.Y),
                            rho=np.zeros_like(state.rho), head=np.zeros_like(state.head),
                            count=np.zeros_like(state.count))

    def init(self, x: np.ndarray) -> LBFGSState:
        X = _rows(x)
        K, n, m = X.shape[0], X.shape[1], self.memory
        return LBFGSState(S=np.zeros((K, m, n)), Y=np.zeros((K, m, n)), rho=np.zeros((K, m)),
                          head=np.zeros(K, dtype=np.int64), count=np.zeros(K, dtype=np.int64),
                          rejected=np.zeros(K, dtype=np.int64), x_prev=np.full((K, n), np.nan),
                          g_prev=np.full((K, n), np.nan))

    def step(self, x: np.ndarray, grad: np.ndarray, state: LBFGSState) -> tuple[np.ndarray, Any]:
        if x.ndim == 1:  # one start (without _rows' frames)
            return self._step_one(x, x.reshape(1, -1), grad.reshape(1, -1), state)
        X, G = _rows(x), _rows(grad)
        if len(X) == 1:
            return self._step_one(x, X, G, state)
        m = self.memory
        first = np.isnan(state.x_prev[:, 0])
        S, Y, rho, head, count = state.S, state.Y, state.rho, state.head, state.count
        rejected = state.rejected
        if not first.all():
            s, y, sy, take = _pairs(X, G, state.x_prev, state.g_prev)
            take &= ~first
            rejected = rejected + (~take & ~first)
            if take.any():
                rows = np.flatnonzero(take)
                S, Y, rho = S.copy(), Y.copy(), rho.copy()
                S[rows, head[rows]] = s[rows]
                Y[rows, head[rows]] = y[rows]
                rho[rows, head[rows]] = 1.0 / sy[rows]
                head = np.where(take, (head + 1) % m, head)
                count = np.where(take, np.minimum(count + 1, m), count)
        D = -_two_loop(G, S, Y, rho, head, count)
        D = _unit_first_steps(D, G, count == 0, X)  # no pair: a unit step, not -g
        new = LBFGSState(S=S, Y=Y, rho=rho, head=head, count=count, rejected=rejected,
                         x_prev=X, g_prev=G)
        return (X + self.lr * D).reshape(x.shape), new

    def _step_one(self, x: np.ndarray, X: np.ndarray, G: np.ndarray,
                  state: LBFGSState) -> tuple[np.ndarray, Any]:
        """:meth:`step` of a single start: the same arithmetic (the same bits as the row
        in a stack), its flags and counts as Python values."""
        S, Y, rho, head, count = state.S, state.Y, state.rho, state.head, state.count
        rejected = state.rejected
        h, c = int(head[0]), int(count[0])
        gamma = None  # the newest pair's s.y / y.y, where this step's pair gives it
        if not math.isnan(state.x_prev[0, 0]):
            s, y, sy, take, gamma = _pair_one(X, G, state.x_prev, state.g_prev)
            if take:
                m = self.memory
                S, Y, rho = S.copy(), Y.copy(), rho.copy()
                S[0, h], Y[0, h], rho[0, h] = s[0], y[0], 1.0 / sy
                h, c = (h + 1) % m, min(c + 1, m)
                head, count = _int_row(h), _int_row(c)
            else:
                rejected = rejected + 1
        new = LBFGSState(S, Y, rho, head, count, rejected, X, G)  # (positional: faster)
        if c and type(self.lr) is float and self.lr == 1.0:  # X + 1.0 * -Z, the same bits
            Z = _two_loop_one(G, S, Y, rho, h, c, gamma)  # (a new array: X - Z written
            return np.subtract(X, Z, out=Z).reshape(x.shape), new  # into it)
        D = unit_steps(-G, X) if c == 0 else -_two_loop_one(G, S, Y, rho, h, c, gamma)
        return (X + self.lr * D).reshape(x.shape), new


def _pair_one(X: np.ndarray, G: np.ndarray, x_prev: np.ndarray, g_prev: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray, float, bool, float | None]:
    """:func:`_pairs` of one row, its tests on Python floats (the dots and norms are
    :func:`~optiframe.numerics.scaled_dots`' own wherever that takes its plain path),
    and a kept pair's ``s.y / y.y`` from its plain dots (the two-loop's scale, the same
    bits; None where the pair is rejected or the scaled dots decided)."""
    s, y = X - x_prev, G - g_prev
    s0, y0 = s[0], y[0]
    ss, yy = float(einsum("i,i->", s0, s0)), float(einsum("i,i->", y0, y0))
    sy = float(einsum("i,i->", s0, y0))
    gamma = None
    if 0.0 < ss < math.inf and 0.0 < yy < math.inf and sy != 0.0 and math.isfinite(sy):
        ns, ny, gamma = math.sqrt(ss), math.sqrt(yy), sy / yy
    else:  # overflow, underflow or a zero: the scaled dots decide
        sy_, ns_, ny_ = scaled_dots(s, y)
        sy, ns, ny = float(sy_[0]), float(ns_[0]), float(ny_[0])
    if not (math.isfinite(sy) and sy > _EPS * ns * ny and ny > 0 and ns > 0):
        return s, y, sy, False, None
    # (the strict test first: it usually holds, and then x's scale is not needed)
    take = (sy / ny) > _EPS * ny or ns > _SQRT_EPS * max(1.0, float(np.abs(X).max()))
    return s, y, sy, take, gamma if take else None


def _two_loop(G: np.ndarray, S: np.ndarray, Y: np.ndarray, rho: np.ndarray,
              head: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``H g`` for each row, H the L-BFGS inverse Hessian of the row's stored pairs
    (the identity scaled by ``s.y / y.y`` of the newest pair).

    The two-loop recursion written on dot products (as in vector-free L-BFGS, Chen et
    al. 2014): the dots ``s_i.g``, ``s_i.y_l`` come from two matrix products per row, the
    recursion's coefficients from a short loop over the memory on those numbers, and the
    vectors from two more products; a row whose numbers overflow goes the classic way,
    one vector at a time (:func:`_two_loop_classic`)."""
    K, m = rho.shape
    if K == 1:
        return _two_loop_one(G, S, Y, rho, int(head[0]), int(count[0]))
    if not count.any():
        return 1.0 * G
    c = int(count.max())
    order = (head[:, None] - 1 - np.arange(c)) % m  # (K, c): newest pair first
    # the numbers of the recursion, gathered pair by pair across the rows: (c, K) and
    # (c, c, K), so that each step of the loops below works on contiguous rows
    cols, orderT = np.arange(K), order.T
    # (every row's newest pair in one slot, as in a stack whose rows kept every pair:
    # one order for all, gathered with 1-D indices, several times faster)
    o = order[0] if (head == head[0]).all() else None
    valid = np.arange(c)[:, None] < count  # (c, K): the rows that hold pair i
    with np.errstate(invalid="ignore", over="ignore"):  # overflow: the classic way, below
        SG, SY = _products(G, S, Y)
        sg, r = _by_pair(SG, cols, orderT, o), _by_pair(rho, cols, orderT, o)
        sy = (SY.transpose(1, 2, 0)[o[:, None], o] if o is not None  # sy[i, l]: each row's
              else SY[cols, orderT[:, None, :], orderT[None, :, :]])  # s_i.y_l
        mask = None if valid.all() else valid  # (rows with fewer pairs than c)
        alpha = _first_loop(sg, sy, r, mask)
        q, gamma = _scaled_q(G, Y, _scatter(alpha.T, order, m), S, cols, head, count)
        yq = _by_pair(np.matmul(Y, q[:, :, None])[:, :, 0], cols, orderT, o)
        coef = _second_loop(alpha, yq, gamma, sy, r, mask)
        Z = gamma[:, None] * q + np.matmul(_scatter(coef.T, order, m)[:, None, :], S)[:, 0]
    bad = ~np.isfinite(Z).all(axis=1) & np.isfinite(G).all(axis=1)
    if bad.any():  # numbers that overflow: the classic loop, one vector at a time
        Z[bad] = _two_loop_classic(G[bad], S[bad], Y[bad], rho[bad], head[bad], count[bad])
    return Z


def _by_pair(M: np.ndarray, cols: np.ndarray, orderT: np.ndarray,
             o: np.ndarray | None) -> np.ndarray:
    """The (K, m) numbers ``M`` of each row's memory slots, gathered pair by pair in the
    order of the recursion: (c, K), ``[i, k]`` the number of row k's pair i (``o``: the
    one order of every row, where they share it)."""
    return M.T[o] if o is not None else M[cols, orderT]


def _first_loop(sg: np.ndarray, sy: np.ndarray, r: np.ndarray,
                mask: np.ndarray | None) -> np.ndarray:
    """:func:`_two_loop`'s first loop, newest pair first, on the rows' numbers gathered
    pair by pair (``sg[i]``: each row's s_i.g, ``sy[i, l]``: s_i.y_l, ``r[i]``: rho_i):
    ``alpha_i = rho_i (s_i.g - sum over newer h of alpha_h s_i.y_h)``, 0 where a row
    holds no pair i (``mask[i]`` False; None: every row holds c). Once ``alpha_h`` is
    known it is taken off every later sum in one operation; each sum still loses its
    terms in the order of h, so the bits are those of the sums written one at a time.
    Returns (c, K)."""
    c = sg.shape[0]
    T = sg.copy()
    for h in range(c):
        alpha = T[h]
        np.multiply(r[h], alpha, out=alpha)
        if mask is not None:
            alpha[~mask[h]] = 0.0
        if h + 1 < c:
            T[h + 1:] -= alpha * sy[h + 1:, h]
    return T


def _second_loop(alpha: np.ndarray, yq: np.ndarray, gamma: np.ndarray, sy: np.ndarray,
                 r: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """:func:`_two_loop`'s second loop, oldest pair first (see :func:`_first_loop`):
    ``coef_h = alpha_h - rho_h (gamma y_h.q + sum over older i of coef_i s_i.y_h)``;
    each ``coef_h``, once known, is added to every newer sum (where the row holds pair
    h), in the order of the sums written one at a time. Returns (c, K)."""
    c = alpha.shape[0]
    U = gamma * yq
    for h in reversed(range(c)):
        coef = U[h]
        np.multiply(r[h], coef, out=coef)
        np.subtract(alpha[h], coef, out=coef)
        if mask is not None:
            coef[~mask[h]] = 0.0
        if h:
            added = coef * sy[h, :h]
            if mask is None:
                U[:h] += added
            else:
                np.add(U[:h], added, out=added)
                np.copyto(U[:h], added, where=mask[h])
    return U


def _products(G: np.ndarray, S: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``s_i.g`` (K, m) and ``s_i.y_l`` (K, m, m), by matrix products (the
    same bits for a row alone as in a stack)."""
    return np.matmul(S, G[:, :, None])[:, :, 0], np.matmul(S, Y.transpose(0, 2, 1))


def _scatter(values: np.ndarray, order: np.ndarray, m: int) -> np.ndarray:
    """Coefficients in newest-first order (K, c) placed at their memory slots (K, m)."""
    out = np.zeros((len(values), m))
    np.put_along_axis(out, order, values, axis=1)
    return out


def _scaled_q(G: np.ndarray, Y: np.ndarray, alpha: np.ndarray, S: np.ndarray,
              rows: np.ndarray, head: np.ndarray, count: np.ndarray,
              ) -> tuple[np.ndarray, np.ndarray]:
    """The first loop's vector ``q = g - sum alpha_l y_l`` and each row's scale
    ``gamma = s.y / y.y`` of its newest pair (1 without a pair)."""
    q = G - np.matmul(alpha[:, None, :], Y)[:, 0]
    newest = (head - 1) % Y.shape[1]
    s, y = S[rows, newest], Y[rows, newest]  # gamma from the newest pair's own dots
    sy, yy = einsum("ij,ij->i", s, y), einsum("ij,ij->i", y, y)
    gamma = np.where((count > 0) & (yy > 0) & (yy < np.inf), sy / yy, 1.0)
    return q, gamma


#: for (head, count, memory): the memory slots, newest pair first, and for each i the
#: slots newer than order[i] (the first loop's) and older, oldest first (the second's)
_ORDERS: dict[tuple[int, int, int], tuple[list[int], list[list[int]], list[list[int]]]] = {}


def _slot_order(head: int, count: int, m: int,
                ) -> tuple[list[int], list[list[int]], list[list[int]]]:
    """The two-loop recursion's slots of a memory (see ``_ORDERS``), made once."""
    key = (head, count, m)
    if key not in _ORDERS:
        order = [(head - 1 - i) % m for i in range(count)]
        _ORDERS[key] = (order, [order[:i] for i in range(count)],
                        [order[i + 1:][::-1] for i in range(count)])
    return _ORDERS[key]


def _two_loop_one(G: np.ndarray, S: np.ndarray, Y: np.ndarray, rho: np.ndarray,
                  head: int, count: int, gamma: float | None = None) -> np.ndarray:
    """:func:`_two_loop` of one row: the same matrix products (those the stack's matmul
    makes for each row, on the row's (m, n) memory) and the same recursion, its
    coefficients as Python floats; the same operations on the same numbers, so the same
    bits as the row in a stack. ``gamma``: the newest pair's ``s.y / y.y`` where the
    caller has it from the same dots. numpy's floating-point warnings are the caller's
    (a run steps under ``np.errstate(over="ignore", invalid="ignore")``; one of its own
    here cost 2 % of an L-BFGS iteration, docs/benchmarks.md); numpy set to raise, an
    overflow goes the classic way too."""
    if count == 0:
        return 1.0 * G
    m = rho.shape[1]
    order, newer, older = _slot_order(head, count, m)
    if gamma is None:  # from the newest pair's own dots
        s, y = S[0, order[0]], Y[0, order[0]]
        sy_, yy = float(einsum("i,i->", s, y)), float(einsum("i,i->", y, y))
        gamma = sy_ / yy if 0.0 < yy < math.inf else 1.0
    S0, Y0 = S[0], Y[0]  # the row's memory: the products the stack's matmul makes per row
    try:  # (overflow: the classic way, below)
        sg, sy, r = (S0 @ G[0]).tolist(), (S0 @ Y0.T).tolist(), rho[0].tolist()
        alpha = [0.0] * m  # by memory slot
        for j, prior in zip(order, newer, strict=True):
            t = sg[j]
            row = sy[j]
            for h in prior:
                t = t - alpha[h] * row[h]
            alpha[j] = r[j] * t
        q = G - np.array(alpha) @ Y0
        yq = (Y0 @ q[0]).tolist()
        coef = [0.0] * m
        for i in reversed(range(count)):
            j = order[i]
            t = gamma * yq[j]
            for h in older[i]:
                t = t + coef[h] * sy[h][j]
            coef[j] = alpha[j] - r[j] * t
        Z = (np.array(coef) @ S0)[None]
        Z += gamma * q  # (gamma q + Z: the same bits, one array fewer)
    except FloatingPointError:  # numpy set to raise by the caller
        Z = np.full(G.shape, np.nan)
    if count_nonzero(np.isfinite(Z)) < Z.size and count_nonzero(np.isfinite(G)) == G.size:
        return _two_loop_classic(G, S, Y, rho, np.array([head]), np.array([count]))
    return Z


def _two_loop_classic(G: np.ndarray, S: np.ndarray, Y: np.ndarray, rho: np.ndarray,
                      head: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The two-loop recursion one vector at a time, each dot on its own (for rows whose
    dot-product matrices overflow): ``gamma`` and the dots computed without overflow."""
    K, m = rho.shape
    rows = np.arange(K)
    q = G.copy()
    alphas = np.zeros((K, m))
    for i in range(m):  # newest pair first
        j = (head - 1 - i) % m
        valid = i < count
        if not valid.any():
            break
        s, y, r = S[rows, j], Y[rows, j], np.where(valid, rho[rows, j], 0.0)
        a = r * _dot(s, q)
        q -= a[:, None] * y
        alphas[:, i] = a
    newest = (head - 1) % m
    s, y = S[rows, newest], Y[rows, newest]
    sy, _, ny = scaled_dots(s, y)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        gamma = np.where((count > 0) & (ny > 0), (sy / ny) / ny, 1.0)  # s.y / y.y
    z = gamma[:, None] * q
    for i in reversed(range(m)):
        j = (head - 1 - i) % m
        valid = i < count
        if not valid.any():
            continue
        s, y, r = S[rows, j], Y[rows, j], np.where(valid, rho[rows, j], 0.0)
        b = r * _dot(y, z)
        z += s * (alphas[:, i] - b)[:, None]
    return z


@attrs.frozen
class BFGSState:
    """The dense inverse Hessian approximation (rows, n, n), the counts of updates made
    and pairs rejected, and the previous point and gradient."""

    H: np.ndarray
    updates: np.ndarray
    rejected: np.ndarray
    x_prev: np.ndarray
    g_prev: np.ndarray


@attrs.frozen
class BFGS(Optimizer):
    """BFGS with a dense inverse Hessian: n**2 numbers a start, for small problems.

    The first update scales the identity by ``s.y / y.y`` (Nocedal and Wright, 6.20).
    """

    natural_step: ClassVar[bool] = True

    line_search: Any = line_search_field("wolfe")
    lr: Any = learning_rate(1.0)

    def inverse_hessian(self, state: BFGSState) -> np.ndarray | None:
        """The dense inverse Hessian approximation of the first row (None before any
        update)."""
        return None if int(state.updates[0]) == 0 else np.array(state.H[0])

    def forget(self, state: BFGSState) -> BFGSState:
        """The state with its inverse Hessian back to the identity (a restart); the point
        and gradient the last step began at stay."""
        K, n = state.x_prev.shape
        return attrs.evolve(state, H=np.broadcast_to(np.eye(n), (K, n, n)).copy(),
                            updates=np.zeros_like(state.updates))

    def init(self, x: np.ndarray) -> BFGSState:
        X = _rows(x)
        K, n = X.shape
        return BFGSState(H=np.broadcast_to(np.eye(n), (K, n, n)).copy(),
                         updates=np.zeros(K, dtype=np.int64),
                         rejected=np.zeros(K, dtype=np.int64), x_prev=np.full((K, n), np.nan),
                         g_prev=np.full((K, n), np.nan))

    def step(self, x: np.ndarray, grad: np.ndarray, state: BFGSState) -> tuple[np.ndarray, Any]:
        X, G = _rows(x), _rows(grad)
        first = np.isnan(state.x_prev[:, 0])
        H, updates, rejected = state.H, state.updates, state.rejected
        if not first.all():
            s, y, sy, take = _pairs(X, G, state.x_prev, state.g_prev)
            take &= ~first
            rejected = rejected + (~take & ~first)
            if take.any():
                H = H.copy()
                n = X.shape[1]
                for r in np.flatnonzero(take):
                    rho = 1.0 / sy[r]
                    if updates[r] == 0:  # the first update: the identity, scaled
                        ny = float(scaled_row_norms(y[r][None])[0])
                        H[r] = np.eye(n) * ((sy[r] / ny) / ny)
                    V = np.eye(n) - rho * np.outer(s[r], y[r])
                    H[r] = V @ H[r] @ V.T + rho * np.outer(s[r], s[r])
                updates = updates + take
        D = -einsum("kij,kj->ki", H, G)
        D = _unit_first_steps(D, G, updates == 0, X)  # no update yet: a unit step
        new = BFGSState(H=H, updates=updates, rejected=rejected, x_prev=X, g_prev=G)
        return (X + self.lr * D).reshape(x.shape), new
