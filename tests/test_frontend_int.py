"""The whole integer frontend: the generated C, streamed in any chunking
(through ctypes and as the sanitizer-built driver), equals the Python
reference IntegerFrontend bit for bit, and the reference stays within 50 dB
SNR of the float frontend on real speech."""

import json
from pathlib import Path

import numpy as np
import pytest

from kwsdk.codegen.cfrontend import HostIntegerFrontend, run_driver
from kwsdk.frontend.features import Frontend
from kwsdk.frontend.integer import IntegerFrontend

SWEEP_SAMPLES = 9001  # not a multiple of either hop: a tail stays in the buffer
CHUNKS = ["1", "7", "hop-1", "hop", "hop+1", "1000", "whole"]


def chunk_size(name: str, hop: int) -> int | None:
    """Samples per kws_frontend_feed call; None feeds the whole input at once."""
    named = {"hop-1": hop - 1, "hop": hop, "hop+1": hop + 1, "whole": None}
    return named[name] if name in named else int(name)


def assert_frames_equal(got, ref, what=""):
    assert got.features.shape == ref.features.shape, what
    np.testing.assert_array_equal(got.features, ref.features, err_msg=f"features {what}")
    np.testing.assert_array_equal(got.mel, ref.mel, err_msg=f"mel {what}")
    np.testing.assert_array_equal(got.mel_exp, ref.mel_exp, err_msg=f"mel_exp {what}")


def snr_db(ref_feats, test_feats) -> float:
    sig = sum(float(np.sum(f.astype(np.float64) ** 2)) for f in ref_feats)
    err = sum(float(np.sum((f.astype(np.float64) - t) ** 2)) for f, t in zip(ref_feats, test_feats))
    return 10 * np.log10(sig / err)


@pytest.fixture(scope="module")
def analyzed():
    """Memoised IntegerFrontend.analyze per (config, key): the references are
    shared by the parametrised tests that differ only in the C chunking."""
    memo = {}

    def get(fe: IntegerFrontend, name: str, key, pcm: np.ndarray):
        if (name, key) not in memo:
            memo[name, key] = fe.analyze(pcm)
        return memo[name, key]

    return get


@pytest.mark.parametrize("chunk", CHUNKS)
def test_c_stream_equals_reference(c_frontends, int_frontends, analyzed, fe_name, signal_kind, signals, chunk):
    pcm = signals[signal_kind][:SWEEP_SAMPLES]
    c = c_frontends[fe_name]
    ref = analyzed(int_frontends[fe_name], fe_name, signal_kind, pcm)
    assert len(ref.features) == len(pcm) // c.cfg.hop_size
    assert_frames_equal(c.run(pcm, chunk_size(chunk, c.cfg.hop_size)), ref, f"{signal_kind} chunk {chunk}")


def test_c_stream_equals_reference_on_shipped_sample(c_frontends, int_frontends, analyzed, fe_name,
                                                      sample_clips):
    # Every clip for the default preset, every 4th for the others; the
    # chunking rotates so that each clip boundary case meets real audio
    # (the sweep above covers the small chunks).
    c, fe = c_frontends[fe_name], int_frontends[fe_name]
    hop = c.cfg.hop_size
    clips = sample_clips if fe_name == "default" else sample_clips[::4]
    rotation = ["whole", "hop", "hop+1", "1000", "hop-1"]
    for i, (name, pcm) in enumerate(clips):
        chunk = rotation[i % len(rotation)]
        assert_frames_equal(c.run(pcm, chunk_size(chunk, hop)), analyzed(fe, fe_name, name, pcm),
                            f"{name} chunk {chunk}")


def test_sanitizer_driver_equals_reference(sanitizer_drivers, int_frontends, analyzed, fe_name, signals):
    # ASan + UBSan turn any out-of-bounds access, signed overflow or bad
    # shift in the generated C into a failed run (run_driver raises).
    fe = int_frontends[fe_name]
    for kind in ("square", "clipped", "random", "tiny", "speech"):
        pcm = signals[kind][:SWEEP_SAMPLES]
        ref = analyzed(fe, fe_name, kind, pcm)
        for chunk in (1, 333, 4096):
            got = run_driver(sanitizer_drivers[fe_name], fe.cfg, pcm, chunk)
            assert_frames_equal(got, ref, f"driver {kind} chunk {chunk}")


def test_compute_is_analyze_scaled(int_frontends, fe_name, signals):
    fe = int_frontends[fe_name]
    pcm = signals["speech"][:SWEEP_SAMPLES]
    want = fe.analyze(pcm).features.astype(np.float32) / np.float32(2**fe.frac_bits)
    got = fe.compute(pcm / np.float32(32768))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want)


def test_host_frontend_without_a_compiler_uses_the_reference(int_frontends, signals, monkeypatch):
    """No C build (no compiler): one warning, then the Python reference's features."""
    import kwsdk.codegen.cfrontend as cfrontend
    from kwsdk.codegen.hostbuild import BuildError

    def no_compiler(*a, **k):
        raise BuildError("cc: not found")

    monkeypatch.setattr(cfrontend, "host_frontend", no_compiler)
    cfg = int_frontends["default"].cfg
    fe = HostIntegerFrontend(cfg)
    audio = signals["speech"][:8000] / np.float32(32768)
    with pytest.warns(UserWarning, match="no host C build"):
        got = fe.compute(audio)
    np.testing.assert_array_equal(got, IntegerFrontend(cfg).compute(audio))
    np.testing.assert_array_equal(fe.compute(audio), got)  # no second attempt, no second warning


def test_process_in_chunks_equals_compute(int_frontends, fe_name, signals):
    fe = HostIntegerFrontend(int_frontends[fe_name].cfg)  # own instance: process() keeps state
    audio = np.concatenate([signals["speech"][:12000], signals["clipped"][:5000]]) / np.float32(32768)
    want = fe.compute(audio)
    rng = np.random.default_rng(29)
    hop = fe.cfg.hop_size
    for sizes in ([1] * 700, [hop - 1, hop, hop + 1, 0, 7] * 20, rng.integers(0, 3000, 40).tolist()):
        fe.reset()
        parts, i = [], 0
        for n in sizes + [len(audio)]:
            parts.append(fe.process(audio[i : i + n]))
            i += n
            if i >= len(audio):
                break
        got = np.concatenate(parts)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)


def test_short_clip_gives_no_frames(c_frontends, int_frontends, fe_name):
    # A clip of N samples gives N // hop frames (kwsdk.frontend.features),
    # so anything shorter than a hop gives none, as the streaming C does.
    c, fe = c_frontends[fe_name], int_frontends[fe_name]
    pcm = np.arange(fe.cfg.hop_size - 1, dtype=np.int16)
    assert len(c.run(pcm).features) == 0
    got = fe.analyze(pcm)
    assert got.features.shape == (0, fe.cfg.n_features) and got.mel.shape == (0, fe.cfg.n_mels)


def sample_snr(fe_name, int_frontends, analyzed, clips) -> float:
    fe = int_frontends[fe_name]
    flt = Frontend(fe.cfg)
    ref = [flt.compute(pcm / np.float32(32768)) for _, pcm in clips]
    got = [analyzed(fe, fe_name, name, pcm).features / 2**fe.frac_bits for name, pcm in clips]
    return snr_db(ref, got)


@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_snr_against_float_frontend_on_shipped_sample(int_frontends, analyzed, fe_name, sample_clips):
    snr = sample_snr(fe_name, int_frontends, analyzed, sample_clips)
    assert snr >= 50.0, f"{fe_name}: {snr:.1f} dB"


@pytest.mark.extended
@pytest.mark.parametrize("fe_name", ["default", "ell"])
def test_snr_and_bit_exactness_on_dev_set(dev_clips, c_frontends, int_frontends, analyzed, fe_name):
    clips = dev_clips
    snr = sample_snr(fe_name, int_frontends, analyzed, clips)
    assert snr >= 50.0, f"{fe_name}: {snr:.1f} dB"
    c, fe = c_frontends[fe_name], int_frontends[fe_name]
    for name, pcm in clips[::3]:
        assert_frames_equal(c.run(pcm), analyzed(fe, fe_name, name, pcm), name)


def test_golden_vector(c_frontends, int_frontends):
    """Checked-in input and features (tests/golden): the reference and the C
    both still compute them."""
    g = json.loads((Path(__file__).parent / "golden" / "frontend_default.json").read_text())
    pcm, want = np.array(g["pcm"], np.int16), np.array(g["features"])
    np.testing.assert_array_equal(int_frontends["default"].analyze(pcm).features, want)
    np.testing.assert_array_equal(c_frontends["default"].run(pcm).features, want)
