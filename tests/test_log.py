"""Log stage: kws_log_s16 (C) against kwsdk.frontend.log, and the reference
against the float ln(mel * 2**E + offset)."""

import numpy as np
import pytest

from kwsdk.frontend import log


def c_log(c, m: np.ndarray, e: np.ndarray) -> np.ndarray:
    return np.array([c.log(row, int(k)) for row, k in zip(m, e)])


def wide_mel(n_mels: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Mel values of every bit length (0, 1, powers of two and their
    neighbours, 2**64 - 1, random) under exponents that put mel * 2**E
    anywhere from far below the offset to the saturation limit."""
    bits = rng.integers(0, 65, (400, n_mels))
    hi = rng.integers(0, 2**63, bits.shape, dtype=np.uint64) | np.uint64(2**63)
    m = np.where(bits == 0, np.uint64(0), hi >> (64 - bits).astype(np.uint64))
    edges = np.array([0, 1, 2, 3, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1], np.uint64)
    m[:20] = np.resize(edges, (20, n_mels))
    m[20] = 0  # a whole frame of zeros
    e = rng.integers(-130, 20, len(m))
    return m, e


@pytest.mark.parametrize("fe_name", ["default", "ell"])  # offsets 1e-5 and 1
def test_c_log_equals_reference(c_frontends, fe_name, ref_stages):
    got = c_log(c_frontends[fe_name], ref_stages["mel"], ref_stages["mel_exp"])
    np.testing.assert_array_equal(got, ref_stages["logmel"])


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_c_log_equals_reference_on_wide_range(c_frontends, int_frontends, fe_name):
    fe = int_frontends[fe_name]
    m, e = wide_mel(fe.cfg.n_mels, np.random.default_rng(17))
    ref = log.log_s16(m, e, fe.log_tables)
    assert ref.max() == 32767  # saturation is exercised too
    np.testing.assert_array_equal(c_log(c_frontends[fe_name], m, e), ref)


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_reference_log_accuracy(int_frontends, fe_name):
    # Table and rounding errors add up to < 1e-3 by the module's analysis;
    # 2e-3 is the contract. Saturated outputs are checked separately.
    fe = int_frontends[fe_name]
    off = fe.cfg.log_offset
    m, e = wide_mel(fe.cfg.n_mels, np.random.default_rng(19))
    got = log.log_s16(m, e, fe.log_tables) / 2**log.FEATURE_FRAC_BITS
    want = np.log(m.astype(np.float64) * np.ldexp(1.0, e)[:, None] + off)
    inside = want < 32767 / 1024
    assert inside.mean() > 0.5 and (m == 0).any()
    assert np.abs(got - want)[inside].max() < 2e-3
    assert (got[~inside] == 32767 / 1024).all()
    np.testing.assert_array_equal(got[m == 0], np.round(np.log(off) * 1024) / 1024)


def test_reference_log_accuracy_near_the_offset(int_frontends):
    # Where mel * 2**E is close to the offset the softplus table does the
    # work: sweep a fine grid of ratios 2**-30 .. 2**30 around it.
    for name in ("default", "ell"):
        fe = int_frontends[name]
        off = fe.cfg.log_offset
        k = 32 - int(np.floor(np.log2(off)))  # mel up to 2**62: no u64 overflow
        ratio = np.exp2(np.linspace(-30, 30, 4001))
        m = np.round(ratio * off * 2.0**k).astype(np.uint64)[None, :]
        got = log.log_s16(m, np.array([-k]), fe.log_tables) / 1024
        want = np.log(m.astype(np.float64) * 2.0**-k + off)
        assert np.abs(got - want).max() < 2e-3, name
