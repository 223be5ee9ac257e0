"""Real FFT stage, integer reference of `kws_rfft_q31`.

Input: nfft real s32 values, |x| < 2**30 (the window stage's output).
Method: the nfft real points are packed as M = nfft/2 complex points
z[n] = x[2n] + i x[2n+1], transformed by a radix-2 decimation-in-time FFT
(bit-reversed input order), then split into the real spectrum.
Scaling: every butterfly halves (a/2 +- W b/2), with W b / 2 computed as the
rounded high word of a 32x32 product with a q31 twiddle (`mulhr_s32`), and
the split stage halves once more, so X_int = DFT(x) / nfft: magnitudes can
never grow, so nothing saturates; |Re|, |Im| < 2**31 for all bins.
Twiddles: one q31 table W_k = exp(-i pi k / M), k = 0..M; the FFT stage
with half-size h uses W_{j M / h}. Rounding: round-half-up everywhere.
Output: bins k = 0..nfft/2 as (re, im) s32.
"""

from __future__ import annotations

import numpy as np

from kwsdk.fixedpoint import mulhr_s32, rshift_round, to_fixed


def twiddles_q31(nfft: int) -> tuple[np.ndarray, np.ndarray]:
    m = nfft // 2
    k = np.arange(m + 1)
    return to_fixed(np.cos(np.pi * k / m), 31, 32), to_fixed(-np.sin(np.pi * k / m), 31, 32)


def bitrev_table(m: int) -> np.ndarray:
    bits = m.bit_length() - 1
    idx = np.arange(m)
    rev = np.zeros(m, np.int64)
    for b in range(bits):
        rev |= ((idx >> b) & 1) << (bits - 1 - b)
    return rev


def _cmul_half(br, bi, wr, wi):
    """(W b) / 2 with q31 W."""
    return mulhr_s32(br, wr) - mulhr_s32(bi, wi), mulhr_s32(br, wi) + mulhr_s32(bi, wr)


def rfft_q31(x: np.ndarray, wr: np.ndarray, wi: np.ndarray, rev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x int64 (F, nfft) -> (re, im) int64 (F, nfft/2 + 1)."""
    f, nfft = x.shape
    m = nfft // 2
    zr = x[:, 0::2][:, rev].copy()
    zi = x[:, 1::2][:, rev].copy()
    h = 1
    while h < m:
        tw = np.arange(h) * (m // h)
        shape = (f, m // (2 * h), 2, h)
        zr4, zi4 = zr.reshape(shape), zi.reshape(shape)
        ar, ai, br, bi = zr4[:, :, 0], zi4[:, :, 0], zr4[:, :, 1], zi4[:, :, 1]
        tr, ti = _cmul_half(br, bi, wr[tw], wi[tw])
        ar, ai = rshift_round(ar, 1), rshift_round(ai, 1)
        zr = np.stack([ar + tr, ar - tr], axis=2).reshape(f, m)
        zi = np.stack([ai + ti, ai - ti], axis=2).reshape(f, m)
        h *= 2
    k = np.arange(m + 1)
    a_r, a_i = zr[:, k % m], zi[:, k % m]
    b_r, b_i = zr[:, (m - k) % m], -zi[:, (m - k) % m]
    er, ei = rshift_round(a_r + b_r, 2), rshift_round(a_i + b_i, 2)
    o_r, o_i = rshift_round(a_r - b_r, 1), rshift_round(a_i - b_i, 1)
    p, q = _cmul_half(o_r, o_i, wr, wi)
    return er + q, ei - p
