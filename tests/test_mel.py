"""Mel stage: kws_mel_q15 (C) against kwsdk.frontend.mel, and the reference
against the float filterbank."""

import numpy as np
import pytest

from kwsdk.frontend import mel
from kwsdk.frontend.features import mel_filterbank


def c_mel(c, s: np.ndarray) -> np.ndarray:
    return np.array([c.mel(row) for row in s])


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_c_mel_equals_reference(c_frontends, fe_name, ref_stages):
    np.testing.assert_array_equal(c_mel(c_frontends[fe_name], ref_stages["s"]), ref_stages["mel"])


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_mel_at_the_largest_spectrum(c_frontends, int_frontends, fe_name):
    # The largest spectrum the previous stage can produce, in every bin: the
    # u64 sums must be exact (no wrap), checked with Python integers.
    fe = int_frontends[fe_name]
    top = 2**fe.power_bits if fe.cfg.spectrum == "power" else 2**32 - 1
    bins = fe.cfg.nfft // 2 + 1
    rng = np.random.default_rng(13)
    s = np.concatenate([np.full((1, bins), top, np.uint64), np.full((1, bins), top - 1, np.uint64),
                        rng.integers(0, top, (30, bins), dtype=np.uint64, endpoint=True),
                        rng.integers(0, 4, (10, bins), dtype=np.uint64)])
    w = [[int(v) for v in row] for row in fe.mel_q15]
    exact = np.array([[sum(a * int(b) for a, b in zip(row, frame)) for row in w] for frame in s], dtype=object)
    assert max(exact.ravel()) < 2**63
    ref = mel.mel_q15(s, fe.mel_q15)
    np.testing.assert_array_equal(ref, exact.astype(np.uint64))
    np.testing.assert_array_equal(c_mel(c_frontends[fe_name], s), ref)


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_mel_weights_are_q15_of_the_float_filterbank(int_frontends, frontend_configs, fe_name):
    fe = int_frontends[fe_name]
    fb = mel_filterbank(frontend_configs[fe_name])
    assert np.abs(fe.mel_q15 / 2**15 - fb).max() <= 2**-16
    assert fe.mel_q15.min() >= 0 and fe.mel_q15.max() <= 2**15
    starts, counts, flat = mel.sparse_weights(fe.mel_q15)
    dense = np.zeros_like(fe.mel_q15)
    pos = 0
    for j, (a, k) in enumerate(zip(starts, counts)):
        dense[j, a : a + k] = flat[pos : pos + k]
        pos += k
    np.testing.assert_array_equal(dense, fe.mel_q15)  # the sparse form the C uses loses nothing


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_reference_mel_value(int_frontends, frontend_configs, fe_name, ref_stages):
    # mel * 2**mel_exp is the float filterbank applied to the same spectrum;
    # q15 weights are within 2**-16 of the float ones, which bounds the error
    # of each band by 2**-16 times the spectrum under it.
    fe = int_frontends[fe_name]
    fb = mel_filterbank(frontend_configs[fe_name])
    spec = ref_stages["s"].astype(np.float64) * np.ldexp(1.0, ref_stages["e"])[:, None]
    got = ref_stages["mel"].astype(np.float64) * np.ldexp(1.0, ref_stages["mel_exp"])[:, None]
    want = spec @ fb.T
    support = ((fb > 0) | (fe.mel_q15 > 0)).astype(np.float64)
    assert (np.abs(got - want) <= 2**-16 * (spec @ support.T) * (1 + 1e-9)).all()
