"""Spectrum stage: kws_spectrum_u64 (C) against kwsdk.frontend.spectrum, and
the reference against the float spectrum of the same FFT output."""

import numpy as np
import pytest

from kwsdk.frontend import spectrum


def c_spectrum(c, zr, zi) -> tuple[np.ndarray, np.ndarray]:
    got = [c.spectrum(r, i) for r, i in zip(zr, zi)]
    return np.array([s for s, _ in got]), np.array([m for _, m in got])


@pytest.mark.parametrize("fe_name", ["default", "ell"])  # power / magnitude
def test_c_spectrum_equals_reference(c_frontends, fe_name, ref_stages):
    s, m = c_spectrum(c_frontends[fe_name], ref_stages["zr"], ref_stages["zi"])
    np.testing.assert_array_equal(s, ref_stages["spec"])
    np.testing.assert_array_equal(m, ref_stages["m"])


def extreme_z(m: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """FFT outputs anywhere in |re|, |im| < 2**30, where S and D need all 32
    bits and the power all 61, and small or sparse ones."""
    top = 2**30 - 1
    zr = np.concatenate([np.full((1, m), top), np.full((1, m), -top), rng.integers(-top, top + 1, (60, m)),
                         rng.choice([-top, top], (20, m)), rng.integers(-3, 4, (20, m)), np.zeros((1, m), np.int64)])
    zi = np.concatenate([np.full((1, m), -top), np.full((1, m), top), rng.integers(-top, top + 1, (60, m)),
                         rng.choice([-top, top], (20, m)), rng.integers(-3, 4, (20, m)), np.zeros((1, m), np.int64)])
    zr[3:10, ::2] = 0  # sparse spectra
    return zr, zi


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_c_spectrum_equals_reference_on_extreme_input(c_frontends, int_frontends, fe_name):
    fe = int_frontends[fe_name]
    zr, zi = extreme_z(fe.cfg.nfft // 2, np.random.default_rng(11))
    ref_s, ref_m = spectrum.spectrum_u64(zr, zi, fe.split_twiddles, fe.cfg.spectrum)
    top = 2**61 if fe.cfg.spectrum == "power" else 2**31
    assert int(ref_s.max()) < top and int(ref_s.max()) > top // 8
    s, m = c_spectrum(c_frontends[fe_name], zr, zi)
    np.testing.assert_array_equal(s, ref_s)
    np.testing.assert_array_equal(m, ref_m)


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_reference_spectrum_value(int_frontends, fe_name, ref_stages):
    # spec is the power (or magnitude) of the real DFT of the stage's input,
    # 2**exponent_bias per LSB: the split adds a few LSBs of X to the FFT's.
    fe = int_frontends[fe_name]
    c = fe.cfg
    zr, zi = ref_stages["zr"], ref_stages["zi"]
    m = c.nfft // 2
    z = zr + 1j * zi
    k = np.arange(m + 1)
    a, b = z[:, k % m], np.conj(z[:, (m - k) % m])
    x = (a + b) / 4 - 1j * np.exp(-1j * np.pi * k / m) * (a - b) / 4  # the exact split, in X's units
    got = ref_stages["spec"].astype(np.float64)
    if c.spectrum == "power":
        err = np.abs(np.sqrt(got) - np.abs(x))
    else:
        err = np.abs(got - np.abs(x))
    assert err.max() < 4


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_shift_keeps_the_spectrum_in_32_bits(int_frontends, fe_name, ref_stages):
    spec, m = ref_stages["spec"], ref_stages["m"]
    assert (m >= 1).all()
    s = spec >> m[:, None].astype(np.uint64)
    assert (s < np.uint64(2**32)).all()
    # a frame that needed more than the minimal shift keeps its top 32 bits
    big = m > 1
    assert (s.max(axis=1)[big] >= np.uint64(2**31)).all() or not big.any()
