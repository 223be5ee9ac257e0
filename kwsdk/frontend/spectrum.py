"""Spectrum stage, integer reference of `kws_spectrum_u64`: the real
spectrum split out of the FFT stage's M-point complex transform, and its
power (or magnitude).

Input: Z[k] (re, im) s32, |Re|, |Im| < 2**30 (the FFT stage's output).
Split, for k = 0..M/2 with Z[M] = Z[0] and W_k = exp(-i pi k / M) as q30:
  S = Z[k] + conj(Z[M-k]), D = Z[k] - conj(Z[M-k])   (|components| < 2**31)
  U = W_k D / 4 = (hi(dr wr) + hi(-di wi), hi(dr wi) + hi(di wr))
  X[k] = (S >> 2) - i U,   X[M-k] = conj((S >> 2) + i U)
so that X = (DFT_nfft of the stage's input) / 2**(log2(M) - log2(r1) + 1),
|Re|, |Im| < 2**30 (k = M/2 gives the same X from both formulas).
- "power": spec[k] = P[k] = re**2 + im**2 (exact, < 2**61, u64);
- "magnitude": spec[k] = floor(sqrt(P[k])) (exact integer square root,
  < 2**30.5).
The returned shift m = max(1, bitlen(OR_k spec[k] >> 32)) (from the high
words alone: one OR per bin) puts every spec >> m below 2**32, keeping at
least 31 bits of the frame's largest value when it needs a shift at all.
The float reference's spectrum is (spec >> m) * 2**(m + exponent_bias).
No saturation is possible.
"""

from __future__ import annotations

import numpy as np

from kwsdk.fixedpoint import bit_length_u64, isqrt_u64
from kwsdk.frontend.fft import INPUT_SHIFT, cmul_quarter, first_radix, q30_pairs


def split_twiddles(nfft: int) -> np.ndarray:
    """(M/2 + 1, 2) q30 (cos, sin) of exp(-i pi k / M)."""
    m = nfft // 2
    return q30_pairs(np.pi * np.arange(m // 2 + 1) / m)


def exponent_bias(spectrum: str, nfft: int) -> int:
    """log2 of one LSB of X in full-scale units (x / 32768 windowed by w / 32768),
    doubled for power: X = DFT(x w) / 2**(INPUT_SHIFT + log2(M) - log2(r1) + 1)."""
    m = nfft // 2
    q = INPUT_SHIFT + (m.bit_length() - 1) - (first_radix(m).bit_length() - 1) + 1 - 30
    return 2 * q if spectrum == "power" else q


def spectrum_u64(zr: np.ndarray, zi: np.ndarray, tw: np.ndarray, spectrum: str) -> tuple[np.ndarray, np.ndarray]:
    """Z (F, M) s32 pairs -> (spec uint64 (F, M + 1), shift m int64 (F,))."""
    f, m = zr.shape
    k = np.arange(m // 2 + 1)
    mk = (m - k) % m
    sr, si = zr[:, k] + zr[:, mk], zi[:, k] - zi[:, mk]
    dr, di = zr[:, k] - zr[:, mk], zi[:, k] + zi[:, mk]
    ur, ui = cmul_quarter(dr, di, tw)
    xr, xi = (sr >> 2) + ui, (si >> 2) - ur
    yr, yi = (sr >> 2) - ui, (si >> 2) + ur
    p = np.zeros((f, m + 1), np.uint64)
    p[:, m - k] = (yr * yr).astype(np.uint64) + (yi * yi).astype(np.uint64)
    p[:, k] = (xr * xr).astype(np.uint64) + (xi * xi).astype(np.uint64)
    if spectrum == "magnitude":
        p = isqrt_u64(p)
    return p, np.maximum(1, bit_length_u64(np.bitwise_or.reduce(p >> np.uint64(32), axis=1)))
