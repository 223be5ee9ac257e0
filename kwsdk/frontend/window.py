"""Window stage, integer reference of `kws_window_q15`.

Scaling: int16 PCM x q15 window -> s32 product (Q30 of full scale, exact:
|s*w| < 2**30). The frame is then block-normalised: shifted left by
n >= 0 so that its largest magnitude lies in [2**29, 2**30) (n = 0 for an
all-zero frame), and zero-padded to nfft. n is returned so later stages
can undo it exactly; no saturation can occur.
"""

from __future__ import annotations

import numpy as np

from kwsdk.config import FeatureConfig
from kwsdk.fixedpoint import bit_length_u64, to_fixed
from kwsdk.frontend.features import window_table

NORM_BITS = 30  # normalised frame magnitude < 2**30: FFT inputs keep 1 bit headroom


def window_q15(cfg: FeatureConfig) -> np.ndarray:
    return to_fixed(window_table(cfg), 15, 16)


def apply_window_q15(frames: np.ndarray, w: np.ndarray, nfft: int) -> tuple[np.ndarray, np.ndarray]:
    """frames int16 (F, win) -> (x int64 (F, nfft), shift n int64 (F,))."""
    p = frames.astype(np.int64) * w
    peak = np.abs(p).max(axis=1)
    n = np.where(peak == 0, 0, NORM_BITS - bit_length_u64(peak.astype(np.uint64)))
    x = np.zeros((len(frames), nfft), np.int64)
    x[:, : frames.shape[1]] = p << n[:, None]
    return x, n
