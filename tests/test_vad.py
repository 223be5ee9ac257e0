"""VAD: the generated C against the integer reference (bit-exact), the
integer against the float reference (agreement), and the rule's behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from kwsdk.config import VadConfig, feature_preset
from kwsdk.codegen.cfrontend import CFrontend
from kwsdk.verify.frontend_check import mix_noise
from kwsdk.frontend.features import Frontend
from kwsdk.frontend.vad import LEVEL_BITS, FloatVad, IntVad, VadParams, channel_centres, level_weights

NOISY = VadConfig(hysteresis=0.1)


def _noisy_speech(sample_clips, n_clips: int = 40) -> list[np.ndarray]:
    """Clips with 0.4 s of noise before and after, mixed at 0/10/20 dB."""
    noise = [p for name, p in sample_clips if name.startswith("_background_noise_")]
    words = [p for name, p in sample_clips if not name.startswith("_")]
    rng = np.random.default_rng(5)
    out = []
    for i, w in enumerate(words[:: max(1, len(words) // n_clips)][:n_clips]):
        x = np.concatenate([np.zeros(6400), w / 32768.0, np.zeros(6400)])
        x = mix_noise(x, noise[i % len(noise)] / 32768.0, (0.0, 10.0, 20.0)[i % 3], rng)
        out.append(np.round(x * 32768).astype(np.int16))
    return out


@pytest.fixture(scope="module")
def c_noisy(tmp_path_factory) -> CFrontend:
    return CFrontend(feature_preset("default"), tmp_path_factory.mktemp("vad-hyst"), NOISY)


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_c_vad_bit_exact(fe_name, frontend_cfg, c_frontends, int_frontends, sample_clips):
    ivad = IntVad(VadConfig(), frontend_cfg)
    active = []
    for pcm in _noisy_speech(sample_clips, 20):
        ref = int_frontends[fe_name].analyze(pcm)
        ivad.reset()
        want = ivad.run(ref.mel, ref.mel_exp)
        active.append(want.mean())
        np.testing.assert_array_equal(c_frontends[fe_name].vad_run(ref.mel, ref.mel_exp), want)
        np.testing.assert_array_equal(c_frontends[fe_name].run(pcm, 250).vad, want)
    assert 0.1 < np.mean(active) < 0.9  # both states well exercised


def test_c_vad_hysteresis_bit_exact(c_noisy, int_frontends, sample_clips):
    cfg = feature_preset("default")
    ivad = IntVad(NOISY, cfg)
    for pcm in _noisy_speech(sample_clips, 10):
        ref = int_frontends["default"].analyze(pcm)
        ivad.reset()
        np.testing.assert_array_equal(c_noisy.run(pcm, 999).vad, ivad.run(ref.mel, ref.mel_exp))


def test_c_level_extremes(c_frontends):
    """Saturation and shift edges: zero, huge energies, exponents far either way."""
    cfg = feature_preset("default")
    ivad = IntVad(VadConfig(), cfg)
    rng = np.random.default_rng(1)
    c = c_frontends["default"]
    for exp in (-200, -120, -60, -37, -24, -10, 0, 5, 30):
        for mel in (np.zeros(40, np.uint64), np.full(40, 2**62, np.uint64),
                    rng.integers(0, 2**62, 40, dtype=np.uint64), rng.integers(0, 4, 40, dtype=np.uint64)):
            lv = ivad.level(mel, exp)
            assert 0 <= lv <= 2**LEVEL_BITS * (1 + 2**-10)  # weights sum to 1 within rounding
            assert c.vad_level(mel, exp) == lv


def test_integer_agrees_with_float(sample_clips, int_frontends):
    cfg = feature_preset("default")
    ffe = Frontend(cfg)
    same = total = 0
    for vcfg in (VadConfig(), NOISY):
        fvad, ivad = FloatVad(vcfg, cfg), IntVad(vcfg, cfg)
        for pcm in _noisy_speech(sample_clips):
            ref = int_frontends["default"].analyze(pcm)
            a = fvad.run(ffe.mel_energies(pcm / 32768.0))
            b = ivad.run(ref.mel, ref.mel_exp)
            fvad.reset()
            ivad.reset()
            same, total = same + int((a == b).sum()), total + len(a)
    assert same / total >= 0.99


def _tone(seconds: float, amp: float, freq: float = 1000.0) -> np.ndarray:
    t = np.arange(int(seconds * 16000)) / 16000
    return amp * np.sin(2 * np.pi * freq * t)


def test_rule_tracks_noise_and_detects_bursts():
    """Steady noise is learned as floor (no activity); a loud burst over it
    is activity; the hang-over keeps the output on after the burst."""
    cfg = feature_preset("default")
    rng = np.random.default_rng(0)
    quiet = 0.003 * rng.standard_normal(16000 * 3)
    burst = quiet[:8000] + _tone(0.5, 0.3)
    x = np.concatenate([quiet, burst, quiet[:16000]])
    mel = Frontend(cfg).mel_energies(x)
    fps, end = 50, 175  # the burst covers frames 150-174
    tails = []
    for hyst in (0.0, 0.2):
        v = FloatVad(VadConfig(hysteresis=hyst), cfg).run(mel)
        assert not v[fps : 3 * fps].any(), "steady noise reported as speech"
        assert v[3 * fps + 2 : end - 1].all(), "burst missed"
        assert not v[-fps // 2 :].any()
        tails.append(int(v[end:].sum()))
    assert tails[0] <= 2
    assert tails[1] - tails[0] == int(0.2 * fps)  # the hang-over, exactly


def test_weights_cover_the_speech_band_by_true_frequency():
    for cfg in (feature_preset("default"), feature_preset("ell")):
        w, f = level_weights(cfg), channel_centres(cfg)
        inside = (f >= 300) & (f <= 3400)
        assert w.sum() == pytest.approx(1.0)  # a weighted mean
        assert (w[~inside] == 0).all() and np.allclose(w[inside], 1 / inside.sum())
        assert 10 < inside.sum() < cfg.n_mels - 10


@pytest.mark.parametrize("field", ["tau_up", "tau_down", "threshold_up", "level_threshold"])
def test_bad_parameters_rejected(field):
    with pytest.raises(ValueError, match=field):
        VadParams.resolve(VadConfig(**{field: 0.0}), feature_preset("default"))
    with pytest.raises(ValueError, match="hysteresis"):
        VadParams.resolve(VadConfig(hysteresis=-1.0), feature_preset("default"))
