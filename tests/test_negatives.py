"""Real speech without keywords (kwsdk.negatives): folders of any layout,
split by speaker, joined into a stream on which every detection is a false
accept; `kwsdk eval --stream --negatives` scores it per folder with a DET
curve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kwsdk.config import DataConfig
from kwsdk.data import DataError, speaker_split
from kwsdk.negatives import load_negatives, negative_speaker, negative_stream, speech_rms
from tests.conftest import SAMPLE_DIR, read_pcm16
from tests.helpers import kwsdk

SR = 16000
EVAL = DataConfig(val_percent=30.0, test_percent=30.0)


def _speech(seed: int, seconds: float) -> np.ndarray:
    """Real speech: words of the shipped sample's unknown-word clips, joined."""
    clips = sorted((SAMPLE_DIR / "_unknown_").glob("*.wav"))
    rng = np.random.default_rng(seed)
    out = np.concatenate([read_pcm16(clips[i]) for i in rng.integers(len(clips), size=int(np.ceil(seconds)))])
    return out[: int(seconds * SR)]


def _folder(root: Path, n_speakers: int = 8) -> Path:
    """LibriSpeech's layout (`<speaker>/<chapter>/<speaker>-<chapter>-<n>.flac`),
    files of 1.5-6 s, one bad file, and a noise folder that is not speech."""
    for s in range(n_speakers):
        for u in range(2):
            path = root / f"{100 + s}" / "7" / f"{100 + s}-7-{u}.flac"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, _speech(10 * s + u, 1.5 + 1.5 * u + 0.25 * s), SR)
    (root / "100" / "7" / "100-7-9.flac").write_bytes(b"fLaC but nothing else")
    (root / "_background_noise_").mkdir()
    sf.write(root / "_background_noise_" / "hum.wav", np.zeros(SR, np.int16), SR)
    (root / "README.txt").write_text("not audio")
    return root


def test_speaker_of_every_layout(tmp_path):
    assert negative_speaker(tmp_path, tmp_path / "alexa" / "pv0e5e3987d0_nohash_3.flac") == "pv0e5e3987d0"
    assert negative_speaker(tmp_path, tmp_path / "103" / "1240" / "103-1240-0000.flac") == "103"
    assert negative_speaker(tmp_path, tmp_path / "meeting.ogg") == "meeting"


def test_load_splits_by_speaker_and_reports_bad_files(tmp_path):
    root = _folder(tmp_path / "libri")
    neg = load_negatives([root], EVAL, SR, progress=False)
    assert neg.sources == [str(root)] and len(neg.files) == 16
    assert neg.skipped == [(str(root / "100" / "7" / "100-7-9.flac"), neg.skipped[0][1])]
    assert neg.skipped[0][1].startswith("unreadable")
    for f in neg.files:
        assert f.speaker == f.path.name.split("-")[0]
        assert f.split == speaker_split(f.speaker, 30.0, 30.0, EVAL.split_salt)
    assert {f.split for f in neg.files} == {"train", "val", "test"}  # 8 speakers, 30/30/40
    assert max(len(f.audio) for f in neg.files) == 4.75 * SR  # whole files, however long
    assert len(neg.split("all")) == 16 == sum(len(neg.split(s)) for s in ("train", "val", "test"))
    with pytest.raises(DataError, match="negatives folder not found"):
        load_negatives([tmp_path / "missing"], EVAL, SR, progress=False)
    (tmp_path / "empty").mkdir()
    sf.write(tmp_path / "empty" / "short.wav", np.zeros(800, np.int16), SR)  # 0.05 s: too short
    with pytest.raises(DataError, match="no usable audio files"):
        load_negatives([tmp_path / "empty"], EVAL, SR, progress=False)


def test_stream_plays_every_file_once(tmp_path):
    from kwsdk.evaluate import EVAL_AUGMENT

    a, b = _folder(tmp_path / "a", 3), _folder(tmp_path / "b", 2)
    neg = load_negatives([a, b], EVAL, SR, progress=False)
    files = neg.split("all")
    noise = [np.random.default_rng(0).normal(0, 1, 5 * SR).astype(np.float32)]
    ns = negative_stream(files, neg.sources, noise, SR, EVAL_AUGMENT, seed=3)
    ends = np.r_[ns.starts[1:], len(ns.audio)]
    pieces = ends - ns.starts
    # Each piece is one file plus a gap of 0.3-1.5 s, every file once, from its folder.
    assert sorted(ns.order.tolist()) == list(range(len(files))) and len(files) == 10
    gaps = pieces - np.array([len(files[i].audio) for i in ns.order])
    assert (gaps >= 0.3 * SR).all() and (gaps <= 1.5 * SR).all() and len(set(gaps.tolist())) > 1
    assert [neg.sources[s] for s in ns.sources] == [files[i].source for i in ns.order]
    assert ns.samples_per_source.tolist() == [sum(pieces[ns.sources == 0]), sum(pieces[ns.sources == 1])]
    assert ns.piece_at(ns.starts).tolist() == ns.piece_at(ends - 1).tolist() == list(range(10))
    assert np.abs(ns.audio).max() <= 1.0 and ns.audio.dtype == np.float32
    again = negative_stream(files, neg.sources, noise, SR, EVAL_AUGMENT, seed=3)
    assert np.array_equal(again.audio, ns.audio)
    other = negative_stream(files, neg.sources, noise, SR, EVAL_AUGMENT, seed=4)
    assert not np.array_equal(other.sources, ns.sources) or not np.array_equal(other.starts, ns.starts)
    # Silent noise: the same pieces at the same places, digital silence in the gaps.
    quiet = negative_stream(files, neg.sources, [np.zeros_like(noise[0])], SR, EVAL_AUGMENT, seed=3)
    assert np.array_equal(quiet.starts, ns.starts) and np.array_equal(quiet.order, ns.order)
    assert not quiet.audio[-int(0.3 * SR):].any() and ns.audio[-int(0.3 * SR):].all()


def test_speech_rms_ignores_pauses():
    word = _speech(0, 1.0).astype(np.float32) / 32768
    with_pause = np.r_[word, np.zeros(3 * SR, np.float32), word]
    assert speech_rms(with_pause, SR) == pytest.approx(speech_rms(word, SR), rel=0.05)


def test_false_accepts_are_counted_per_folder_and_keyword():
    """negative_counts: an event belongs to the piece (file and gap) playing
    at its time; rates use each folder's hours."""
    from kwsdk.config import DetectorConfig
    from kwsdk.evaluate import negative_counts
    from kwsdk.negatives import NegativeStream

    cats = ["yes", "no", "_unknown_", "_silence_"]
    fps = 100
    # Three pieces: folder 0 (0-10 s), folder 1 (10-30 s), folder 0 (30-36 s).
    ns = NegativeStream(np.zeros(36 * SR, np.float32), np.array([0, 10 * SR, 30 * SR]),
                        np.array([9 * SR, 19 * SR, 5 * SR]), np.array([0, 1, 2]), np.array([0, 1, 0]), ["a", "b"])
    assert ns.speech_samples_per_source.tolist() == [14 * SR, 19 * SR]
    post = np.zeros((36 * fps, 4))
    post[:, 3] = 1.0
    # A keyword's posterior 1.0 for 0.2 s; the 4-frame mean fires 3 frames in. The one from 9.96 s fires
    # on the frame that ends at 10 s: the last frame of the first piece, which it is counted to.
    for t, k in ((5.0, 0), (9.96, 0), (12.0, 1), (29.5, 0), (31.0, 1)):
        i = round(t * fps)
        post[i : i + 20] = np.eye(4)[k]
    r = negative_counts(post, ns, cats, DetectorConfig(smooth_frames=4, threshold=0.9, refractory_s=1.0), fps, SR)
    assert r["false_accepts"] == 5 and r["hours"] == pytest.approx(36 / 3600)
    a, b = r["sources"]
    assert (a["files"], a["hours"], a["false_accepts"], a["by_keyword"]) == (2, pytest.approx(16 / 3600), 3,
                                                                             {"yes": 2, "no": 1})
    assert (b["files"], b["false_accepts"], b["by_keyword"]) == (1, 2, {"no": 1, "yes": 1})
    assert b["false_accepts_per_hour"] == pytest.approx(2 / (20 / 3600))


def test_eval_stream_with_negatives(tiny_run, tmp_path):
    a, b = _folder(tmp_path / "talk", 6), _folder(tmp_path / "more", 4)
    p = kwsdk("eval", "--run", tiny_run, "--data", SAMPLE_DIR, "--split", "test", "--stream", "--minutes", "1",
              "--negatives", a, "--negatives", b, "--negatives-split", "all", "--threshold", "0.01", "--json",
              "--quiet", "--cache-dir", tmp_path / "cache")
    res = json.loads(p.stdout)
    n = res["negatives"]
    assert n["split"] == "all" and [s["folder"] for s in n["sources"]] == [str(a), str(b)]
    assert [s["files"] for s in n["sources"]] == [12, 8] and len(n["skipped"]) == 2
    assert n["hours"] == pytest.approx(sum(s["hours"] for s in n["sources"]))
    audio_h = sum(sf.info(f).duration for d in (a, b) for f in d.rglob("*-7-[01].flac")) / 3600
    assert audio_h < n["hours"] < audio_h + 20 * 1.5 / 3600  # the files plus their gaps
    assert n["false_accepts"] == sum(s["false_accepts"] for s in n["sources"])
    for s in n["sources"]:
        assert s["false_accepts_per_hour"] == pytest.approx(s["false_accepts"] / s["hours"])
        assert sum(s["by_keyword"].values()) == s["false_accepts"]
    # The curve carries the negatives' rate at every threshold; the calibrated point is on it.
    point = next(c for c in res["curve"] if c["threshold"] == 0.3)
    assert set(point["negatives_by_source"]) == {str(a), str(b)}
    assert n["false_accepts"] > 10  # at 0.01 even an untrained model fires on real speech
    at = res["recall_at_negative_fa_per_hour"]
    assert list(at) == ["0.5", "1", "2", "5"] and at["0.5"] <= at["1"] <= at["2"] <= at["5"]
    assert at["5"] == max((c["recall"] for c in res["curve"] if c["negatives_false_accepts_per_hour"] <= 5),
                          default=0.0)
    assert Path(res["det_png"]).is_file() and Path(res["det_png"]).name == "det_test.png"
    text = kwsdk("eval", "--run", tiny_run, "--data", SAMPLE_DIR, "--stream", "--minutes", "1", "--negatives", a,
                 "--negatives-split", "all", "--quiet", "--cache-dir", tmp_path / "cache").stdout
    assert f"{a}: 12 files" in text and "keyword recall at false accepts per hour on real speech" in text
    bad = kwsdk("eval", "--run", tiny_run, "--data", SAMPLE_DIR, "--stream", "--negatives", tmp_path / "nope",
                "--quiet", check=False)
    assert bad.returncode == 2 and "negatives folder not found" in bad.stderr
    for args, why in ((["--negatives", a], "--negatives goes with --stream"),
                      (["--stream", "--negatives-split", "all"], "--negatives-split goes with --negatives")):
        bad = kwsdk("eval", "--run", tiny_run, "--data", SAMPLE_DIR, *args, "--quiet", check=False)
        assert bad.returncode == 2 and why in bad.stderr


def test_training_streams_play_negatives_as_unknown_speech():
    """With negatives, stream.p_negative of the slots without a keyword play
    a crop of real speech, `_unknown_` on every frame from its first loud one
    (no frames ignored); the keyword slots stay as many."""
    import dataclasses

    from kwsdk.config import RunConfig
    from kwsdk.data import load_dataset
    from kwsdk.streams import IGNORE, StreamBuilder, noise_segments, prepare

    cfg = RunConfig()
    ds = load_dataset(SAMPLE_DIR, cfg.data, SR, progress=False)
    cats, utts, noise = ds.categories, prepare(ds.split("train"), ds.categories, SR), noise_segments(ds.noise, "train")
    talk = [_speech(s, 6.0).astype(np.float32) / 32768 for s in range(3)]
    stream = dataclasses.replace(cfg.stream, p_negative=1.0, negative_min_s=2.0, negative_max_s=2.0)
    b = StreamBuilder(utts, noise, cats, cfg.features, stream, cfg.augment, talk)
    unknown, hop = cats.index("_unknown_"), cfg.features.hop_size
    n_kw = 0
    for seed in range(4):
        audio, placed = b.sequence(np.random.default_rng(seed), 30 * SR)
        crops = [p for p in placed if p.whole]
        assert all(p.label == unknown for p in crops) and len(crops) >= 3
        assert all(p.label != unknown for p in placed if not p.whole)  # only keywords besides the crops
        n_kw += len(placed) - len(crops)
        # word_bounds trims a 2 s crop (0.9-1.1x speed: at most 2.2 s) to its loud part.
        assert all(0.3 * SR <= p.offset - p.onset <= 2.2 * SR + 1 for p in crops)
        y = b.targets(placed, len(audio) // hop)
        for p in crops:
            assert (y[p.onset // hop : p.offset // hop] == unknown).all()
            assert y[p.onset // hop - 1] != unknown  # nothing labelled before the crop's speech
        assert (y == IGNORE).any() == any(not p.whole for p in placed)  # only keywords' onsets are ignored
    # Keyword slots keep their share (p_keyword 0.5): about as many keywords as crops.
    total = sum(len(b.sequence(np.random.default_rng(s), 30 * SR)[1]) for s in range(4))
    assert 0.35 < n_kw / total < 0.65


def test_training_uses_the_training_side_only(tmp_path):
    """The streams play the train split; calibration hears train and val; test is never used."""
    from kwsdk.config import RunConfig
    from kwsdk.train import calibration_negatives, prepare_data

    talk = _folder(tmp_path / "talk", 10)
    cfg = RunConfig()
    cfg.data = DataConfig(val_percent=30.0, test_percent=30.0, negatives_dirs=[str(talk)])
    prep = prepare_data(SAMPLE_DIR, cfg, None, progress=False)
    neg = prep.negatives
    train = neg.split("train")
    assert len(prep.builder.negatives) == len(train) > 0
    assert all(a is f.pcm for a, f in zip(prep.builder.negatives, train))
    side = calibration_negatives(neg)
    assert {f.split for f in side} == {"train", "val"} and len(side) == len(neg.files) - len(neg.split("test"))


@pytest.mark.slow
def test_train_with_negatives(tmp_path):
    """--negatives: recorded in the run's config, its training split in the
    streams, its training-side splits in the threshold's calibration."""
    from tests.helpers import tiny_config

    talk = _folder(tmp_path / "talk", 10)
    run = tmp_path / "run"
    p = kwsdk("train", "--data", SAMPLE_DIR, "--out", run, "--config", tiny_config(tmp_path), "--negatives", talk,
              "--cache-dir", tmp_path / "cache")
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["data"]["negatives_dirs"] == [str(talk.resolve())] and cfg["stream"]["p_negative"] == 0.5
    assert "h of training-side real speech" in p.stderr + p.stdout
    assert json.loads((run / "detector.json").read_text())["threshold"] > 0
    bad = kwsdk("train", "--data", SAMPLE_DIR, "--out", tmp_path / "r2", "--config", tiny_config(tmp_path),
                "--negatives", tmp_path / "nowhere", "--quiet", check=False)
    assert bad.returncode == 2 and "negatives folder not found" in bad.stderr


def test_eval_negatives_split_without_files(tiny_run, tmp_path):
    """A folder with no speaker in the scored split: alone, a one-line error
    before any stream is built; beside another, a folder without a rate."""
    from tests.helpers import TINY

    pct = (TINY["data"]["val_percent"], TINY["data"]["test_percent"])
    two = _folder(tmp_path / "two", 2)  # speakers 100 and 101
    assert {speaker_split(s, *pct, EVAL.split_salt) for s in ("100", "101")} == {"train"}
    some = _folder(tmp_path / "some", 8)
    args = ["eval", "--run", tiny_run, "--data", SAMPLE_DIR, "--stream", "--minutes", "1", "--quiet",
            "--cache-dir", tmp_path / "cache"]
    bad = kwsdk(*args, "--negatives", two, check=False)
    assert bad.returncode == 2 and "have no file in the 'test' split" in bad.stderr
    assert "--negatives-split all" in bad.stderr and "Traceback" not in bad.stderr
    res = json.loads(kwsdk(*args, "--negatives", two, "--negatives", some, "--json").stdout)
    none, other = res["negatives"]["sources"]
    assert (none["files"], none["hours"], none["false_accepts_per_hour"]) == (0, 0.0, None)
    assert other["files"] > 0 and other["false_accepts_per_hour"] is not None
    assert all(c["negatives_by_source"][str(two)] is None for c in res["curve"])
    assert "no file in this split" in kwsdk(*args, "--negatives", two, "--negatives", some).stdout
