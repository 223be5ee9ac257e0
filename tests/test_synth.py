"""kwsdk.synth: espeak-ng utterances in Speech Commands layout."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import soundfile as sf

from kwsdk.synth import SynthError, slugify, synthesize

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

WORDS = ["hey kiwi", "lights on"]
COUNT = 6
NAME = re.compile(r"^([0-9a-f]{8})_nohash_(\d+)\.wav$")


def _clips(root):
    return sorted(p for p in root.rglob("*.wav") if p.parent.name != "_background_noise_")


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "clean"
    return out, synthesize(WORDS, out, count_per_word=COUNT, seed=3, progress=False)


def test_slugify():
    assert slugify("hey kiwi") == "hey_kiwi"
    assert slugify("  Lights-ON! ") == "lights_on"


def test_layout_and_audio(clean):
    out, rep = clean
    assert sorted(p.name for p in out.iterdir()) == ["hey_kiwi", "lights_on"]
    assert rep["clips_per_word"] == {"hey_kiwi": COUNT, "lights_on": COUNT}
    assert rep["words"] == {"hey_kiwi": "hey kiwi", "lights_on": "lights on"}
    speakers = set()
    for folder in out.iterdir():
        files = list(folder.iterdir())
        assert len(files) == COUNT
        for f in files:
            m = NAME.match(f.name)
            assert m, f.name
            speakers.add(m.group(1))
            info = sf.info(f)
            assert (info.samplerate, info.channels, info.subtype, info.frames) == (16000, 1, "PCM_16", 16000)
            x, _ = sf.read(f, dtype="float32")
            assert np.sqrt(np.mean(x ** 2)) > 1e-3, f"{f} is silent"
            assert np.abs(x).max() <= 10 ** (-1 / 20) + 1e-3  # peak at most -1 dBFS
    assert len(speakers) >= 4
    assert speakers <= set(rep["voices"])


def test_deterministic(clean, tmp_path):
    out, _ = clean
    again = tmp_path / "again"
    synthesize(WORDS, again, count_per_word=COUNT, seed=3, progress=False)
    a, b = _clips(out), _clips(again)
    assert [p.relative_to(out) for p in a] == [p.relative_to(again) for p in b]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b))


def test_noise(clean, tmp_path):
    out, _ = clean
    noise_dir = tmp_path / "noise"
    noise_dir.mkdir()
    src = noise_dir / "hum.wav"
    rng = np.random.default_rng(0)
    sf.write(src, 0.1 * rng.standard_normal(3 * 16000).astype(np.float32), 16000, subtype="PCM_16")
    before = src.read_bytes()
    noisy = tmp_path / "noisy"
    rep = synthesize(WORDS, noisy, count_per_word=COUNT, seed=3, noise_dir=noise_dir,
                     snr_db=(5.0, 10.0), progress=False)
    assert rep["noise_files"] == ["hum.wav"]
    assert src.read_bytes() == before
    assert (noisy / "_background_noise_" / "hum.wav").read_bytes() == before
    # Same seed, same names; noise fills the silence around every word.
    assert [p.relative_to(noisy) for p in _clips(noisy)] == [p.relative_to(out) for p in _clips(out)]
    for f in _clips(noisy):
        x, _ = sf.read(f, dtype="int16")
        assert np.mean(x == 0) < 0.05, f


def test_shell_metacharacters_are_just_text(tmp_path):
    words = [f"a; touch {tmp_path}/pwned", f"$(touch {tmp_path}/pwned2)", "--version"]
    out = tmp_path / "out"
    rep = synthesize(words, out, count_per_word=1, progress=False)
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()
    assert len(_clips(out)) == 3 and "version" in rep["clips_per_word"]


def test_refuses_non_empty_out_dir(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(SynthError, match="not an empty folder"):
        synthesize(WORDS, tmp_path, count_per_word=1, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("words", [["!!!"], ["Hey Kiwi", "hey-kiwi"], []])
def test_bad_words(tmp_path, words):
    with pytest.raises(ValueError):
        synthesize(words, tmp_path / "out", count_per_word=1, progress=False)


def test_missing_espeak(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SynthError, match="apt-get install espeak-ng"):
        synthesize(WORDS, tmp_path / "out", count_per_word=1, progress=False)
