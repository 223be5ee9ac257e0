"""Real FFT stage: kws_rfft_q31 (C) against kwsdk.frontend.rfft, and the
reference against numpy's float FFT."""

import numpy as np
import pytest

from kwsdk.frontend import rfft


def c_rfft(c, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    got = [c.rfft(row) for row in x]
    return np.array([r for r, _ in got]), np.array([i for _, i in got])


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_c_rfft_equals_reference(c_frontends, fe_name, ref_stages):
    re, im = c_rfft(c_frontends[fe_name], ref_stages["x"])
    np.testing.assert_array_equal(re, ref_stages["re"])
    np.testing.assert_array_equal(im, ref_stages["im"])


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_c_rfft_equals_reference_at_the_input_bound(c_frontends, int_frontends, fe_name):
    # Inputs anywhere in |x| < 2**30, also past the window length: the
    # extremes a block-normalised frame can reach, where overflow would show.
    fe = int_frontends[fe_name]
    nfft = fe.cfg.nfft
    top = 2**30 - 1
    rng = np.random.default_rng(7)
    k = np.arange(nfft)
    rows = [np.full(nfft, top), np.full(nfft, -top), np.where(k % 2, -top, top),
            np.where(k % 4 < 2, top, -top), np.where(k < nfft // 2, top, -top),
            np.round(top * np.cos(2 * np.pi * 17 * k / nfft)),
            np.round(top * np.cos(np.pi * k * k / nfft))]  # chirp: every bin large
    rows += [np.where(k == i, s * top, 0) for i in (0, 1, nfft // 2, nfft - 1) for s in (1, -1)]
    x = np.concatenate([np.array(rows, np.int64), rng.integers(-top, top + 1, (100, nfft)),
                        rng.choice([-top, top], (50, nfft)), rng.integers(-2, 3, (20, nfft))])
    ref_re, ref_im = rfft.rfft_q31(x, *fe.twiddle, fe.bitrev)
    assert np.abs(ref_re).max() < 2**31 and np.abs(ref_im).max() < 2**31
    re, im = c_rfft(c_frontends[fe_name], x)
    np.testing.assert_array_equal(re, ref_re)
    np.testing.assert_array_equal(im, ref_im)


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_reference_rfft_matches_float_fft(int_frontends, fe_name, ref_stages):
    # X_int * nfft * 2**-(30 + n) is the DFT of the windowed frame in
    # full-scale units. Rounding costs a few LSBs of X_int in all (measured
    # <= 4.5): bound it at 8 LSBs and at 1e-5 of the frame's largest bin.
    fe = int_frontends[fe_name]
    nfft = fe.cfg.nfft
    frames, n = ref_stages["frames"], ref_stages["n"]
    want = np.fft.rfft(frames / 32768.0 * (fe.window_q15 / 32768.0), n=nfft, axis=1)
    lsb = nfft * np.ldexp(1.0, -(30 + n))
    got = (ref_stages["re"] + 1j * ref_stages["im"]) * lsb[:, None]
    peak = np.abs(want).max(axis=1)
    silent = peak == 0
    assert (got[silent] == 0).all()
    err = np.abs(got - want).max(axis=1)
    assert (err <= 8 * lsb).all(), (err / lsb).max()
    assert (err[~silent] <= 1e-5 * peak[~silent]).all(), (err[~silent] / peak[~silent]).max()
