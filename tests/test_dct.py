"""DCT stage (MFCC configuration only): kws_dct_q15 (C) against
kwsdk.frontend.dct, and the reference against the float DCT."""

import numpy as np
import pytest

from kwsdk.fixedpoint import rshift_round
from kwsdk.frontend import dct
from kwsdk.frontend.features import dct_matrix
from kwsdk.frontend.log import FEATURE_FRAC_BITS

pytestmark = pytest.mark.parametrize("fe_name", ["mfcc"])


def c_dct(c, logmel: np.ndarray) -> np.ndarray:
    return np.array([c.dct(row) for row in logmel])


def extreme_logmel(n_mels: int) -> np.ndarray:
    j = np.arange(n_mels)
    rng = np.random.default_rng(23)
    rows = [np.full(n_mels, 32767), np.full(n_mels, -32768), np.where(j % 2, -32768, 32767),
            np.where(j < n_mels // 2, 32767, -32768), np.zeros(n_mels)]
    # the sign pattern of each DCT row drives its coefficient to the limit
    rows += [np.where(r >= 0, 32767, -32768) for r in dct_matrix(n_mels, n_mels)]
    return np.concatenate([np.array(rows), rng.integers(-32768, 32768, (100, n_mels))]).astype(np.int16)


def test_c_dct_equals_reference(c_frontends, int_frontends, fe_name, ref_stages):
    fe = int_frontends[fe_name]
    ref = fe.frames_int(ref_stages["frames"]).features
    np.testing.assert_array_equal(dct.apply_dct_q15(ref_stages["logmel"], fe.dct_q15), ref)
    np.testing.assert_array_equal(c_dct(c_frontends[fe_name], ref_stages["logmel"]), ref)


def test_c_dct_equals_reference_at_the_input_limits(c_frontends, int_frontends, fe_name):
    fe = int_frontends[fe_name]
    x = extreme_logmel(fe.cfg.n_mels)
    ref = dct.apply_dct_q15(x, fe.dct_q15)
    np.testing.assert_array_equal(c_dct(c_frontends[fe_name], x), ref)
    # the guard bits make saturation unnecessary: the unclamped value fits
    guard = dct.dct_guard_bits(fe.cfg.n_mels)
    raw = rshift_round(x.astype(np.int64) @ fe.dct_q15.T, 15 + guard)
    np.testing.assert_array_equal(raw, ref)
    assert np.abs(raw).max() > 2**14  # and the limits were approached


def test_reference_dct_value(int_frontends, fe_name, ref_stages):
    # features / 2**frac_bits is the orthonormal DCT of logmel / 2**10 up to
    # the q15 matrix (2**-16 per coefficient) and the output rounding.
    fe = int_frontends[fe_name]
    assert fe.frac_bits == dct.mfcc_frac_bits(fe.cfg.n_mels) == FEATURE_FRAC_BITS - dct.dct_guard_bits(fe.cfg.n_mels)
    lm = ref_stages["logmel"] / 2**FEATURE_FRAC_BITS
    got = dct.apply_dct_q15(ref_stages["logmel"], fe.dct_q15) / 2**fe.frac_bits
    want = lm @ dct_matrix(fe.cfg.n_mels, fe.cfg.n_mfcc).T
    bound = 2**-16 * np.abs(lm).sum(axis=1, keepdims=True) + 2.0 ** -(fe.frac_bits + 1)
    assert (np.abs(got - want) <= bound * (1 + 1e-9)).all()
