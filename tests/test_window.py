"""Window stage: kws_window_q15 (C) against kwsdk.frontend.window."""

import numpy as np
import pytest

from kwsdk.frontend import window


@pytest.mark.parametrize("fe_name", ["default", "ell"])  # hann / hamming
def test_c_window_equals_reference(c_frontends, fe_name, ref_stages):
    c = c_frontends[fe_name]
    got = [c.window(f) for f in ref_stages["frames"]]
    np.testing.assert_array_equal(np.array([x for x, _ in got]), ref_stages["x"])
    np.testing.assert_array_equal(np.array([n for _, n in got]), ref_stages["n"])


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_window_block_normalisation(int_frontends, fe_name, ref_stages):
    # The documented contract the FFT's headroom relies on: peak in
    # [2**29, 2**30) after the shift, nothing lost, zeros past the window.
    fe = int_frontends[fe_name]
    frames, x, n = ref_stages["frames"], ref_stages["x"], ref_stages["n"]
    win = frames.shape[1]
    product = frames.astype(np.int64) * fe.window_q15
    np.testing.assert_array_equal(x[:, :win] >> n[:, None], product)
    assert (x[:, win:] == 0).all()
    peak = np.abs(x).max(axis=1)
    silent = peak == 0
    assert (n[silent] == 0).all()
    assert ((peak[~silent] >= 2**29) & (peak[~silent] < 2**window.NORM_BITS)).all()
    assert (n >= 0).all()


def test_window_table_is_q15_of_the_float_window(int_frontends, frontend_configs):
    from kwsdk.frontend.features import window_table

    for name in ("default", "ell"):
        w = int_frontends[name].window_q15
        f = window_table(frontend_configs[name])
        assert np.abs(w / 32768 - f).max() <= 2**-15  # 1.0 saturates to 32767/32768
        assert w.max() <= 32767 and w.min() >= 0
