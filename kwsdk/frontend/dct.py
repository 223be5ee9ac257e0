"""DCT stage (MFCC), integer reference of `kws_dct_q15`.

Input: log-mel s16 with FEATURE_FRAC_BITS. Matrix: the orthonormal DCT-II
rows in q15 (|d| <= sqrt(2/n_mels) < 1). Accumulator: s64 (a sum of
n_mels s16 x q15 products can exceed 32 bits). Output: s16 with
FEATURE_FRAC_BITS - guard fractional bits, guard = ceil(log2(sqrt(n_mels)))
so that |c| <= sqrt(n_mels) * max|L| always fits; rounded, saturated.
"""

from __future__ import annotations

import math

import numpy as np

from kwsdk.fixedpoint import rshift_round, saturate, to_fixed
from kwsdk.frontend.features import dct_matrix
from kwsdk.frontend.log import FEATURE_FRAC_BITS


def dct_guard_bits(n_mels: int) -> int:
    return math.ceil(math.log2(math.sqrt(n_mels)))


def mfcc_frac_bits(n_mels: int) -> int:
    return FEATURE_FRAC_BITS - dct_guard_bits(n_mels)


def dct_q15(n_mels: int, n_mfcc: int) -> np.ndarray:
    return to_fixed(dct_matrix(n_mels, n_mfcc), 15, 16)


def apply_dct_q15(logmel: np.ndarray, d: np.ndarray) -> np.ndarray:
    """(F, n_mels) s16 -> (F, n_mfcc) s16 values (int64 array)."""
    acc = logmel.astype(np.int64) @ d.T
    return saturate(rshift_round(acc, 15 + dct_guard_bits(d.shape[1])), 16)
