"""Room and microphone variety for the training streams' utterances, from
well-kept libraries, each with its probability in AugmentConfig:

- reverb_prob: the utterance is played in a simulated room, convolved with
  one of ROOMS impulse responses that pyroomacoustics computes (image
  source method, up to IMAGE_ORDER reflections) for shoebox rooms of 3 x 3 x
  2.4 m to 10 x 8 x 3.5 m with RT60 0.2-0.8 s and random source and
  microphone positions, made once per training run from its seed;
- eq_prob: microphone colouring, audiomentations' seven-band parametric EQ
  (a low shelf, five peaks and a high shelf, each +-EQ_DB dB at random
  frequencies and Q).

Both keep the utterance's length and RMS, so its word bounds and level hold.
Deterministic for a given numpy Generator: audiomentations draws from
Python's and numpy's global generators, which are seeded from it for the
call and restored after. Speed perturbation (tempo and pitch together) is
AugmentConfig.speed_min/max, in kwsdk.streams.

Training side only (pyroomacoustics and audiomentations are in the `train`
extra); device-safe modules never import it.
"""

from __future__ import annotations

import random

import numpy as np
from scipy.signal import fftconvolve

from kwsdk.config import AugmentConfig

ROOMS = 200
IMAGE_ORDER = 20
EQ_DB = 6.0


def room_impulses(n: int, sample_rate: int, seed: int) -> list[np.ndarray]:
    """n room impulse responses (float32, unit energy)."""
    import pyroomacoustics as pra

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        dims = rng.uniform([3.0, 3.0, 2.4], [10.0, 8.0, 3.5])
        absorption, order = pra.inverse_sabine(rng.uniform(0.2, 0.8), dims)
        room = pra.ShoeBox(dims, fs=sample_rate, materials=pra.Material(absorption),
                           max_order=min(order, IMAGE_ORDER))
        room.add_source(rng.uniform(0.5, dims - 0.5))
        room.add_microphone(rng.uniform(0.5, dims - 0.5))
        room.compute_rir()
        h = np.asarray(room.rir[0][0], np.float64)
        out.append((h / np.sqrt(np.sum(h * h))).astype(np.float32))
    return out


class Augmenter:
    """Applies the configured augmentations to one utterance at a time."""

    def __init__(self, aug: AugmentConfig, sample_rate: int, seed: int):
        self.aug, self.sr = aug, sample_rate
        self.rooms = room_impulses(ROOMS, sample_rate, seed) if aug.reverb_prob > 0 else []
        self.eq = None
        if aug.eq_prob > 0:
            from audiomentations import SevenBandParametricEQ

            self.eq = SevenBandParametricEQ(min_gain_db=-EQ_DB, max_gain_db=EQ_DB, p=1.0)

    @property
    def active(self) -> bool:
        return bool(self.rooms) or self.eq is not None

    def __call__(self, rng: np.random.Generator, a: np.ndarray) -> np.ndarray:
        rms = float(np.sqrt(np.mean(a.astype(np.float64) ** 2)))
        if rms == 0.0:
            return a
        y = a
        if self.rooms and rng.random() < self.aug.reverb_prob:
            y = fftconvolve(y, self.rooms[rng.integers(len(self.rooms))])[: len(a)]
        if self.eq is not None and rng.random() < self.aug.eq_prob:
            y = _seeded(self.eq, int(rng.integers(2**32)), np.asarray(y, np.float32), self.sr)
        if y is a:
            return a
        return (y * (rms / (float(np.sqrt(np.mean(np.square(y, dtype=np.float64)))) + 1e-12))).astype(np.float32)


def _seeded(transform, seed: int, x: np.ndarray, sample_rate: int) -> np.ndarray:
    """Run an audiomentations transform with the global generators seeded, then restored."""
    state, np_state = random.getstate(), np.random.get_state()
    random.seed(seed)
    np.random.seed(seed)
    try:
        return transform(samples=x, sample_rate=sample_rate)
    finally:
        random.setstate(state)
        np.random.set_state(np_state)
