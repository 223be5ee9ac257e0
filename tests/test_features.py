import dataclasses

import numpy as np
import pytest

from kwsdk.config import FeatureConfig, feature_preset
from kwsdk.frontend.features import Frontend, cached_features, dct_matrix, mel_filterbank


def slow_features(audio: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """Straight transcription of the module docstring, float64, one frame at a time."""
    pad = np.concatenate([np.zeros(cfg.window_size - cfg.hop_size), audio.astype(np.float64)])
    n = np.arange(cfg.window_size)
    if cfg.window == "hann":
        w = 0.5 - 0.5 * np.cos(2 * np.pi * n / cfg.window_size)
    else:
        w = 0.54 - 0.46 * np.cos(2 * np.pi * n / (cfg.window_size - 1))
    k = np.arange(cfg.nfft // 2 + 1)
    dft = np.exp(-2j * np.pi * np.outer(k, n) / cfg.nfft)
    fb = mel_filterbank(cfg)
    out = []
    for t in range(len(audio) // cfg.hop_size):
        x = pad[t * cfg.hop_size : t * cfg.hop_size + cfg.window_size] * w
        spec = np.abs(dft @ x)
        s = spec**2 if cfg.spectrum == "power" else spec
        out.append(np.log(fb @ s + cfg.log_offset))
    return np.array(out)


@pytest.mark.parametrize("preset", ["default", "ell"])
def test_matches_documented_math(preset):
    cfg = feature_preset(preset)
    rng = np.random.default_rng(0)
    audio = (rng.normal(size=8000) * 0.1).astype(np.float32)
    ref = slow_features(audio, cfg)
    got = Frontend(cfg).compute(audio)
    assert got.shape == ref.shape == (8000 // cfg.hop_size, cfg.n_mels)
    np.testing.assert_allclose(got, ref, atol=2e-3)


@pytest.mark.parametrize("preset", ["default", "ell"])
def test_streaming_equals_offline_in_any_chunking(preset):
    cfg = feature_preset(preset)
    rng = np.random.default_rng(1)
    audio = (rng.normal(size=16000 * 3) * 0.2).astype(np.float32)
    ref = Frontend(cfg).compute(audio)
    fe = Frontend(cfg)
    for sizes in ([1] * 700 + [16000 * 3], [cfg.hop_size] * 200, list(rng.integers(1, 3000, 100))):
        fe.reset()
        parts, i = [], 0
        for n in sizes:
            parts.append(fe.process(audio[i : i + n]))
            i += n
            if i >= len(audio):
                break
        np.testing.assert_allclose(np.concatenate(parts), ref, atol=1e-5)


def test_ell_preset_is_the_ell_featurizer():
    cfg = feature_preset("ell")
    fb = mel_filterbank(cfg)
    assert fb.shape == (80, 257)
    assert (fb.sum(axis=1) == 0).sum() >= 1  # ELL's empty low filter, kept for compatibility
    assert fb.max() == 1.0
    assert cfg.frames_per_second == 31.25


def test_mel_bands_follow_frequency():
    cfg = feature_preset("default")
    fe = Frontend(cfg)
    t = np.arange(16000) / 16000
    peaks = [int(np.argmax(fe.compute(0.5 * np.sin(2 * np.pi * f * t)).mean(0))) for f in (300, 1000, 4000)]
    assert peaks[0] < peaks[1] < peaks[2]
    fb = mel_filterbank(cfg)
    assert np.all(fb.max(axis=1) > 0.5)  # no empty band in the default preset


def test_mfcc_is_orthonormal_dct_of_logmel():
    d = dct_matrix(40, 40)
    np.testing.assert_allclose(d @ d.T, np.eye(40), atol=1e-10)
    cfg = dataclasses.replace(feature_preset("default"), n_mfcc=13)
    audio = np.random.default_rng(2).normal(size=4000).astype(np.float32) * 0.1
    mfcc = Frontend(cfg).compute(audio)
    logmel = Frontend(feature_preset("default")).compute(audio)
    assert mfcc.shape[1] == 13
    np.testing.assert_allclose(mfcc, logmel @ dct_matrix(40, 13).T, atol=1e-3)


def test_bad_parameters_are_clear_errors():
    with pytest.raises(ValueError, match="nfft"):
        Frontend(dataclasses.replace(feature_preset("default"), window_size=1024))
    with pytest.raises(ValueError, match="hop_size"):
        Frontend(dataclasses.replace(feature_preset("default"), hop_size=1000))


def test_cache_is_keyed_by_parameters_and_content(tmp_path):
    rng = np.random.default_rng(3)
    clips = [rng.normal(size=16000).astype(np.float32) * 0.1 for _ in range(3)]
    cfg = feature_preset("default")
    a = cached_features(clips, Frontend(cfg), tmp_path, 16000)
    assert len(list(tmp_path.glob("features-*.npy"))) == 1
    np.testing.assert_array_equal(cached_features(clips, Frontend(cfg), tmp_path, 16000), a)
    assert len(list(tmp_path.glob("features-*.npy"))) == 1  # reused
    cached_features(clips, Frontend(feature_preset("ell")), tmp_path, 16000)
    clips[0][5] += 0.01
    cached_features(clips, Frontend(cfg), tmp_path, 16000)
    assert len(list(tmp_path.glob("features-*.npy"))) == 3


def test_cache_is_keyed_by_the_frontends_numerics(tmp_path, monkeypatch):
    # Integer features computed by an earlier integer frontend (same config,
    # other arithmetic) must not be reused: the NUMERICS tag is in the key.
    from kwsdk.frontend.integer import IntegerFrontend

    clips = [np.random.default_rng(4).normal(size=16000).astype(np.float32) * 0.1]
    cfg = feature_preset("default")
    cached_features(clips, Frontend(cfg), tmp_path, 16000)
    cached_features(clips, IntegerFrontend(cfg), tmp_path, 16000)
    assert len(list(tmp_path.glob("features-*.npy"))) == 2
    monkeypatch.setattr(IntegerFrontend, "NUMERICS", IntegerFrontend.NUMERICS + "-next")
    cached_features(clips, IntegerFrontend(cfg), tmp_path, 16000)
    assert len(list(tmp_path.glob("features-*.npy"))) == 3
