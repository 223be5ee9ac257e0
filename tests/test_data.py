"""kwsdk.audio and kwsdk.data on a corpus of good and deliberately bad files."""

from __future__ import annotations

import hashlib
import struct
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import kwsdk.audiocache
import kwsdk.data
from kwsdk.audio import AudioError, audio_blocks, read_audio, write_wav
from kwsdk.config import DataConfig
from kwsdk.data import DataError, load_dataset, speaker_id, which_set
from kwsdk.streams import NOISE_TRAIN_FRACTION

SR = 16000
DEV_DATA = Path(__file__).parents[1].parent / "shared/data/speech_commands_dev"


# ---------------------------------------------------------------- helpers

def riff(payload: bytes, bits: int, channels: int = 1, sr: int = SR, fmt_tag: int = 1) -> bytes:
    """A canonical 44-byte-header WAV, built by hand so the bytes are exactly known."""
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, sr, sr * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pcm24(values) -> bytes:
    return np.asarray(values, "<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()


def sine(freq: float, sr: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(int(sr * seconds)) / sr)


def int16(x: np.ndarray) -> np.ndarray:
    return np.round(x * 32767).astype(np.int16)


def peak_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(len(x), 1 / sr)[np.argmax(spec)])


def snapshot(root: Path) -> dict[str, str]:
    """sha1 of every file under root (hidden ones too)."""
    return {p.relative_to(root).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def put(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def put_sf(path: Path, x: np.ndarray, sr: int = SR, **kw) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, sr, **kw)


def cfg(**kw) -> DataConfig:
    return DataConfig(**{"keywords": ["yes", "no"], **kw})


def load(root: Path, **kw) -> kwsdk.data.Dataset:
    cache_dir = kw.pop("cache_dir", None)
    return load_dataset(root, cfg(**kw), SR, progress=False, cache_dir=cache_dir)


GOOD16 = int16(sine(440, SR))
U8 = bytes([255, 0]) + bytes([128]) * (SR - 2)
I24 = [0x7FFFFF, -0x800000] + [0] * (SR - 2)
I32 = [2**31 - 1, -(2**31), 2**30] + [0] * (SR - 3)
FLOATS = np.r_[[0.25, -0.5, 1.5], np.zeros(SR - 3)]  # 1.5: over full scale, read back clipped

BAD = {  # relative path -> expected reason prefix
    "no/b1_nohash_0.wav": "truncated (header says 32000 data bytes, file has 1156)",
    "no/b2_nohash_0.wav": "not a wav file",
    "no/b3_nohash_0.wav": "empty",
    "no/b4_nohash_0.wav": "too short (0.05 s < 0.1 s)",
    "no/b5_nohash_0.txt": "not an audio file (.wav, .flac, .ogg)",
    "no/b6_nohash_0.wav": "empty",
    "no/b7_nohash_0.flac": "unreadable: ",  # cut after 1,500 bytes
    "no/b8_nohash_0.flac": "not a flac file",  # a wav named .flac
    "no/b9_nohash_0.ogg": "truncated (the OGG stream does not end",  # cut inside its headers
    "no/c0_nohash_0.ogg": "truncated (the OGG stream does not end",  # cut at 70%, between audio pages
}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """2 keywords, one other word, _unknown_, noise, every kind of good and bad file."""
    root = tmp_path / "sc"
    y = root / "yes"
    put_sf(y / "a1_nohash_0.wav", GOOD16)
    put(y / "a2_nohash_0.wav", riff(U8, 8))
    put(y / "a3_nohash_0.wav", riff(pcm24(I24), 24))
    put(y / "a4_nohash_0.wav", riff(np.asarray(I32, "<i4").tobytes(), 32))
    put_sf(y / "a5_nohash_0.wav", FLOATS, subtype="FLOAT")
    put_sf(y / "a6_nohash_0.wav", FLOATS, subtype="DOUBLE")
    put_sf(y / "a7_nohash_0.wav", FLOATS, format="WAVEX", subtype="FLOAT")
    put_sf(y / "a8_nohash_0.wav", np.stack([np.full(SR, 16384), np.full(SR, -8192)], 1).astype(np.int16))
    put_sf(y / "a9_nohash_0.wav", int16(sine(1000, 44100)), 44100)
    put_sf(y / "a0_nohash_0.wav", int16(sine(1000, 8000)), 8000)
    put_sf(y / "f1_nohash_0.flac", GOOD16)
    put_sf(y / "o1_nohash_0.ogg", sine(440, SR), subtype="VORBIS")
    put_sf(y / "l1_nohash_0.flac", np.tile(GOOD16, 4))  # 4 s: clips of any length are read whole
    n = root / "no"
    put_sf(n / "n1_nohash_0.wav", GOOD16)
    put(n / "b1_nohash_0.wav", riff(GOOD16.tobytes(), 16)[:1200])
    put(n / "b2_nohash_0.wav", b"ID3\x03\x00 this is an mp3, honest" * 100)
    put(n / "b3_nohash_0.wav", riff(b"", 16))
    put_sf(n / "b4_nohash_0.wav", GOOD16[:800])
    put(n / "b5_nohash_0.txt", b"notes")
    put(n / "b6_nohash_0.wav", b"")
    put_sf(n / "b7_nohash_0.flac", GOOD16)
    put(n / "b7_nohash_0.flac", (n / "b7_nohash_0.flac").read_bytes()[:1500])
    put(n / "b8_nohash_0.flac", (n / "n1_nohash_0.wav").read_bytes())
    put_sf(n / "b9_nohash_0.ogg", sine(440, SR), subtype="VORBIS")
    put(n / "b9_nohash_0.ogg", (n / "b9_nohash_0.ogg").read_bytes()[:2000])
    put_sf(n / "c0_nohash_0.ogg", np.random.default_rng(1).uniform(-0.5, 0.5, 6 * SR), subtype="VORBIS")
    put(n / "c0_nohash_0.ogg", (n / "c0_nohash_0.ogg").read_bytes()[: int(0.7 * (n / "c0_nohash_0.ogg").stat().st_size)])
    put_sf(root / "bed" / "c1_nohash_0.wav", GOOD16)
    put_sf(root / "_unknown_" / "cat_c2_nohash_0.wav", GOOD16)
    put_sf(root / "_background_noise_" / "white.wav",
           np.random.default_rng(0).uniform(-0.5, 0.5, 5 * SR).astype(np.float32), subtype="FLOAT")
    put(root / "_background_noise_" / "README.md", b"about the noise")
    put(root / "README.md", b"# dataset")
    put(root / "LICENSE", b"CC BY 4.0")
    return root


def simple(root: Path, words: dict[str, int]) -> Path:
    """n good clips per word folder, distinct speakers, plus one noise file."""
    for w, n in words.items():
        for i in range(n):
            put_sf(root / w / f"{w}{i:03d}_nohash_0.wav", GOOD16)
    put_sf(root / "_background_noise_" / "n.wav", GOOD16)
    return root


def by_rel(ds) -> dict[str, kwsdk.data.Clip]:
    return {c.path.relative_to(ds.root).as_posix(): c for c in ds.clips}


# ---------------------------------------------------------------- the bad-input corpus

def test_corpus_every_case(corpus: Path):
    before = snapshot(corpus)
    ds = load(corpus)
    assert snapshot(corpus) == before  # byte-for-byte unchanged, nothing added

    skipped = dict(ds.skipped)
    assert set(skipped) == set(BAD)  # README/LICENSE at top and in the noise folder: silent
    for rel, reason in BAD.items():
        assert skipped[rel].startswith(reason), (rel, skipped[rel])
    assert ds.report()["n_skipped"] == len(BAD)

    clips = by_rel(ds)
    assert len(clips) == 16  # the run went on past every bad file
    a = {rel.split("/")[1][:2]: c.audio for rel, c in clips.items() if rel.startswith("yes/")}
    assert all(x.dtype == np.float32 and x.ndim == 1 for x in a.values())
    np.testing.assert_array_equal(a["a1"], GOOD16 / np.float32(32768))
    np.testing.assert_array_equal(a["a2"][:3], [127 / 128, -1.0, 0.0])  # unsigned 8-bit: 128 is zero
    # Kept as int16: 24-bit, 32-bit and float sources are rounded to 16 bits, full scale to 32767.
    np.testing.assert_array_equal(a["a3"][:2], [32767 / 32768, -1.0])
    np.testing.assert_array_equal(a["a4"][:3], [32767 / 32768, -1.0, 0.5])
    for k in ("a5", "a6", "a7"):
        np.testing.assert_array_equal(a[k][:4], [0.25, -0.5, 32767 / 32768, 0.0])
    np.testing.assert_array_equal(a["a8"], np.full(SR, 0.125, np.float32))  # mean of 0.5 and -0.25
    np.testing.assert_array_equal(a["f1"], GOOD16 / np.float32(32768))  # FLAC: lossless
    np.testing.assert_array_equal(a["l1"], np.tile(GOOD16, 4) / np.float32(32768))
    assert len(a["o1"]) == SR and peak_hz(a["o1"], SR) == 440.0  # OGG Vorbis: lossy
    for k in ("a9", "a0"):  # 44.1 kHz and 8 kHz, resampled
        assert len(a[k]) == SR
        assert peak_hz(a[k], SR) == 1000.0
        assert np.sqrt(np.mean(a[k][1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)

    assert clips["bed/c1_nohash_0.wav"].label == "_unknown_" and clips["bed/c1_nohash_0.wav"].word == "bed"
    cat = clips["_unknown_/cat_c2_nohash_0.wav"]
    assert (cat.label, cat.word, cat.speaker) == ("_unknown_", "cat", "c2")
    assert ds.categories == ["yes", "no", "_unknown_", "_silence_"]
    assert ds.noise_names == ["white.wav"] and len(ds.noise[0]) == 5 * SR
    assert sum(sum(v.values()) for v in ds.counts().values()) == len(ds.clips)


def test_audio_blocks_stream_what_read_audio_reads(corpus: Path):
    """The daemon's block-by-block decoding gives read_audio's samples for
    every good file (any format, width, channels, rate), and its errors name
    the file: before the first block, or where a file turns out cut short."""
    for path in sorted(corpus.glob("yes/*")):
        whole = read_audio(path)
        blocks = list(audio_blocks(path, SR, 1000))
        assert all(len(b) == 1000 for b in blocks[:-1]), path
        np.testing.assert_array_equal(np.concatenate(blocks), whole, err_msg=str(path))
    for rel in ("no/b1_nohash_0.wav", "no/b2_nohash_0.wav", "no/b3_nohash_0.wav", "no/b7_nohash_0.flac",
                "no/b8_nohash_0.flac", "no/b9_nohash_0.ogg", "no/c0_nohash_0.ogg"):
        with pytest.raises(AudioError, match=f"^{corpus / rel}: {BAD[rel][:8]}"):
            list(audio_blocks(corpus / rel, SR, 1000))
    with pytest.raises(AudioError, match="unreadable"):
        audio_blocks(corpus / "missing.wav", SR, 1000)


def test_wavex_fixture_is_extensible(corpus: Path):
    assert (corpus / "yes/a7_nohash_0.wav").read_bytes()[20:22] == b"\xfe\xff"


def test_read_audio_errors_and_write_roundtrip(tmp_path: Path):
    with pytest.raises(AudioError, match="^unreadable: "):
        read_audio(tmp_path / "missing.wav")
    put(tmp_path / "x.wav", riff(b"\x00" * 100, 16, fmt_tag=0x1234))
    with pytest.raises(AudioError, match="^unreadable: "):
        read_audio(tmp_path / "x.wav")
    write_wav(tmp_path / "short.wav", np.zeros(100))
    with pytest.raises(AudioError, match="too short"):
        read_audio(tmp_path / "short.wav")
    assert len(read_audio(tmp_path / "short.wav", min_seconds=0)) == 100
    x = np.r_[sine(440, SR), [1.5, -1.5]]
    write_wav(tmp_path / "out.wav", x)
    info = sf.info(tmp_path / "out.wav")
    assert (info.subtype, info.samplerate, info.channels) == ("PCM_16", SR, 1)
    y = read_audio(tmp_path / "out.wav")
    np.testing.assert_allclose(y, np.clip(x, -1, 1), atol=1 / 32767)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav", "short.wav", "x.wav"]  # no temp files


# ---------------------------------------------------------------- splits

def test_speaker_id():
    assert speaker_id("bed_0c540988_nohash_0.wav") == "0c540988"
    assert speaker_id("03401e93_nohash_0.wav") == "03401e93"
    assert speaker_id("two_words_ab12_nohash_3.wav") == "ab12"
    assert speaker_id("_silence_/1024.wav") == "1024"


def test_which_set_deterministic_and_speaker_disjoint():
    speakers = [hashlib.md5(str(i).encode()).hexdigest()[:8] for i in range(3000)]
    splits = [which_set(f"{s}_nohash_0.wav", 10, 10) for s in speakers]
    assert splits == [which_set(f"{s}_nohash_0.wav", 10, 10) for s in speakers]
    for s, split in zip(speakers[:200], splits):
        assert which_set(f"{s}_nohash_4.wav", 10, 10) == split
        assert which_set(f"bed_{s}_nohash_0.wav", 10, 10) == split  # an _unknown_ file of that speaker
    for name, expected in (("val", 0.10), ("test", 0.10), ("train", 0.80)):
        assert splits.count(name) / len(splits) == pytest.approx(expected, abs=0.03)
    assert {which_set(f"{s}_nohash_0.wav", 0, 0) for s in speakers} == {"train"}


def test_load_is_speaker_disjoint(tmp_path: Path):
    root = simple(tmp_path, {"yes": 40, "no": 40, "bed": 40})
    for i in range(40):  # the same speakers again, as an _unknown_ word
        put_sf(root / "_unknown_" / f"cat_yes{i:03d}_nohash_1.wav", GOOD16)
    ds = load(root, val_percent=30, test_percent=30)
    seen = defaultdict(set)
    for c in ds.clips:
        seen[c.speaker].add(c.split)
    assert all(len(s) == 1 for s in seen.values())
    assert {c.split for c in ds.clips} == {"train", "val", "test"}


def test_list_files_define_val_and_test(corpus: Path):
    put(corpus / "validation_list.txt", b"yes/a1_nohash_0.wav\nyes/a2_nohash_0.wav\n")
    put(corpus / "testing_list.txt", b"no/n1_nohash_0.wav\n\n")
    before = snapshot(corpus)
    ds = load(corpus, val_percent=0, test_percent=100)  # the lists win over hashing
    assert snapshot(corpus) == before
    splits = {rel: c.split for rel, c in by_rel(ds).items()}
    assert [r for r, s in splits.items() if s == "val"] == ["yes/a1_nohash_0.wav", "yes/a2_nohash_0.wav"]
    assert [r for r, s in splits.items() if s == "test"] == ["no/n1_nohash_0.wav"]
    assert sum(s == "train" for s in splits.values()) == len(splits) - 3


# ---------------------------------------------------------------- options

def test_bad_list(corpus: Path, tmp_path: Path):
    bad = tmp_path / "bad.txt"
    bad.write_text("# clips a listener flagged\nyes/a1_nohash_0.wav  # clipped\n\n./bed/c1_nohash_0.wav\n")
    before = bad.read_bytes()
    ds = load(corpus, bad_list=str(bad))
    assert bad.read_bytes() == before
    skipped = dict(ds.skipped)
    assert skipped["yes/a1_nohash_0.wav"] == skipped["bed/c1_nohash_0.wav"] == "in bad list"
    assert "yes/a1_nohash_0.wav" not in by_rel(ds) and "bed/c1_nohash_0.wav" not in by_rel(ds)
    with pytest.raises(DataError, match="missing.txt"):
        load(corpus, bad_list=str(tmp_path / "missing.txt"))


def test_max_per_class(tmp_path: Path):
    root = simple(tmp_path, {"yes": 6, "no": 6, "bed": 3, "cat": 3})
    first = load(root, max_per_class=2)
    assert {k: sum(v[k] for v in first.counts().values()) for k in first.categories} == {
        "yes": 2, "no": 2, "_unknown_": 2, "_silence_": 0}
    assert [c.path for c in load(root, max_per_class=2).clips] == [c.path for c in first.clips]


def test_silence_from_noise(tmp_path: Path):
    root = simple(tmp_path, {"yes": 2, "no": 2, "bed": 2})
    noise = np.round(np.random.default_rng(1).uniform(-0.5, 0.5, 5 * SR) * 32768).astype(np.float32) / 32768
    put_sf(root / "_background_noise_" / "n.wav", noise, subtype="FLOAT")  # 16-bit values: kept exactly
    ds = load(root, silence_clips_from_noise=3)
    sil = [c for c in ds.clips if c.label == "_silence_"]
    assert [c.split for c in sil] == ["train"] * 3 + ["val"] * 3 + ["test"] * 3
    cut = int(len(noise) * NOISE_TRAIN_FRACTION)
    for c in sil:
        name, offset = c.path.name.split("#")
        offset = int(offset)
        assert (name, c.speaker, len(c.audio)) == ("n.wav", "noise", SR)
        assert (offset + SR <= cut) if c.split == "train" else (offset >= cut)  # no train noise in eval
        gain = c.audio[0] / noise[offset]
        assert 10 ** (-30 / 20) - 1e-6 <= gain <= 1 + 1e-6
        np.testing.assert_allclose(c.audio, noise[offset : offset + SR] * gain, rtol=1e-5)
    again = [c for c in load(root, silence_clips_from_noise=3).clips if c.label == "_silence_"]
    assert all(np.array_equal(a.audio, b.audio) and a.path == b.path for a, b in zip(sil, again))


def test_no_noise_is_a_warning_but_no_silence_at_all_is_an_error(tmp_path: Path):
    root = simple(tmp_path, {"yes": 1, "no": 1, "bed": 1})
    (root / "_background_noise_" / "n.wav").unlink()
    with pytest.raises(DataError, match="'_silence_'"):
        load(root)
    put_sf(root / "_silence_" / "1024.wav", GOOD16 * 0)
    ds = load(root)
    assert ds.noise == [] and any("noise" in w for w in ds.report()["warnings"])
    assert ds.clips[0].speaker == "1024" and ds.clips[0].label == "_silence_"


# ---------------------------------------------------------------- fatal errors

def test_missing_keyword_folder(corpus: Path):
    with pytest.raises(DataError, match=r"sc/up: keyword folder not found"):
        load_dataset(corpus, DataConfig(keywords=["yes", "up"]), progress=False)


@pytest.mark.parametrize("kw", ["_silence_", "_background_noise_", "_unknown_", "_other"])
def test_reserved_keyword(corpus: Path, kw: str):
    with pytest.raises(DataError, match="reserved"):
        load_dataset(corpus, DataConfig(keywords=["yes", kw]), progress=False)


def test_class_with_only_bad_files(corpus: Path):
    put(corpus / "up" / "u1_nohash_0.wav", b"RIFF")
    with pytest.raises(DataError, match=r"category 'up' \(looked in .*sc/up\).*up/u1_nohash_0.wav: not a wav"):
        load_dataset(corpus, DataConfig(keywords=["yes", "no", "up"]), progress=False)


def test_no_unknown_words(tmp_path: Path):
    root = simple(tmp_path, {"yes": 1, "no": 1})
    with pytest.raises(DataError, match="'_unknown_'"):
        load(root)


# ---------------------------------------------------------------- cache

def test_cache_hit_is_identical(corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    cache = tmp_path / "cache"
    first = load(corpus, cache_dir=cache, silence_clips_from_noise=2)

    def must_not_decode(*a, **k):
        raise AssertionError("cache miss")

    with monkeypatch.context() as m:
        m.setattr(kwsdk.audiocache, "decode_audio", must_not_decode)
        hit = load(corpus, cache_dir=cache, silence_clips_from_noise=2)
    assert_same(first, hit)
    assert_same(first, load(corpus, silence_clips_from_noise=2))  # and equals an uncached load

    put_sf(corpus / "yes" / "a1_nohash_0.wav", GOOD16 // 2)  # new content, new key
    changed = load(corpus, cache_dir=cache)
    assert by_rel(changed)["yes/a1_nohash_0.wav"].audio[100] == GOOD16[100] // 2 / 32768


def assert_same(a, b):
    assert [(c.path, c.label, c.split) for c in a.clips] == [(c.path, c.label, c.split) for c in b.clips]
    assert all(np.array_equal(x.audio, y.audio) and x.audio.dtype == y.audio.dtype for x, y in zip(a.clips, b.clips))
    assert a.skipped == b.skipped and a.noise_names == b.noise_names
    assert all(np.array_equal(x, y) for x, y in zip(a.noise, b.noise))


# ---------------------------------------------------------------- real data

@pytest.mark.extended
def test_speech_commands_dev():
    if not DEV_DATA.is_dir():
        pytest.skip(f"{DEV_DATA} not present")
    ds = load_dataset(DEV_DATA, DataConfig(), progress=False)
    totals = {k: sum(v[k] for v in ds.counts().values()) for k in ds.categories}
    for kw in DataConfig().keywords:
        assert totals[kw] == len(list((DEV_DATA / kw).glob("*.wav"))) and 224 <= totals[kw] <= 247
    assert totals["_unknown_"] == 238 and totals["_silence_"] == 197
    assert ds.skipped == [] and len(ds.noise) == 6
    assert all(len(c.audio) == SR for c in ds.clips)
    seen = defaultdict(set)
    for c in ds.clips:
        seen[c.speaker].add(c.split)
    assert all(len(s) == 1 for s in seen.values())


# ---------------------------------------------------------------- training-only extra folders

def test_extra_folder_is_training_only(tmp_path: Path):
    """An extra folder (train --extra-data): every clip trains, whatever its
    speaker hash or split lists say; its noise is not read; it need not hold
    every keyword or category; bad files are skipped with a reason."""
    extra = simple(tmp_path / "extra", {"bird": 40, "yes": 2})
    put(extra / "bird" / "bad_nohash_0.wav", b"RIFF")
    put(extra / "testing_list.txt", b"bird/bird000_nohash_0.wav\n")
    ds = load_dataset(extra, cfg(), SR, progress=False, extra=True)
    assert {c.split for c in ds.clips} == {"train"} and len(ds.clips) == 42
    assert ds.counts()["train"] == {"yes": 2, "no": 0, "_unknown_": 40, "_silence_": 0}
    assert ds.noise == [] and ds.skipped == [("bird/bad_nohash_0.wav", ds.skipped[0][1])]
    with pytest.raises(DataError, match="keyword folder not found"):
        load(extra)  # as a main dataset it lacks "no"
    (tmp_path / "empty" / "_background_noise_").mkdir(parents=True)
    with pytest.raises(DataError, match="no usable clips in this extra training folder"):
        load_dataset(tmp_path / "empty", cfg(), SR, progress=False, extra=True)


def test_extra_folder_joins_the_training_streams(tmp_path: Path):
    from kwsdk.config import RunConfig
    from kwsdk.train import prepare_data

    main = simple(tmp_path / "main", {"yes": 20, "no": 20, "bed": 20})
    extra = simple(tmp_path / "extra", {"bird": 7})
    run = RunConfig()
    run.data = cfg()
    base = prepare_data(main, run, None, False)
    run.data.extra_dirs = [str(extra)]
    prep = prepare_data(main, run, None, False)
    assert len(prep.builder.unknowns) == len(base.builder.unknowns) + 7
    for split in ("val", "test"):  # evaluation data unchanged
        assert [c.path for c in prep.dataset.split(split)] == [c.path for c in base.dataset.split(split)]
    assert {c: n for c, n in prep.extras[0].counts()["train"].items() if n} == {"_unknown_": 7}


def test_clip_length_fits_the_longest_clip_and_a_tail():
    from kwsdk.data import Clip, clip_length

    def clips(*seconds):
        return [Clip(Path("x.wav"), "yes", "yes", "s", "test", np.zeros(int(s * 16000), np.float32)) for s in seconds]

    # Speech Commands (1 s clips, shorter v0.01 ones): 1.3 s, as always.
    assert clip_length(clips(1.0, 0.8), 16000) == 20800
    assert clip_length(clips(0.5), 16000) == 20800
    # Wake phrases run longer: the longest clip plus the tail.
    assert clip_length(clips(1.0, 2.5, 1.7), 16000) == 40000 + 4800
