"""Mel filterbank stage, integer reference of `kws_mel_q15`.

Input: spectrum S u64 (<= 2**power_bits for power, < 2**32 for magnitude).
Weights: the float filterbank rounded to q15 and stored as uint16
(peak 1.0 = 32768), sparse per filter (first bin, count).
Accumulator and output: u64, M[j] = sum_k w[j,k] S[k]; `power_bits` is
chosen so that the widest filter cannot overflow 63 bits. The float
reference's mel energy is M * 2**(e - 15), e from the spectrum stage.
"""

from __future__ import annotations

import numpy as np

from kwsdk.config import FeatureConfig
from kwsdk.fixedpoint import bit_length_u64, to_fixed
from kwsdk.frontend.features import mel_filterbank

WEIGHT_FRAC_BITS = 15


def mel_weights_q15(cfg: FeatureConfig) -> np.ndarray:
    """Dense (n_mels, bins) int64 q15 weights in [0, 32768]."""
    return to_fixed(mel_filterbank(cfg), WEIGHT_FRAC_BITS, 17)


def sparse_weights(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start bin, count, flat weights) per filter; empty filters have count 0."""
    starts, counts, flat = [], [], []
    for row in dense:
        nz = np.nonzero(row)[0]
        lo, hi = (nz[0], nz[-1] + 1) if len(nz) else (0, 0)
        starts.append(lo)
        counts.append(hi - lo)
        flat.extend(row[lo:hi].tolist())
    return np.array(starts), np.array(counts), np.array(flat or [0], np.int64)


def power_bits(dense: np.ndarray) -> int:
    """Largest spectrum bit width for which every filter's sum stays < 2**63."""
    return 63 - bit_length_u64(int(dense.sum(axis=1).max()))


def mel_q15(s: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """S uint64 (F, bins) -> M uint64 (F, n_mels)."""
    return (s.astype(np.int64) @ dense.T).astype(np.uint64)
