"""Spectrum stage, integer reference of `kws_spectrum_u64`.

Input: FFT bins (re, im) s32 = DFT(x) / nfft, where x is the frame scaled by
2**(30 + n) (window stage). Output S[k] u64 and an exponent e such that the
float reference's spectrum equals S * 2**e.
- "power": P = re**2 + im**2 (< 2**63, exact), then shifted right (rounded)
  by m = max(0, bitlen(max_k P) - power_bits) so that S <= 2**power_bits (rounding)
  keeps the mel accumulation inside 64 bits; e = m + 2 log2(nfft) - 2n - 60.
- "magnitude": S = floor(sqrt(P)) (exact integer square root, < 2**32);
  e = log2(nfft) - n - 30.
No saturation is possible.
"""

from __future__ import annotations

import numpy as np

from kwsdk.fixedpoint import bit_length_u64, isqrt_u64, rshift_round_u64


def exponent_bias(spectrum: str, nfft: int) -> int:
    q = nfft.bit_length() - 1
    return 2 * q - 60 if spectrum == "power" else q - 30


def spectrum_u64(re: np.ndarray, im: np.ndarray, n: np.ndarray, spectrum: str, nfft: int,
                 power_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(F, bins) s32 pairs and window shifts n (F,) -> (S uint64 (F, bins), e int64 (F,))."""
    p = (re * re).astype(np.uint64) + (im * im).astype(np.uint64)
    bias = exponent_bias(spectrum, nfft)
    if spectrum == "magnitude":
        return isqrt_u64(p), bias - n
    m = np.maximum(0, bit_length_u64(p.max(axis=1)) - power_bits)
    s = rshift_round_u64(p, m[:, None])
    return s, bias + m - 2 * n
