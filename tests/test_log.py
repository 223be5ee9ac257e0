"""Log stage: kws_log_s16 (C) against kwsdk.frontend.log, and the reference
against the float ln(mel * 2**E + offset)."""

import numpy as np
import pytest

from kwsdk.config import ConfigError
from kwsdk.frontend import log


def c_log(c, m: np.ndarray, e: np.ndarray) -> np.ndarray:
    return np.array([c.log(row, int(k)) for row, k in zip(m, e)])


def wide_mel(fe, rng) -> tuple[np.ndarray, np.ndarray]:
    """Mel values of every bit length the mel stage can produce (0, 1, powers
    of two and their neighbours, the largest, random) under every exponent
    the spectrum stage can give."""
    top = fe.mel_segments.mel_bits
    n = fe.cfg.n_mels
    bits = rng.integers(0, top + 1, (400, n))
    hi = rng.integers(0, 2**63, bits.shape, dtype=np.uint64) | np.uint64(2**63)
    m = np.where(bits == 0, np.uint64(0), hi >> (64 - bits).astype(np.uint64))
    edges = np.array([0, 1, 2, 3, 2**32 - 1, 2**32, 2**top - 1], np.uint64)
    m[:20] = np.resize(edges, (20, n))
    m[20] = 0  # a whole frame of zeros
    lo, hi_e = fe.mel_exp_range()
    e = np.concatenate([[lo, hi_e] * 10, rng.integers(lo, hi_e + 1, len(m) - 20)])
    return m, e


@pytest.mark.parametrize("fe_name", ["default", "ell"])  # offsets 1e-5 and 1
def test_c_log_equals_reference(c_frontends, fe_name, ref_stages):
    got = c_log(c_frontends[fe_name], ref_stages["mel"], ref_stages["mel_exp"])
    np.testing.assert_array_equal(got, ref_stages["logmel"])


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_c_log_equals_reference_on_wide_range(c_frontends, int_frontends, fe_name):
    fe = int_frontends[fe_name]
    m, e = wide_mel(fe, np.random.default_rng(17))
    ref = log.log_s16(m, e, fe.log_tables)
    np.testing.assert_array_equal(c_log(c_frontends[fe_name], m, e), ref)


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_reference_log_accuracy(int_frontends, fe_name):
    # The table (3e-6), the offset's grid (< 2**-8 of it) and the output
    # rounding (2**-11) add up to < 1e-3; 1.5e-3 is the contract.
    fe = int_frontends[fe_name]
    off = fe.cfg.log_offset
    m, e = wide_mel(fe, np.random.default_rng(19))
    got = log.log_s16(m, e, fe.log_tables) / 2**log.FEATURE_FRAC_BITS
    want = np.log(m.astype(np.float64) * np.ldexp(1.0, e)[:, None] + off)
    assert np.abs(want).max() < 32  # the whole domain is inside the s16 range: no saturation
    assert np.abs(got - want).max() < 1.5e-3
    assert np.abs(got[m == 0] - np.log(off)).max() < 1.5e-3


def test_reference_log_accuracy_near_the_offset(int_frontends):
    # Where mel * 2**E is close to the offset, both terms matter: sweep a
    # fine grid of ratios 2**-30 .. 2**30 around it at both ends of the
    # exponent range (where the offset's grid value is smallest and largest).
    for name in ("default", "ell"):
        fe = int_frontends[name]
        off = fe.cfg.log_offset
        for e in fe.mel_exp_range():
            ratio = np.exp2(np.linspace(-30, 30, 4001))
            m = np.round(ratio * off * 2.0**-e)
            m = np.minimum(m, 2**fe.mel_segments.mel_bits - 1).astype(np.uint64)[None, :]
            got = log.log_s16(m, np.array([e]), fe.log_tables) / 1024
            want = np.log(m.astype(np.float64) * 2.0**e + off)
            assert np.abs(got - want).max() < 1.5e-3, (name, e)


def test_unrepresentable_offsets_are_refused():
    with pytest.raises(ConfigError, match="log_offset"):
        log.LogTables.build(0.0, 50)
    t = log.LogTables.build(1e-30, 50)
    with pytest.raises(ConfigError, match="log_offset"):
        t.check(-60, -20)
