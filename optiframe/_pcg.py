"""The first draws of many PCG64 streams at once, bit for bit what numpy gives.

Start k of a multi-start run draws from its own generator,
``Generator(PCG64(SeedSequence(entropy, spawn_key=(k,))))``: the same point whatever the
number of starts or the path that runs it. Making a thousand such generators costs more
than a thousand starts of gradient descent on a 2-D function, so the built-in samplers
take the first ``n`` doubles of every start's stream from :func:`first_doubles`, which
does numpy's SeedSequence hashing (O'Neill's seed_seq), PCG64's seeding and its XSL-RR
output on arrays of starts. ``tests/test_starts_streams.py`` checks it against numpy.
"""

from __future__ import annotations

import numpy as np

_M32 = 0xFFFFFFFF
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_POOL = 4
#: PCG's default 128-bit multiplier, as (high, low) 64-bit halves
_MUL_HI, _MUL_LO = np.uint64(2549297995355413924), np.uint64(4865540595714422341)
_U32, _U64 = np.uint32, np.uint64


def _words(n: int) -> list[int]:
    """An integer as numpy's SeedSequence reads it: little-endian 32-bit words."""
    if n < 0:
        raise ValueError("expected a non-negative integer")
    out = [0] if n == 0 else []
    while n > 0:
        out.append(n & _M32)
        n >>= 32
    return out


class _HashConst:
    """The hash constant that SeedSequence's hashmix advances on every use."""

    def __init__(self, start: int) -> None:
        self.value = start

    def mix(self, value: int | np.ndarray) -> int | np.ndarray:
        value = value ^ self.value
        self.value = (self.value * _MULT_A) & _M32
        if isinstance(value, np.ndarray):
            value = value * _U32(self.value)
            return value ^ (value >> _U32(16))
        value = (value * self.value) & _M32
        return value ^ (value >> 16)


def _mix(x: int | np.ndarray, y: int | np.ndarray) -> int | np.ndarray:
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        r = _U32(_MIX_L) * np.asarray(x, dtype=_U32) - _U32(_MIX_R) * np.asarray(y, dtype=_U32)
        return r ^ (r >> _U32(16))
    word = (_MIX_L * x - _MIX_R * y) & _M32
    return word ^ (word >> 16)


def _pools(entropy: int, ks: np.ndarray) -> list[np.ndarray]:
    """The entropy pools of ``SeedSequence(entropy, spawn_key=(k,))`` for every k."""
    run = _words(entropy)
    run += [0] * max(0, _POOL - len(run))  # padded: a spawn key follows
    h = _HashConst(_INIT_A)
    pool: list[int] = [int(h.mix(run[i])) for i in range(_POOL)]
    for src in range(_POOL):
        for dst in range(_POOL):
            if src != dst:
                pool[dst] = int(_mix(pool[dst], h.mix(pool[src])))
    for word in run[_POOL:]:
        for dst in range(_POOL):
            pool[dst] = int(_mix(pool[dst], h.mix(word)))
    key = ks.astype(_U32)
    out = [np.full(len(ks), v, dtype=_U32) for v in pool]
    for dst in range(_POOL):
        out[dst] = np.asarray(_mix(out[dst], h.mix(key)), dtype=_U32)
    return out


def _mul128(hi: np.ndarray, lo: np.ndarray, mhi: np.uint64, mlo: np.uint64,
            ) -> tuple[np.ndarray, np.ndarray]:
    """(hi, lo) * (mhi, mlo) mod 2**128, on arrays of 64-bit halves."""
    m32 = _U64(_M32)
    a0, a1 = lo & m32, lo >> _U64(32)
    b0, b1 = mlo & m32, mlo >> _U64(32)
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> _U64(32)) + (p01 & m32) + (p10 & m32)
    high_of_lo = p11 + (p01 >> _U64(32)) + (p10 >> _U64(32)) + (mid >> _U64(32))
    return high_of_lo + lo * mhi + hi * mlo, lo * mlo


def _add128(hi: np.ndarray, lo: np.ndarray, bhi: np.ndarray, blo: np.ndarray,
            ) -> tuple[np.ndarray, np.ndarray]:
    low = lo + blo
    return hi + bhi + (low < lo).astype(_U64), low


def _step(hi: np.ndarray, lo: np.ndarray, ihi: np.ndarray, ilo: np.ndarray,
          ) -> tuple[np.ndarray, np.ndarray]:
    hi, lo = _mul128(hi, lo, _MUL_HI, _MUL_LO)
    return _add128(hi, lo, ihi, ilo)


def first_doubles(entropy: int, ks: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` doubles of ``Generator(PCG64(SeedSequence(entropy,
    spawn_key=(k,)))).random()`` for each k in ``ks``, as a (len(ks), n) array."""
    ks = np.asarray(ks, dtype=np.int64)
    if len(ks) and (ks.min() < 0 or ks.max() > _M32 - 1):
        raise ValueError("spawn keys must be in [0, 2**32 - 1)")
    pool = _pools(entropy, ks)
    h = _INIT_B
    words = []
    for i in range(8):  # generate_state(4, uint64): 8 words from the pool, cycled
        value = pool[i % _POOL] ^ _U32(h)
        h = (h * _MULT_B) & _M32
        value = value * _U32(h)
        words.append(value ^ (value >> _U32(16)))
    seed = [words[2 * j].astype(_U64) | (words[2 * j + 1].astype(_U64) << _U64(32))
            for j in range(4)]
    inc_hi = (seed[2] << _U64(1)) | (seed[3] >> _U64(63))
    inc_lo = (seed[3] << _U64(1)) | _U64(1)
    zero = np.zeros(len(ks), dtype=_U64)
    hi, lo = _step(zero, zero, inc_hi, inc_lo)
    hi, lo = _add128(hi, lo, seed[0], seed[1])
    hi, lo = _step(hi, lo, inc_hi, inc_lo)
    out = np.empty((len(ks), n))
    for j in range(n):
        hi, lo = _step(hi, lo, inc_hi, inc_lo)
        v, rot = hi ^ lo, hi >> _U64(58)
        word = (v >> rot) | (v << ((_U64(64) - rot) & _U64(63)))
        out[:, j] = (word >> _U64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    return out
