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


def test_long_phrases_are_placed_whole_and_labelled_from_their_middle():
    """A wake phrase recording of 3 s (the phrase 0.8-2.4 s) is placed whole,
    its placement is the phrase's, and its label covers the phrase's second
    half and the tail, as for a 1 s clip."""
    a = np.random.default_rng(1).normal(size=3 * SR).astype(np.float32) * 1e-4
    t = np.arange(int(0.8 * SR), int(2.4 * SR))
    a[t] += 0.3 * np.sin(2 * np.pi * 700 * t / SR)
    on, off = word_bounds(a, SR)
    assert abs(on - 0.8 * SR) <= 160 and abs(off - 2.4 * SR) <= 160
    b = StreamBuilder([Utterance(a, 0, on, off)], [], CATS, feature_preset("default"),
                      StreamConfig(p_keyword=1.0, gap_min=0.2, gap_max=0.5),
                      AugmentConfig(speed_min=1.0, speed_max=1.0))
    audio, placed = b.sequence(np.random.default_rng(2), 8 * SR)
    assert len(placed) == 2  # two 3 s recordings and their gaps fit in 8 s, a third does not
    hop = b.feat.hop_size
    y = b.targets(placed, len(audio) // hop)
    for p in placed:
        assert p.offset - p.onset == off - on
        # The word is where the placement says: the loudest part of the stream.
        assert np.abs(audio[p.onset : p.offset]).mean() > 10 * np.abs(audio[p.offset + 1600 : p.offset + 3200]).mean()
        mid, end = p.onset + (p.offset - p.onset) // 2, p.offset + int(0.1 * SR)
        assert (y[mid // hop + 1 : end // hop] == 0).all()
        assert (y[p.onset // hop + 1 : mid // hop - 1] == IGNORE).all()
    assert (y == 0).sum() >= 2 * int(0.9 * SR) // hop
