"""Mel filterbank stage, integer reference of `kws_mel_q15`.

Input: the spectrum stage's spec[k] u64 and shift m >= 1; s[k] = spec[k] >> m
< 2**32 (u32).
Weights: the float triangles, whose neighbours cross (filter j falls
exactly where filter j + 1 rises: the two weights sum to 1), rounded once
per bin as the rising filter's q15 weight r (1.0 = 32768); the falling
filter's weight is f = 32768 - r. The bins between the centres of filters
j - 1 and j form segment j (segment 0 rises into filter 0 only, segment
n_mels falls out of filter n_mels - 1 only), so every bin is read once and
multiplied by both its weights:
  R_j = sum r[k] s[k],  F_j = sum f[k] s[k]  over segment j (u64),
  M[j] = R_j + F_{j+1}.
Output: u64, exactly sum_k w[j, k] s[k] for the dense q15 weights w that
`segment_weights` defines, below 2**mel_bits (< 2**53); the float
reference's mel energy is M * 2**(m + exponent_bias - 15).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kwsdk.config import ConfigError, FeatureConfig
from kwsdk.fixedpoint import to_fixed
from kwsdk.frontend.features import mel_filterbank

WEIGHT_FRAC_BITS = 15
ONE = 1 << WEIGHT_FRAC_BITS
SPEC_LIMIT = 1 << 32  # spec >> m < 2**32 (spectrum stage)


@dataclass
class MelSegments:
    starts: np.ndarray  # (n_mels + 1,) first bin of each segment
    counts: np.ndarray  # (n_mels + 1,) bins in each segment
    rise: np.ndarray  # rising filter's q15 weight per bin, segments back to back
    dense: np.ndarray  # (n_mels, bins) int64 q15 weights the segments define
    mel_bits: int  # every M < 2**mel_bits

    @property
    def fall(self) -> np.ndarray:
        return ONE - self.rise


def _segment_of_bin(fb: np.ndarray, k: int) -> tuple[int, float]:
    """(segment, rising weight in [0, 1]) of a bin inside the filterbank."""
    n = len(fb)
    nz = np.nonzero(fb[:, k])[0]
    if len(nz) == 2 and nz[1] == nz[0] + 1 and abs(fb[nz[0], k] + fb[nz[1], k] - 1) < 1e-9:
        return int(nz[1]), float(fb[nz[1], k])
    if len(nz) == 1:
        # Inside the bank a lone weight is a centre (1.0); below 1 it can only
        # be the first filter rising (no filter falls there) or the last falling.
        j = int(nz[0])
        rising = k < int(np.argmax(fb[j])) if n == 1 else j == 0
        if abs(fb[j, k] - 1) < 1e-9:
            return j + 1, 0.0
        if j == 0 and rising:
            return 0, float(fb[0, k])
        if j == n - 1 and not rising:
            return n, 1.0 - float(fb[j, k])
    raise ConfigError(f"mel filterbank: bin {k} is not where two neighbouring triangles cross "
                      f"(weights {fb[nz, k].tolist()} in filters {nz.tolist()})")


def segment_weights(cfg: FeatureConfig) -> MelSegments:
    fb = mel_filterbank(cfg)
    n, bins = fb.shape
    seg = np.full(bins, -1)
    rise = np.zeros(bins, np.int64)
    for k in np.nonzero(fb.any(axis=0))[0]:
        seg[k], r = _segment_of_bin(fb, int(k))
        rise[k] = to_fixed(r, WEIGHT_FRAC_BITS, 17)
    used = np.nonzero(seg >= 0)[0]
    if len(used) == 0:
        raise ConfigError("mel filterbank: every filter is empty")
    if np.any(np.diff(seg[used]) < 0) or np.any(np.diff(used) != 1):
        raise ConfigError("mel filterbank: the filters' bins do not follow each other in order")
    starts = np.array([used[seg[used] == s][0] if (seg == s).any() else 0 for s in range(n + 1)])
    counts = np.array([int((seg == s).sum()) for s in range(n + 1)])
    dense = np.zeros((n, bins), np.int64)
    for k in used:
        s = seg[k]
        if s < n:
            dense[s, k] = rise[k]
        if s > 0:
            dense[s - 1, k] = ONE - rise[k]
    mel_bits = int(dense.sum(axis=1).max() * (SPEC_LIMIT - 1)).bit_length()
    return MelSegments(starts, counts, rise[used], dense, mel_bits)


def mel_q15(spec: np.ndarray, m: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """spec uint64 (F, bins), shifts m (F,) -> M uint64 (F, n_mels)."""
    s = (spec >> np.asarray(m, np.uint64)[:, None]).astype(np.int64)
    return (s @ dense.T).astype(np.uint64)
