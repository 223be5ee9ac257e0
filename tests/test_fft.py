"""FFT stage: kws_fft_q31 (C) against kwsdk.frontend.fft, and the reference
against numpy's float FFT of the same windowed, packed frame."""

import dataclasses

import numpy as np
import pytest

from kwsdk.config import feature_preset
from kwsdk.frontend import fft
from kwsdk.codegen.cfrontend import CFrontend
from kwsdk.frontend.features import window_table
from kwsdk.frontend.integer import IntegerFrontend


def c_fft(c, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    got = [c.fft(f) for f in frames]
    return np.array([r for r, _ in got]), np.array([i for _, i in got])


def extreme_frames(win: int, rng) -> np.ndarray:
    """Full-scale constants, alternations, square waves, a chirp (every bin
    large), lone full-scale samples at the edges, random full-scale and tiny
    frames: where overflow or a bad index would show."""
    k = np.arange(win)
    lo, hi = -32768, 32767
    rows = [np.full(win, hi), np.full(win, lo), np.where(k % 2, lo, hi), np.where(k % 4 < 2, hi, lo),
            np.where(k < win // 2, hi, lo), np.round(hi * np.cos(np.pi * k * k / win)),
            np.round(hi * np.cos(2 * np.pi * 17 * k / win))]
    rows += [np.where(k == i, s, 0) for i in (0, 1, win // 2, win - 2, win - 1) for s in (lo, hi)]
    return np.concatenate([np.array(rows, np.int64), rng.integers(lo, hi + 1, (60, win)),
                           rng.choice([lo, hi], (30, win)), rng.integers(-2, 3, (20, win))]).astype(np.int16)


@pytest.mark.parametrize("fe_name", ["default", "ell"])  # window 480 < nfft / 512 = nfft
def test_c_fft_equals_reference(c_frontends, fe_name, ref_stages):
    zr, zi = c_fft(c_frontends[fe_name], ref_stages["frames"])
    np.testing.assert_array_equal(zr, ref_stages["zr"])
    np.testing.assert_array_equal(zi, ref_stages["zi"])


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_c_fft_equals_reference_at_full_scale(c_frontends, int_frontends, fe_name):
    fe = int_frontends[fe_name]
    frames = extreme_frames(fe.cfg.window_size, np.random.default_rng(7))
    zr, zi = fft.fft_q31(frames, fe.window_q15, fe.cfg.nfft)
    assert max(np.abs(zr).max(), np.abs(zi).max()) < 2**30  # the documented output bound
    assert np.abs(zr).max() > 2**27  # full-scale DC under a Hann window: within 4x of it
    got_r, got_i = c_fft(c_frontends[fe_name], frames)
    np.testing.assert_array_equal(got_r, zr)
    np.testing.assert_array_equal(got_i, zi)


@pytest.mark.parametrize("nfft, window_size", [(256, 255), (1024, 801), (64, 37), (32, 32)])
def test_c_fft_other_sizes(nfft, window_size, tmp_path):
    # A radix-2 first stage (log2(nfft / 2) odd), odd windows (the last input
    # half inside the window) and windows shorter than a first-stage stride.
    cfg = dataclasses.replace(feature_preset("default"), nfft=nfft, window_size=window_size,
                              hop_size=window_size // 2, n_mels=8)
    fe, c = IntegerFrontend(cfg), CFrontend(cfg, tmp_path)
    frames = extreme_frames(window_size, np.random.default_rng(nfft))
    zr, zi = fft.fft_q31(frames, fe.window_q15, nfft)
    got_r, got_i = c_fft(c, frames)
    np.testing.assert_array_equal(got_r, zr)
    np.testing.assert_array_equal(got_i, zi)


@pytest.mark.parametrize("nfft", [16, 32, 64, 128, 256, 512, 1024, 2048])
def test_reference_fft_matches_float_fft(nfft):
    # Z = DFT_M(z) / 2**fft_scale for z[n] = a[2n] + i a[2n+1], a = (x w) >> 3:
    # the floors of 4 products and a shift per butterfly, a few LSBs per
    # stage in all (about 3 per component); bound at 5 LSBs per stage.
    m = nfft // 2
    rng = np.random.default_rng(nfft)
    x = np.concatenate([rng.integers(-32768, 32768, (40, nfft - 5)), extreme_frames(nfft - 5, rng)[:20]])
    w = fft.window_q15(dataclasses.replace(feature_preset("default"), nfft=nfft, window_size=nfft - 5))
    zr, zi = fft.fft_q31(x, w, nfft)
    a = np.zeros((len(x), nfft))
    a[:, : nfft - 5] = (x.astype(np.int64) * w) >> fft.INPUT_SHIFT
    scale = (m.bit_length() - 1) - (fft.first_radix(m).bit_length() - 1)
    want = np.fft.fft(a[:, 0::2] + 1j * a[:, 1::2], axis=1) / 2**scale
    stages = 1 + len(fft.stage_lengths(m))
    assert np.abs(zr + 1j * zi - want).max() <= 5 * stages


def test_first_stage_order_and_twiddles():
    for m in (8, 16, 128, 256):
        pos = fft.first_stage_pos(m)
        assert sorted(pos.tolist()) == list(range(m // fft.first_radix(m)))  # a permutation
        for n in fft.stage_lengths(m):
            tw = fft.stage_twiddles(n)
            assert np.abs(tw).max() <= 2**30 and np.array_equal(tw[0], np.full((3, 2), [2**30, 0]))


def test_window_table_is_q15_of_the_float_window(int_frontends, frontend_configs):
    for name in ("default", "ell"):
        w = int_frontends[name].window_q15
        f = window_table(frontend_configs[name])
        assert np.abs(w / 32768 - f).max() <= 2**-15  # 1.0 saturates to 32767/32768
        assert w.max() <= 32767 and w.min() >= 0
