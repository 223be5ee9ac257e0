"""The one definition of kwsdk's integer arithmetic: rounding, saturation,
shifts, Q formats and multipliers.

Every integer reference (frontend, VAD, model) is built from these
functions, and the generated C implements the same operations in
`kws_fixedpoint.h` (template `kws_fixedpoint.h.j2`), so that C and Python
agree bit for bit.

Conventions
- q15 / q31: signed fractions with 15 / 31 fractional bits (Q1.15, Q1.31).
- Rounding is round-half-up: add half an LSB, then arithmetic shift right
  (floor). C's `>>` on negative signed values is implementation-defined; kwsdk
  requires the arithmetic shift every supported compiler (gcc, clang, armcc)
  gives, as CMSIS does.
- Saturation clamps to the destination type's range; nothing wraps.

Functions take Python ints or numpy integer arrays (int64 / uint64) and
return the same kind. Callers keep operands within the documented bounds so
that no int64 intermediate overflows.
"""

from __future__ import annotations

import math

import numpy as np

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _int(x):
    return x if isinstance(x, (int, np.integer)) else np.asarray(x, np.int64)


def rshift_round(x, s):
    """Arithmetic shift right by `s` with round-half-up; `s` <= 0 shifts left.
    `s` may be an array (per-row shifts, broadcast against x).

    >>> rshift_round(5, 1), rshift_round(-5, 1), rshift_round(3, 0), rshift_round(3, -2)
    (3, -2, 3, 12)
    >>> rshift_round(np.array([5, 5, 5]), np.array([1, 0, -1])).tolist()
    [3, 5, 10]
    """
    x = _int(x)
    if isinstance(s, np.ndarray):
        s = s.astype(np.int64)
        right = np.maximum(s, 1)
        down = (x + (np.int64(1) << (right - 1))) >> right
        return np.where(s > 0, down, x << np.maximum(-s, 0))
    if s <= 0:
        return x << -s
    return (x + (1 << (s - 1))) >> s


def rshift_round_u64(x, s):
    """Unsigned 64-bit shift right with rounding; shifts of 64 or more give 0
    (the C helper guards the shift count, which C leaves undefined). With an
    array x, s may be an array of shifts in [0, 63] (broadcast).

    >>> rshift_round_u64(2**63, 64), rshift_round_u64(7, 1), rshift_round_u64(1, 0)
    (0, 4, 1)
    """
    if isinstance(s, np.ndarray):
        x = np.asarray(x, np.uint64)
        su = s.astype(np.uint64)
        rounded = (x >> su) + ((x >> (np.maximum(su, np.uint64(1)) - np.uint64(1))) & np.uint64(1))
        return np.where(s > 0, rounded, x)
    if s >= 64:
        return 0 if isinstance(x, (int, np.integer)) else np.zeros_like(x)
    if isinstance(x, np.ndarray):
        x = x.astype(np.uint64)
        if s <= 0:
            return x << np.uint64(-s)
        # (x >> s) + round bit: avoids overflowing x + half near 2**64.
        return (x >> np.uint64(s)) + ((x >> np.uint64(s - 1)) & np.uint64(1))
    if s <= 0:
        return int(x) << -s
    return (int(x) >> s) + ((int(x) >> (s - 1)) & 1)


def saturate(x, bits: int):
    """Clamp to the signed `bits`-bit range.

    >>> saturate(40000, 16), saturate(-40000, 16), saturate(5, 16)
    (32767, -32768, 5)
    """
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if isinstance(x, (int, np.integer)):
        return int(min(max(x, lo), hi))
    return np.clip(x, lo, hi)


def mulhi_s32(a, b):
    """floor(a * b / 2**32): the high word of a 32x32 product (ARM SMMUL;
    SMMLA adds it to an accumulator, SMMLS adds mulhi_s32(-a, b)).

    With b a q30 constant this is a * b_real / 4, which is how the FFT folds
    its per-stage scaling into the twiddle multiply.

    >>> mulhi_s32(1 << 30, 1 << 30), mulhi_s32(-3, 1 << 31), mulhi_s32(3, -(1 << 31))
    (268435456, -2, -2)
    """
    return (_int(a) * _int(b)) >> 32


def to_fixed(x, frac_bits: int, bits: int):
    """Round float(s) to signed fixed point with `frac_bits`, saturated to `bits`.

    >>> to_fixed(0.5, 15, 16), to_fixed(1.0, 15, 16), to_fixed(-1.0, 15, 16)
    (16384, 32767, -32768)
    """
    if np.ndim(x) == 0:
        return saturate(int(math.floor(float(x) * (1 << frac_bits) + 0.5)), bits)
    v = np.floor(np.asarray(x, np.float64) * (1 << frac_bits) + 0.5)
    return saturate(v, bits).astype(np.int64)


def quantize_multipliers(x: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """quantize_multiplier over an array: (mults, shifts) int64 arrays."""
    pairs = [quantize_multiplier(float(v), bits) for v in np.ravel(x)]
    return np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64)


def quantize_multiplier(x: float, bits: int = 15) -> tuple[int, int]:
    """Positive real x as (mult, shift) with x ~= mult * 2**-shift and
    mult in [2**(bits-1), 2**bits): relative precision 2**-bits at any size.

    >>> quantize_multiplier(0.75)
    (24576, 15)
    >>> m, s = quantize_multiplier(1.3e-4); abs(m / 2**s / 1.3e-4 - 1) < 2**-14
    True
    """
    if not x > 0:
        raise ValueError(f"multiplier must be positive, got {x}")
    mant, exp = math.frexp(x)  # x = mant * 2**exp, mant in [0.5, 1)
    mult = int(math.floor(mant * (1 << bits) + 0.5))
    shift = bits - exp
    if mult == 1 << bits:  # rounding carried into the next power of two
        mult >>= 1
        shift -= 1
    return mult, shift


def mul_by_multiplier(x, mult: int, shift: int):
    """x * mult * 2**-shift, rounded; `shift` may be negative (a left shift).

    >>> mul_by_multiplier(1000, *quantize_multiplier(0.75))
    750
    """
    return rshift_round(_int(x) * mult, shift)


def bit_length_u64(x):
    """Number of significant bits (0 for 0), elementwise for arrays.

    >>> bit_length_u64(0), bit_length_u64(1), bit_length_u64(2**40)
    (0, 1, 41)
    """
    if isinstance(x, np.ndarray):
        x = x.astype(np.uint64)
        n = np.zeros(x.shape, np.int64)
        for s in (32, 16, 8, 4, 2, 1):
            big = (x >> np.uint64(s)) != 0
            n += np.where(big, s, 0)
            x = np.where(big, x >> np.uint64(s), x)
        return n + (x != 0)
    return int(x).bit_length()


def isqrt_u64(x):
    """floor(sqrt(x)) for x < 2**64, exact (no float in the C version).

    >>> isqrt_u64(0), isqrt_u64(15), isqrt_u64(16), isqrt_u64(2**64 - 1)
    (0, 3, 4, 4294967295)
    """
    if isinstance(x, np.ndarray):
        x = x.astype(np.uint64)
        r = np.floor(np.sqrt(x.astype(np.float64))).astype(np.uint64)
        r = np.minimum(r, np.uint64(0xFFFFFFFF))
        # float sqrt can be off by one either way near 2**64: fix up exactly.
        for _ in range(2):
            r = np.where(r * r > x, r - np.uint64(1), r)
            nxt = r + np.uint64(1)
            ok = (nxt <= np.uint64(0xFFFFFFFF)) & (nxt * nxt <= x)
            r = np.where(ok, nxt, r)
        return r
    return math.isqrt(int(x))
