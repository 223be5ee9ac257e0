"""Log stage, integer reference of `kws_log_s16`: L = ln(M_true + offset)
with M_true = M * 2**E, no libm.

1. log2(M) in Q16: the bit length b gives the integer part; the 31 bits
   below the leading one index a 257-entry Q30 table of log2(1 + f)
   (top 8 bits) with linear interpolation (next 23 bits);
   interpolation error < 3e-6.
2. d = log2(M) + E - log2(offset) (Q16, int32).
3. The offset is added in the log domain:
   log2(M_true + offset) = log2(offset) + max(d, 0) + g(|d|),
   g(t) = log2(1 + 2**-t) from a 193-entry Q16 table on t in [0, 24]
   (step 1/8, linear interpolation, error < 4e-4), g = 0 beyond 24
   (true value < 1e-7). M = 0 gives exactly log2(offset).
4. Natural log: multiply by ln 2 (q31), round to s16 with FEATURE_FRAC_BITS
   fractional bits, saturate (range +-32; real features stay within
   [-12, 16]).
"""

from __future__ import annotations

import math

import numpy as np

from kwsdk.fixedpoint import bit_length_u64, rshift_round, saturate, to_fixed

FEATURE_FRAC_BITS = 10  # s16 log-mel output: value / 2**10 = ln(energy + offset)
LOG2_TABLE_BITS = 8
LOG2_FRAC_BITS = 30
SOFTPLUS_STEP_BITS = 3  # table step 1/8 in log2 units
SOFTPLUS_RANGE = 24
Q16 = 16


def log_tables(log_offset: float) -> dict:
    f = np.arange((1 << LOG2_TABLE_BITS) + 1) / (1 << LOG2_TABLE_BITS)
    t = np.arange((SOFTPLUS_RANGE << SOFTPLUS_STEP_BITS) + 1) / (1 << SOFTPLUS_STEP_BITS)
    return dict(
        log2_q30=to_fixed(np.log2(1 + f), LOG2_FRAC_BITS, 32),
        softplus_q16=to_fixed(np.log2(1 + 2.0 ** -t), Q16, 32),
        log2_offset_q16=to_fixed(math.log2(log_offset), Q16, 32),
        ln2_q31=to_fixed(math.log(2), 31, 32),
    )


def log2_q16(m: np.ndarray, tab: np.ndarray) -> np.ndarray:
    """log2 of M > 0 (uint64 array) in Q16 (int64)."""
    b = bit_length_u64(m)
    top = ((m << (64 - b).astype(np.uint64)) >> np.uint64(32)).astype(np.int64)
    frac = top - (1 << 31)
    low_bits = 31 - LOG2_TABLE_BITS
    i = frac >> low_bits
    r = frac & ((1 << low_bits) - 1)
    f_q30 = tab[i] + rshift_round((tab[i + 1] - tab[i]) * r, low_bits)
    return ((b - 1) << Q16) + rshift_round(f_q30, LOG2_FRAC_BITS - Q16)


def log_s16(m: np.ndarray, e: np.ndarray, tables: dict) -> np.ndarray:
    """mel M uint64 (F, n) and exponent E (F,) -> int64 (F, n) in s16 range."""
    off = tables["log2_offset_q16"]
    sp = tables["softplus_q16"]
    nz = m != 0
    lg = log2_q16(np.where(nz, m, np.uint64(1)), tables["log2_q30"])
    d = lg + (e[:, None] << Q16) - off
    a = np.abs(d)
    step = Q16 - SOFTPLUS_STEP_BITS
    idx = np.minimum(a >> step, len(sp) - 2)
    g = sp[idx] + rshift_round((sp[idx + 1] - sp[idx]) * (a & ((1 << step) - 1)), step)
    g = np.where((a >> step) >= len(sp) - 1, 0, g)
    y = np.where(nz, np.maximum(d, 0) + g, 0)
    return saturate(rshift_round((off + y) * tables["ln2_q31"], 31 + Q16 - FEATURE_FRAC_BITS), 16)
