"""FFT stage, integer reference of `kws_fft_q31`: the window and the complex
FFT of the frame packed as M = nfft/2 complex points (the real spectrum is
split out of it by the spectrum stage).

Input: window_size int16 samples. Window: q15 table; the products x * w
(exact, |x w| < 2**30) are shifted right by 3 (floor) and zero-padded to
nfft: a[n], |a| < 2**27. No block normalisation: 27 bits of a full-scale
frame leave quiet frames (down to the log offset) far more precision than
the features need, and the spectrum stage normalises the power instead.
Packing: z[n] = a[2n] + i a[2n+1], n = 0..M-1.
Method: decimation in time with radices [r1, 4, 4, ...] (r1 = 4, or 2 when
log2(M) is odd). The first stage reads the samples in natural order and
writes its outputs in mixed-radix digit-reversed order (`first_stage_pos`),
so no separate permutation pass is needed; it has no twiddles and does not
scale: |z| < 2**29 (radix 4) after it.
Every later stage is radix 4 with sub-transform length L: for j < L,
  b' = W^j b / 4, d' = W^3j d / 4, c' = W^2j c / 4, a' = a >> 2,
  t0 = a' + c', t1 = a' - c', t2 = b' + d', t3 = b' - d',
  y0 = t0 + t2, y1 = t1 - i t3, y2 = t0 - t2, y3 = t1 + i t3,
with W = exp(-2 pi i / 4L) as q30 (cos, sin) pairs and
  Re(w b) / 4 = hi(br, wr) + hi(-bi, wi),  Im(w b) / 4 = hi(br, wi) + hi(bi, wr),
hi = `mulhi_s32`, floor(a b / 2**32): each product's high word, as ARM's
SMMUL, SMMLA and SMMLS compute them (the DSP path; the portable C computes
the same).
The scaled radix-4 butterfly never increases the largest complex magnitude
(2**29.5 after the first stage) by more than a few units (the floors, |W|
rounded a hair above 1), so |Re|, |Im| < 2**30 at the output:
Z = DFT_M(z) / 2**(log2(M) - log2(r1)), floors aside, in natural order.
Nothing saturates.
"""

from __future__ import annotations

import numpy as np

from kwsdk.config import FeatureConfig
from kwsdk.fixedpoint import mulhi_s32, to_fixed
from kwsdk.frontend.features import window_table

INPUT_SHIFT = 3  # x w >> 3: |a| < 2**27, so a radix-4 sum of four stays < 2**29
TWIDDLE_FRAC_BITS = 30  # W / 4 from the product's high word: 2**30 * 2**-32


def window_q15(cfg: FeatureConfig) -> np.ndarray:
    return to_fixed(window_table(cfg), 15, 16)


def first_radix(m: int) -> int:
    return 4 if (m.bit_length() - 1) % 2 == 0 else 2


def first_stage_pos(m: int) -> np.ndarray:
    """For each first-stage butterfly n0 (inputs z[n0 + q m / r1], q < r1),
    the group g whose r1 outputs go to positions r1 g .. r1 g + r1 - 1: the
    base-4 digit reversal of n0 (the inputs of a DIT FFT in mixed-radix
    digit-reversed order)."""
    groups = m // first_radix(m)
    digits = (groups.bit_length() - 1) // 2
    n = np.arange(groups)
    g = np.zeros(groups, np.int64)
    for d in range(digits):
        g = g * 4 + (n >> (2 * d)) % 4
    return g


def stage_lengths(m: int) -> list[int]:
    """Sub-transform length L of each twiddled radix-4 stage."""
    out, n = [], first_radix(m)
    while n < m:
        out.append(n)
        n *= 4
    return out


def q30_pairs(angle: np.ndarray) -> np.ndarray:
    """exp(-i angle) as q30 (cos, sin) pairs, shape (..., 2)."""
    return np.stack([to_fixed(np.cos(angle), TWIDDLE_FRAC_BITS, 32),
                     to_fixed(-np.sin(angle), TWIDDLE_FRAC_BITS, 32)], axis=-1)


def stage_twiddles(length: int) -> np.ndarray:
    """(L, 3, 2): W^j, W^3j, W^2j per butterfly j, in the order the C uses them."""
    j = np.arange(length)[:, None]
    return q30_pairs(2 * np.pi * j * np.array([1, 3, 2]) / (4 * length))


def cmul_quarter(br, bi, w):
    """W b / 4 for q30 twiddles w (..., 2), each product's high word apart."""
    wr, wi = w[..., 0], w[..., 1]
    return mulhi_s32(br, wr) + mulhi_s32(-bi, wi), mulhi_s32(br, wi) + mulhi_s32(bi, wr)


def _butterfly(a, b, c, d):
    """The radix-4 combination of (re, im) pairs: y0..y3."""
    t0 = (a[0] + c[0], a[1] + c[1])
    t1 = (a[0] - c[0], a[1] - c[1])
    t2 = (b[0] + d[0], b[1] + d[1])
    t3 = (b[0] - d[0], b[1] - d[1])
    return [(t0[0] + t2[0], t0[1] + t2[1]), (t1[0] + t3[1], t1[1] - t3[0]),
            (t0[0] - t2[0], t0[1] - t2[1]), (t1[0] - t3[1], t1[1] + t3[0])]


def fft_q31(frames: np.ndarray, w: np.ndarray, nfft: int) -> tuple[np.ndarray, np.ndarray]:
    """int16 frames (F, window_size) -> Z (re, im) int64 (F, nfft/2), natural order."""
    f = len(frames)
    m = nfft // 2
    a = np.zeros((f, nfft), np.int64)
    a[:, : frames.shape[1]] = (frames.astype(np.int64) * w) >> INPUT_SHIFT
    zr, zi = a[:, 0::2], a[:, 1::2]
    r1 = first_radix(m)
    n0 = np.arange(m // r1)
    ins = [(zr[:, n0 + q * (m // r1)], zi[:, n0 + q * (m // r1)]) for q in range(r1)]
    if r1 == 4:
        outs = _butterfly(*ins)
    else:
        (ar, ai), (br, bi) = ins
        outs = [(ar + br, ai + bi), (ar - br, ai - bi)]
    pos = first_stage_pos(m)
    yr, yi = np.zeros((f, m), np.int64), np.zeros((f, m), np.int64)
    for q, (r, i) in enumerate(outs):
        yr[:, r1 * pos + q], yi[:, r1 * pos + q] = r, i
    for length in stage_lengths(m):
        tw = stage_twiddles(length)
        shape = (f, m // (4 * length), 4, length)
        r4, i4 = yr.reshape(shape), yi.reshape(shape)
        a = (r4[:, :, 0] >> 2, i4[:, :, 0] >> 2)
        b = cmul_quarter(r4[:, :, 1], i4[:, :, 1], tw[:, 0])
        d = cmul_quarter(r4[:, :, 3], i4[:, :, 3], tw[:, 1])
        c = cmul_quarter(r4[:, :, 2], i4[:, :, 2], tw[:, 2])
        y = _butterfly(a, b, c, d)
        yr = np.stack([r for r, _ in y], axis=2).reshape(f, m)
        yi = np.stack([i for _, i in y], axis=2).reshape(f, m)
    return yr, yi
