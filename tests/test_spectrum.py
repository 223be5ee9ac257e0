"""Spectrum stage: kws_spectrum_u64 (C) against kwsdk.frontend.spectrum, and
the reference against the float spectrum of the same bins."""

import numpy as np
import pytest

from kwsdk.frontend import spectrum


def c_spectrum(c, re, im, n) -> tuple[np.ndarray, np.ndarray]:
    got = [c.spectrum(r, i, int(k)) for r, i, k in zip(re, im, n)]
    return np.array([s for s, _ in got]), np.array([e for _, e in got])


@pytest.mark.parametrize("fe_name", ["default", "ell"])  # power / magnitude
def test_c_spectrum_equals_reference(c_frontends, fe_name, ref_stages):
    s, e = c_spectrum(c_frontends[fe_name], ref_stages["re"], ref_stages["im"], ref_stages["n"])
    np.testing.assert_array_equal(s, ref_stages["s"])
    np.testing.assert_array_equal(e, ref_stages["e"])


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_c_spectrum_equals_reference_on_extreme_bins(c_frontends, int_frontends, fe_name):
    # Bins anywhere in the s32 range (|re|, |im| up to 2**31), where re**2 + im**2
    # needs all 64 bits, and every window shift.
    fe = int_frontends[fe_name]
    c = fe.cfg
    bins = c.nfft // 2 + 1
    rng = np.random.default_rng(11)
    lo, hi = -(2**31), 2**31 - 1
    re = np.concatenate([np.full((1, bins), lo), np.full((1, bins), hi), rng.integers(lo, hi + 1, (60, bins)),
                         rng.integers(-3, 4, (20, bins)), np.zeros((1, bins), np.int64)])
    im = np.concatenate([np.full((1, bins), lo), np.full((1, bins), lo), rng.integers(lo, hi + 1, (60, bins)),
                         rng.integers(-3, 4, (20, bins)), np.zeros((1, bins), np.int64)])
    re[3:10, ::2] = 0  # sparse spectra: the peak sets the shift for the rest
    # re**2 + im**2 = 2**62 - 5334: the rounded shift carries into 2**power_bits
    re[-1, 3], im[-1, 3] = 1518555027, 1518445471
    n = rng.integers(0, 31, len(re))
    ref_s, ref_e = spectrum.spectrum_u64(re, im, n, c.spectrum, c.nfft, fe.power_bits)
    if c.spectrum == "power":
        # S reaches 2**power_bits at most (not below it, as the docstring says);
        # even then the widest mel filter sums to < 2**63.
        assert int(ref_s.max()) == 2**fe.power_bits
        assert int(ref_s.max()) * int(fe.mel_q15.sum(axis=1).max()) < 2**63
    s, e = c_spectrum(c_frontends[fe_name], re, im, n)
    np.testing.assert_array_equal(s, ref_s)
    np.testing.assert_array_equal(e, ref_e)


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_reference_spectrum_value(int_frontends, fe_name, ref_stages):
    # S * 2**e is the float reference's |X|**2 or |X| of the same (integer)
    # FFT bins, up to the rounding shift (power) or the floor of the square
    # root (magnitude); power fits in power_bits so the mel sums cannot overflow.
    fe = int_frontends[fe_name]
    c = fe.cfg
    s, e = ref_stages["s"], ref_stages["e"]
    x = (ref_stages["re"] + 1j * ref_stages["im"]) * (c.nfft * np.ldexp(1.0, -(30 + ref_stages["n"])))[:, None]
    want = np.abs(x) ** 2 if c.spectrum == "power" else np.abs(x)
    got = s.astype(np.float64) * np.ldexp(1.0, e)[:, None]
    unit = np.ldexp(1.0, e)[:, None]  # one LSB of S
    assert (np.abs(got - want) <= unit * (0.5 if c.spectrum == "power" else 1.0) + 1e-9 * want).all()
    if c.spectrum == "power":
        assert (s <= np.uint64(2**fe.power_bits)).all()
        # a frame that needed a shift keeps all the bits it can
        shifted = e - spectrum.exponent_bias(c.spectrum, c.nfft) + 2 * ref_stages["n"] > 0
        peak_bits = np.array([int(v).bit_length() for v in s.max(axis=1)])
        assert (peak_bits[shifted] >= fe.power_bits).all()
    else:
        assert (s < np.uint64(2**32)).all()
