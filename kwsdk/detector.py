"""The detection rule: per-frame posteriors in, keyword events out.

Specified here once; `kwsdk eval --stream`, the clip decision and the
generated C detector all implement exactly this rule.

Per frame t, given posteriors p_t (softmax over categories):
1. Smoothing: s_t = (1/K) * sum of p over the last K frames (frames before the
   stream started count as zero), K = `smooth_frames`.
2. Candidates: keywords k (categories other than `_unknown_` and `_silence_`)
   with s_t[k] >= threshold_k (per-keyword override, else `threshold`).
3. Refractory: if a candidate exists and no event was emitted in the last
   R = round(refractory_s * frames_per_second) frames (t - t_last >= R), emit
   an event for the candidate with the largest s_t[k] (lowest index on ties),
   with score s_t[k] and time (t + 1) * hop / sample_rate seconds (the end of
   the frame's audio); t_last = t.

Clip decision (single 1 s utterance): the largest smoothed posterior over
time of each non-silence category; if the best is below `clip_floor`
the clip is `_silence_`, else that category.

Device-safe: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kwsdk.config import DetectorConfig

NON_KEYWORDS = ("_unknown_", "_silence_")
CLIP_FLOOR = 0.5


@dataclass(frozen=True)
class Event:
    frame: int
    keyword: int  # category index
    score: float
    time: float  # seconds of audio since the stream started


def keyword_indices(categories: list[str]) -> list[int]:
    return [i for i, c in enumerate(categories) if c not in NON_KEYWORDS]


def threshold_vector(categories: list[str], cfg: DetectorConfig) -> np.ndarray:
    """Per-category threshold; non-keywords get +inf (never fire)."""
    unknown = set(cfg.thresholds) - set(categories)
    if unknown:
        raise ValueError(f"thresholds for unknown keywords: {sorted(unknown)}")
    thr = np.full(len(categories), np.inf)
    for i in keyword_indices(categories):
        thr[i] = cfg.thresholds.get(categories[i], cfg.threshold)
    return thr


def smooth(posteriors: np.ndarray, k: int) -> np.ndarray:
    """Trailing moving average over k frames, zeros before the start.

    Each window is summed on its own (no running sum), so chunked streaming
    and whole-array calls give bit-identical results.
    """
    p = np.asarray(posteriors, np.float64)
    return _window_mean(np.concatenate([np.zeros((k - 1, p.shape[1])), p]), k)


def _window_mean(frames: np.ndarray, k: int) -> np.ndarray:
    """Mean of every run of k consecutive rows: len(frames) - k + 1 rows out."""
    return np.lib.stride_tricks.sliding_window_view(frames, k, axis=0).sum(axis=-1) / k


class Detector:
    """Streaming implementation of the rule (state survives between calls)."""

    def __init__(self, categories: list[str], cfg: DetectorConfig, frames_per_second: float):
        self.categories = list(categories)
        self.cfg = cfg
        self.k = int(cfg.smooth_frames)
        if self.k < 1:
            raise ValueError("smooth_frames must be >= 1")
        self.thr = threshold_vector(self.categories, cfg)
        self.refractory = int(round(cfg.refractory_s * frames_per_second))
        self.frame_seconds = 1.0 / frames_per_second
        self.reset()

    def reset(self) -> None:
        self.history = np.zeros((self.k - 1, len(self.categories)))  # last K-1 frames
        self.t = 0
        self.last = None

    def process(self, posteriors: np.ndarray) -> list[Event]:
        """Feed (T, C) posteriors; returns the events they trigger."""
        p = np.asarray(posteriors, np.float64)
        if len(p) == 0:
            return []
        full = np.concatenate([self.history, p])
        s = _window_mean(full, self.k)
        self.history = full[len(full) - (self.k - 1):]
        events = []
        margin = s - self.thr
        for i in np.flatnonzero((margin >= 0).any(axis=1)):
            t = self.t + int(i)
            if self.last is not None and t - self.last < self.refractory:
                continue
            cand = np.where(margin[i] >= 0, s[i], -np.inf)
            k = int(np.argmax(cand))
            events.append(Event(t, k, float(s[i, k]), (t + 1) * self.frame_seconds))
            self.last = t
        self.t += len(p)
        return events


def detect(posteriors: np.ndarray, categories: list[str], cfg: DetectorConfig,
           frames_per_second: float) -> list[Event]:
    return Detector(categories, cfg, frames_per_second).process(posteriors)


def clip_decision(posteriors: np.ndarray, categories: list[str], smooth_frames: int) -> int:
    """Category index for one utterance clip, from its (T, C) posteriors."""
    s = smooth(posteriors, smooth_frames).max(axis=0)
    silence = categories.index("_silence_")
    s[silence] = -np.inf
    best = int(np.argmax(s))
    return best if s[best] >= CLIP_FLOOR else silence
