"""Continuous synthetic streams: utterance clips placed between noise gaps.

Used twice, with the same code: to train for streaming (random sequences
with per-frame targets, carried recurrent state, no reset between words)
and to evaluate detection on a long stream (`kwsdk eval --stream`).

Per-frame targets: frames before an utterance's word has been mostly heard
are ignored (the model cannot know yet), the keyword (or `_unknown_`)
label covers [onset + target_start * length, offset + target_tail], and every
other frame is `_silence_` (nothing to detect). Word onset and offset come
from the clip's energy envelope.

Augmentation (deterministic for a given numpy Generator): background noise at
a random SNR, random per-utterance gain and speed (0.9-1.1x), random placement (time shift),
optional spectral time/frequency masking on the features.

Device-safe: numpy only (training code wraps the arrays in tensors).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kwsdk.audiocache import Pcm, samples
from kwsdk.config import AugmentConfig, FeatureConfig, StreamConfig

IGNORE = -100
NOISE_TRAIN_FRACTION = 0.7  # first 70% of each noise file for training, rest for eval


def frame_power(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean power of each whole 10 ms frame (float64; one frame if shorter)."""
    hop = sample_rate // 100
    n = max(1, len(audio) // hop)
    frames = audio[: n * hop].reshape(n, hop) if len(audio) >= hop else audio[None]
    return np.mean(frames.astype(np.float64) ** 2, axis=1)


def word_bounds(audio: np.ndarray, sample_rate: int) -> tuple[int, int]:
    """(onset, offset) in samples of the loudest contiguous-ish region.

    10 ms frames within 20 dB of the clip's loudest frame count as the word.
    """
    hop = sample_rate // 100
    e = 10 * np.log10(frame_power(audio, sample_rate) + 1e-10)
    active = np.flatnonzero(e >= e.max() - 20.0)
    return int(active[0] * hop), int(min(len(audio), (active[-1] + 1) * hop))


def fade_edges(a: np.ndarray, sample_rate: int) -> None:
    """Fade the first and last 10 ms (at most half each) in and out, in place: no clicks at clip edges."""
    n = min(sample_rate // 100, len(a) // 2)
    fade = np.sin(np.linspace(0, np.pi / 2, sample_rate // 100, dtype=np.float32)[:n]) ** 2
    a[:n] *= fade
    a[len(a) - n :] *= fade[::-1]


@dataclass
class Utterance:
    audio: np.ndarray | Pcm  # float32 samples, or where to read them
    label: int  # category index
    onset: int  # word onset within audio (samples)
    offset: int
    whole: bool = False  # labelled from its onset (real speech), no frames ignored


@dataclass
class Placed:
    label: int
    onset: int  # in stream samples
    offset: int
    whole: bool = False


def prepare(clips, categories: list[str], sample_rate: int) -> list[Utterance]:
    """Utterances of the clips; their audio stays where the clips keep it
    (a cache file at full size) and is read when a stream places it."""
    out = []
    for c in clips:
        on, off = word_bounds(c.audio, sample_rate)
        out.append(Utterance(c.pcm, categories.index(c.label), on, off))
    return out


def noise_segments(noise: list[np.ndarray], part: str) -> list[np.ndarray]:
    """Split each noise file in time so that training and evaluation never share noise."""
    segs = []
    for n in noise:
        cut = int(len(n) * NOISE_TRAIN_FRACTION)
        seg = n[:cut] if part == "train" else n[cut:]
        if len(seg) > 0:
            segs.append(seg.astype(np.float32))
    return segs


def background(rng: np.random.Generator, noise: list[np.ndarray], n: int, prob: float) -> np.ndarray:
    """n samples of unit-RMS noise from a random place in a random noise
    segment (looped if short), with probability `prob`; else silence."""
    if not noise or rng.random() >= prob:
        return np.zeros(n, np.float32)
    src = noise[rng.integers(len(noise))]
    if len(src) <= n:  # loop short noise
        src = np.tile(src, n // len(src) + 2)
    start = rng.integers(len(src) - n)
    seg = src[start : start + n]
    return seg / (np.sqrt(np.mean(seg.astype(np.float64) ** 2)) + 1e-9)  # unit RMS


def mix(rng: np.random.Generator, speech: np.ndarray, ref: float, bg: np.ndarray, aug: AugmentConfig) -> np.ndarray:
    """Speech plus unit-RMS noise at an SNR drawn from aug's range against
    the speech's RMS `ref`, at a random overall level (float32)."""
    snr = rng.uniform(aug.snr_db_min, aug.snr_db_max)
    x = speech + bg * np.float32(ref / 10 ** (snr / 20))
    peak = float(np.max(np.abs(x))) + 1e-9
    level = 10 ** (rng.uniform(aug.gain_db_min, aug.gain_db_max) / 20)
    # Random overall level relative to a -1 dBFS peak; > 0 dB clips like a real ADC.
    return np.clip(x * np.float32(0.89 * level / peak), -1.0, 1.0).astype(np.float32)


class StreamBuilder:
    """`negatives`: recordings of real speech without keywords; with them,
    stream.p_negative of the slots that hold no keyword play a random crop
    of one (the keyword slots stay as many)."""

    def __init__(self, utterances: list[Utterance], noise: list[np.ndarray], categories: list[str],
                 feat: FeatureConfig, stream: StreamConfig, aug: AugmentConfig,
                 negatives: list[np.ndarray | Pcm] = (),
                 augment=None):
        self.cats = categories
        self.feat, self.stream, self.aug = feat, stream, aug
        self.noise = noise
        self.negatives = list(negatives)
        self.augment = augment  # e.g. kwsdk.augment.Augmenter: (rng, utterance audio) -> audio of its length
        self.silence = categories.index("_silence_")
        self.unknown = categories.index("_unknown_")
        by_label: dict[int, list[Utterance]] = {}
        for u in utterances:
            by_label.setdefault(u.label, []).append(u)
        self.keywords = [by_label[i] for i in range(len(categories))
                         if i not in (self.silence, self.unknown) and i in by_label]
        self.unknowns = by_label.get(self.unknown, [])
        self.silences = by_label.get(self.silence, [])

    def _pick(self, rng: np.random.Generator) -> Utterance | None:
        r = rng.random()
        if r < self.stream.p_keyword and self.keywords:
            pool = self.keywords[rng.integers(len(self.keywords))]
        elif self.negatives and rng.random() < self.stream.p_negative:
            return self._negative(rng)
        elif r < self.stream.p_keyword + self.stream.p_unknown and self.unknowns:
            pool = self.unknowns
        else:
            pool = self.silences
        return pool[rng.integers(len(pool))] if pool else None

    def _negative(self, rng: np.random.Generator) -> Utterance:
        """A crop of real speech (the whole recording if shorter), `_unknown_`
        on every frame from its first to its last loud one (word_bounds)."""
        src = self.negatives[rng.integers(len(self.negatives))]
        n = int(rng.uniform(self.stream.negative_min_s, self.stream.negative_max_s) * self.feat.sample_rate)
        start = int(rng.integers(max(1, len(src) - n + 1)))
        a = src.float32(start, start + n) if isinstance(src, Pcm) else src[start : start + n]
        return Utterance(a, self.unknown, *word_bounds(a, self.feat.sample_rate), whole=True)

    def _perturb(self, rng: np.random.Generator, u: Utterance) -> tuple[np.ndarray, int, int]:
        """Random speed (linear-interpolation resampling) and gain of one utterance."""
        speed = rng.uniform(self.aug.speed_min, self.aug.speed_max)
        a = samples(u.audio)
        if speed != 1.0:  # evaluation streams keep natural speed
            n = int(len(a) / speed)
            a = np.interp(np.arange(n) * speed, np.arange(len(a)), a).astype(np.float32)
        a = a * np.float32(10 ** (rng.uniform(-6, 6) / 20))
        if self.augment is not None:
            a = self.augment(rng, a)
        return a, int(u.onset / speed), min(len(a), int(u.offset / speed))

    def sequence(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, list[Placed]]:
        """One stream of n samples and the utterances placed in it."""
        sr = self.feat.sample_rate
        speech = np.zeros(n, np.float32)
        placed: list[Placed] = []
        pos = int(rng.uniform(0, self.stream.gap_max) * sr)
        speech_power = []
        while pos < n:
            u = self._pick(rng)
            if u is None:  # this split has no clip of the drawn kind: leave a gap
                pos += int(rng.uniform(self.stream.gap_min, self.stream.gap_max) * sr)
                continue
            a, onset, offset = self._perturb(rng, u)
            if pos + len(a) > n:
                break
            fade_edges(a, sr)
            speech[pos : pos + len(a)] += a
            if u.label != self.silence:
                placed.append(Placed(u.label, pos + onset, pos + offset, u.whole))
                speech_power.append(np.mean(a[onset:offset].astype(np.float64) ** 2))
            pos += len(a) + int(rng.uniform(self.stream.gap_min, self.stream.gap_max) * sr)
        bg = background(rng, self.noise, n, self.aug.noise_prob)
        if rng.random() < self.stream.digital_silence_prob:
            bg[:] = 0
        ref = np.sqrt(np.mean(speech_power)) if speech_power else 10 ** (rng.uniform(-50, -20) / 20)
        return mix(rng, speech, ref, bg, self.aug), placed

    def targets(self, placed: list[Placed], n_frames: int) -> np.ndarray:
        hop = self.feat.hop_size
        tail = int(self.stream.target_tail * self.feat.sample_rate)
        y = np.full(n_frames, self.silence, np.int64)
        for p in placed:
            start = p.onset if p.whole else p.onset + int(self.stream.target_start * (p.offset - p.onset))
            # Frame t has heard samples < (t + 1) * hop.
            t0, t1, t2 = p.onset // hop, start // hop, min(n_frames, (p.offset + tail) // hop + 1)
            y[t0:t1] = IGNORE
            y[t1:t2] = p.label
        return y

    def batch(self, rng: np.random.Generator, batch_size: int, frontend) -> tuple[np.ndarray, np.ndarray]:
        """(features (B, T, F) float32, targets (B, T) int64)."""
        n = int(self.stream.seconds * self.feat.sample_rate)
        audio = np.zeros((batch_size, n), np.float32)
        ys = []
        t = n // self.feat.hop_size
        for b in range(batch_size):
            audio[b], placed = self.sequence(rng, n)
            ys.append(self.targets(placed, t))
        x = frontend.compute_batch(audio)
        mask_spec(rng, x, self.aug)
        return x, np.stack(ys)


def mask_spec(rng: np.random.Generator, x: np.ndarray, aug: AugmentConfig) -> None:
    """In-place SpecAugment-style masks, filled with each sequence's mean."""
    for b in range(len(x)):
        fill = x[b].mean()
        for _ in range(aug.time_masks if aug.time_mask_max > 0 else 0):
            w = int(rng.integers(0, aug.time_mask_max + 1))
            s = int(rng.integers(0, max(1, x.shape[1] - w)))
            x[b, s : s + w] = fill
        if aug.freq_mask_max > 0:
            w = int(rng.integers(0, aug.freq_mask_max + 1))
            s = int(rng.integers(0, max(1, x.shape[2] - w)))
            x[b, :, s : s + w] = fill


@dataclass
class EvalStream:
    features: np.ndarray  # (T, F)
    truth: list[Placed]  # keyword and unknown utterances, in stream samples
    seconds: float
    # Distinct clips the stream draws its utterances from: {"keyword": n, "unknown": m}
    distinct_clips: dict[str, int]


def stream_chunks(builder: StreamBuilder, seconds: float, seed: int, chunk_seconds: float = 30.0):
    """The audio of a long continuous stream, chunk by chunk: yields (audio,
    placed utterances with sample positions counted from the stream start).
    The stream lasts `seconds` rounded up to whole chunks."""
    rng = np.random.default_rng(seed)
    n_chunk = int(chunk_seconds * builder.feat.sample_rate)
    for i in range(int(np.ceil(seconds / chunk_seconds))):
        audio, placed = builder.sequence(rng, n_chunk)
        yield audio, [Placed(p.label, p.onset + i * n_chunk, p.offset + i * n_chunk, p.whole) for p in placed]


def eval_stream(builder: StreamBuilder, frontend, seconds: float, seed: int,
                chunk_seconds: float = 30.0) -> EvalStream:
    """A long continuous stream, built and featurised chunk by chunk.

    The frontend runs in streaming mode across chunk boundaries, so the
    features are those of one continuous recording.
    """
    frontend.reset()
    feats, truth = [], []
    for audio, placed in stream_chunks(builder, seconds, seed, chunk_seconds):
        truth += placed
        feats.append(frontend.process(audio))
    frontend.reset()
    total = int(np.ceil(seconds / chunk_seconds)) * chunk_seconds
    return EvalStream(np.concatenate(feats), truth, total,
                      {"keyword": sum(map(len, builder.keywords)), "unknown": len(builder.unknowns)})
