"""Room and microphone variety (kwsdk.augment): each augmentation keeps an
utterance's length and level, really changes its sound, and is
deterministic for a given generator without touching the global ones."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from kwsdk.augment import Augmenter, room_impulses
from kwsdk.config import AugmentConfig
from tests.conftest import SAMPLE_DIR, read_pcm16

SR = 16000


def _word() -> np.ndarray:
    return read_pcm16(sorted((SAMPLE_DIR / "yes").glob("*.wav"))[0]).astype(np.float32) / 32768


def test_rooms_are_rooms():
    rooms = room_impulses(8, SR, seed=0)
    assert len(rooms) == 8 and all(abs(float(np.sum(h.astype(np.float64) ** 2)) - 1) < 1e-4 for h in rooms)
    assert all(h.dtype == np.float32 for h in rooms)
    # An RT60 of 0.2-0.8 s: a tail of a few thousand samples, energy decaying after the direct path.
    assert all(2000 < len(h) < 20000 for h in rooms) and len({len(h) for h in rooms}) > 1
    for h in rooms:
        peak = int(np.argmax(np.abs(h)))
        assert np.sum(h[peak + 4000 :].astype(np.float64) ** 2) < 0.1 * np.sum(h[peak : peak + 4000].astype(np.float64) ** 2)
    assert all(np.array_equal(a, b) for a, b in zip(rooms, room_impulses(8, SR, seed=0)))


@pytest.mark.parametrize("which", ["reverb_prob", "eq_prob"])
def test_each_augmentation_keeps_length_and_level(which):
    aug = Augmenter(dataclasses.replace(AugmentConfig(), **{which: 1.0}), SR, seed=0)
    assert aug.active and not Augmenter(AugmentConfig(), SR, seed=0).active
    a = _word()
    before = random.getstate(), np.random.get_state()[1].copy()
    y = aug(np.random.default_rng(1), a)
    assert random.getstate() == before[0] and np.array_equal(np.random.get_state()[1], before[1])
    assert len(y) == len(a) and y.dtype == np.float32
    assert np.sqrt(np.mean(y.astype(np.float64) ** 2)) == pytest.approx(np.sqrt(np.mean(a.astype(np.float64) ** 2)),
                                                                       rel=1e-4)
    assert np.array_equal(y, aug(np.random.default_rng(1), a))  # deterministic
    assert not np.array_equal(y, aug(np.random.default_rng(2), a))
    spec = lambda x: np.abs(np.fft.rfft(x, 16384))  # noqa: E731
    change = np.abs(np.log(spec(y) + 1e-6) - np.log(spec(a) + 1e-6))[500:6000].mean()
    assert change > 0.3, change  # the sound really changed (about 0.7 for both)


def test_reverb_smears_a_click_into_the_room():
    aug = Augmenter(dataclasses.replace(AugmentConfig(), reverb_prob=1.0), SR, seed=0)
    click = np.zeros(SR, np.float32)
    click[100] = 1.0
    y = aug(np.random.default_rng(0), click)
    energy = y.astype(np.float64) ** 2
    assert energy[2100:].sum() > 0.01 * energy.sum()  # a tail after 125 ms
    assert any(np.allclose(y[100 : 100 + 500], h[:500] / np.sqrt(np.sum(h[: SR - 100].astype(np.float64) ** 2)),
                           atol=1e-5) for h in aug.rooms)


def test_streams_with_augmentation_keep_their_words():
    from kwsdk.config import RunConfig
    from kwsdk.data import load_dataset
    from kwsdk.streams import StreamBuilder, noise_segments, prepare

    cfg = RunConfig()
    ds = load_dataset(SAMPLE_DIR, cfg.data, SR, progress=False)
    utts, noise = prepare(ds.split("train"), ds.categories, SR), noise_segments(ds.noise, "train")
    aug = dataclasses.replace(cfg.augment, reverb_prob=1.0, eq_prob=1.0)
    plain = StreamBuilder(utts, noise, ds.categories, cfg.features, cfg.stream, aug)
    rich = StreamBuilder(utts, noise, ds.categories, cfg.features, cfg.stream, aug, augment=Augmenter(aug, SR, 0))
    for k, u in enumerate(utts[::40]):
        # The same speed and gain draws, then the augmentations: same length and word bounds, same level.
        a, on, off = plain._perturb(np.random.default_rng(k), u)
        b, on_b, off_b = rich._perturb(np.random.default_rng(k), u)
        assert (len(a), on, off) == (len(b), on_b, off_b) and not np.array_equal(a, b)
        assert np.sqrt(np.mean(b.astype(np.float64) ** 2)) == pytest.approx(np.sqrt(np.mean(a.astype(np.float64) ** 2)),
                                                                           rel=1e-4)
