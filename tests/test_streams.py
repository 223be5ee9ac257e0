import numpy as np

from kwsdk.config import AugmentConfig, StreamConfig, feature_preset
from kwsdk.frontend.features import Frontend
from kwsdk.streams import IGNORE, Placed, StreamBuilder, Utterance, eval_stream, mask_spec, word_bounds

CATS = ["yes", "no", "_unknown_", "_silence_"]
SR = 16000


def tone_clip(start, stop, freq=440.0):
    """1 s clip of faint noise with a tone (the 'word') between start and stop seconds."""
    rng = np.random.default_rng(int(freq))
    a = rng.normal(size=SR).astype(np.float32) * 1e-4
    t = np.arange(int(start * SR), int(stop * SR))
    a[t] += 0.3 * np.sin(2 * np.pi * freq * t / SR)
    return a


def builder(**stream):
    utts = []
    for label, f in ((0, 500.0), (1, 900.0), (2, 1500.0), (3, 100.0)):
        a = tone_clip(0.3, 0.7, f) if label != 3 else np.random.default_rng(9).normal(size=SR).astype(np.float32) * 0.01
        on, off = word_bounds(a, SR)
        utts.append(Utterance(a, label, on, off))
    noise = [np.random.default_rng(5).normal(size=SR * 5).astype(np.float32)]
    return StreamBuilder(utts, noise, CATS, feature_preset("default"), StreamConfig(**stream), AugmentConfig())


def test_word_bounds_find_the_word():
    on, off = word_bounds(tone_clip(0.3, 0.7), SR)
    assert abs(on - 0.3 * SR) <= 160 and abs(off - 0.7 * SR) <= 160


def test_targets_align_with_the_word():
    b = builder(target_start=0.5, target_tail=0.1)
    hop = b.feat.hop_size
    y = b.targets([Placed(label=1, onset=16000, offset=24000)], 100)
    assert (y[: 16000 // hop] == 3).all()  # silence before the word
    assert (y[16000 // hop : 20000 // hop] == IGNORE).all()  # not heard enough yet
    assert (y[20000 // hop : (24000 + 1600) // hop + 1] == 1).all()
    assert (y[(24000 + 1600) // hop + 1 :] == 3).all()


def test_sequences_are_deterministic_and_hold_labelled_words():
    b = builder()
    fe = Frontend(b.feat)
    x1, y1 = b.batch(np.random.default_rng(7), 4, fe)
    x2, y2 = b.batch(np.random.default_rng(7), 4, fe)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert x1.shape == (4, 400, 40) and y1.shape == (4, 400)
    assert {0, 1, 2, 3, IGNORE} <= set(np.unique(y1))
    audio, placed = b.sequence(np.random.default_rng(3), SR * 8)
    assert np.abs(audio).max() <= 1.0 and placed
    for p in placed:
        assert 0 <= p.onset < p.offset <= len(audio)


def test_eval_stream_truth_and_length():
    b = builder()
    es = eval_stream(b, Frontend(b.feat), 95.0, seed=1, chunk_seconds=30.0)
    assert es.seconds == 120.0 and len(es.features) == 120 * 50
    assert len(es.truth) > 20
    assert all(t.onset < t.offset for t in es.truth)
    assert sorted(t.onset for t in es.truth) == [t.onset for t in es.truth]


def test_spec_masks():
    x = np.random.default_rng(0).normal(size=(3, 50, 40)).astype(np.float32)
    y = x.copy()
    mask_spec(np.random.default_rng(1), y, AugmentConfig(time_mask_max=10, freq_mask_max=8))
    assert (y != x).any() and ((y == x) | (y == x.mean(axis=(1, 2), keepdims=True))).all()


def test_speed_perturbed_clips_always_fit():
    b = builder()
    b.aug.speed_min, b.aug.speed_max = 0.8, 1.2
    rng = np.random.default_rng(11)
    for _ in range(300):
        audio, placed = b.sequence(rng, SR * 3)
        assert len(audio) == SR * 3 and all(p.offset <= len(audio) for p in placed)
