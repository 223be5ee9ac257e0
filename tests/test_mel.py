"""Mel stage: kws_mel_q15 (C) against kwsdk.frontend.mel, the segment
weights against the float filterbank, and the reference against it."""

import dataclasses

import numpy as np
import pytest

from kwsdk.config import ConfigError, feature_preset
from kwsdk.frontend import mel
from kwsdk.frontend.features import mel_filterbank


def c_mel(c, spec: np.ndarray, m: np.ndarray) -> np.ndarray:
    return np.array([c.mel(row, int(k)) for row, k in zip(spec, m)])


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_c_mel_equals_reference(c_frontends, fe_name, ref_stages):
    got = c_mel(c_frontends[fe_name], ref_stages["spec"], ref_stages["m"])
    np.testing.assert_array_equal(got, ref_stages["mel"])


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_mel_at_the_largest_spectrum(c_frontends, int_frontends, fe_name):
    # spec >> m up to 2**32 - 1 in every bin, for every shift the spectrum
    # stage can return: the u64 sums must be exact (checked with Python ints).
    fe = int_frontends[fe_name]
    bins = fe.cfg.nfft // 2 + 1
    rng = np.random.default_rng(13)
    m = np.concatenate([np.arange(1, 31), rng.integers(1, 31, 30), np.ones(10, np.int64)])
    top = (np.uint64(2**32) << m.astype(np.uint64)) - np.uint64(1)  # the largest spec with spec >> m < 2**32
    spec = np.stack([np.full(bins, t) if i < 30 else rng.integers(0, t, bins, dtype=np.uint64, endpoint=True)
                     for i, t in enumerate(top)])
    spec[-10:] = rng.integers(0, 4, (10, bins), dtype=np.uint64)
    w = [[int(v) for v in row] for row in fe.mel_q15]
    exact = np.array([[sum(a * (int(b) >> int(k)) for a, b in zip(row, frame)) for row in w]
                      for frame, k in zip(spec, m)], dtype=object)
    assert max(exact.ravel()) < 2**fe.mel_segments.mel_bits
    ref = mel.mel_q15(spec, m, fe.mel_q15)
    np.testing.assert_array_equal(ref, exact.astype(np.uint64))
    np.testing.assert_array_equal(c_mel(c_frontends[fe_name], spec, m), ref)


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_mel_weights_are_q15_of_the_float_filterbank(int_frontends, frontend_configs, fe_name):
    fe = int_frontends[fe_name]
    fb = mel_filterbank(frontend_configs[fe_name])
    seg = fe.mel_segments
    assert np.abs(fe.mel_q15 / 2**15 - fb).max() <= 2**-15  # falls are 1 - rises: 1 LSB, not half
    assert fe.mel_q15.min() >= 0 and fe.mel_q15.max() <= 2**15
    # the segments cover every weighted bin once, back to back
    first, total = seg.starts[np.argmax(seg.counts > 0)], seg.counts.sum()
    used = np.nonzero(fe.mel_q15.any(axis=0))[0]
    assert total == len(seg.rise) and first <= used.min() and used.max() < first + total
    dense = np.zeros_like(fe.mel_q15)
    k = first
    for j, n in enumerate(seg.counts):
        for _ in range(n):
            r = seg.rise[k - first]
            if j < len(dense):
                dense[j, k] = r
            if j > 0:
                dense[j - 1, k] = 2**15 - r
            k += 1
    np.testing.assert_array_equal(dense, fe.mel_q15)  # the form the C uses loses nothing


@pytest.mark.parametrize("changes", [dict(n_mels=10), dict(n_mels=128, nfft=1024, window_size=1024),
                                     dict(fmin=300.0, fmax=3400.0), dict(mel_style="ell", n_mels=80, fmin=0.0)])
def test_other_filterbanks_segment(changes):
    cfg = dataclasses.replace(feature_preset("default"), **changes)
    seg = mel.segment_weights(cfg)
    assert np.abs(seg.dense / 2**15 - mel_filterbank(cfg)).max() <= 2**-15


def test_filterbank_that_is_not_crossing_triangles_is_refused(monkeypatch):
    def gapped(cfg):
        fb = np.zeros((2, cfg.nfft // 2 + 1))
        fb[0, 3:6] = [0.5, 1.0, 0.5]
        fb[1, 8:11] = [0.5, 1.0, 0.5]  # a gap between the filters: no complement weight
        return fb

    monkeypatch.setattr(mel, "mel_filterbank", gapped)
    with pytest.raises(ConfigError, match="mel filterbank"):
        mel.segment_weights(feature_preset("default"))


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_reference_mel_value(int_frontends, frontend_configs, fe_name, ref_stages):
    # mel * 2**mel_exp is the float filterbank applied to the shifted
    # spectrum; q15 weights are within 2**-15 of the float ones, which bounds
    # each band's error by 2**-15 times the spectrum under it.
    fe = int_frontends[fe_name]
    fb = mel_filterbank(frontend_configs[fe_name])
    m = ref_stages["m"]
    s = (ref_stages["spec"] >> m[:, None].astype(np.uint64)).astype(np.float64)
    got = ref_stages["mel"].astype(np.float64)
    want = s @ fb.T * 2**15
    support = ((fb > 0) | (fe.mel_q15 > 0)).astype(np.float64)
    assert (np.abs(got - want) <= (s @ support.T) * (1 + 1e-9)).all()
