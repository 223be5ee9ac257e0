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

Integer form (IntDetector, and the generated C detector): posteriors are
q15 integers, the smoothing keeps the exact integer sum S of the last K
frames, and keyword k is a candidate when S >= T_k = ceil(threshold_k *
32768 * K): the same decisions as the float rule on p / 32768 without
float rounding. The event's score is round(S / K) in q15.

Clip decision (single 1 s utterance): the largest smoothed posterior over
time of each non-silence category; if the best is below `clip_floor`
the clip is `_silence_`, else that category. Training picks each run's
clip_floor on its validation clips (calibrate_clip_floor).

Device-safe: numpy only.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kwsdk.config import ConfigError, DetectorConfig, RunConfig
from kwsdk.fileio import atomic_write_text

NON_KEYWORDS = ("_unknown_", "_silence_")
CLIP_FLOOR = DetectorConfig.clip_floor  # the default; training calibrates a run's own
CLIP_FLOORS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)


@dataclass(frozen=True)
class Event:
    frame: int
    keyword: int  # category index
    score: float
    time: float  # seconds of audio since the stream started


def detector_config(run_dir: Path, cfg: RunConfig) -> DetectorConfig:
    """The run's calibrated detector (detector.json) or the configured one."""
    path = Path(run_dir) / "detector.json"
    if path.exists():
        return DetectorConfig(**json.loads(path.read_text()))
    return cfg.detector


def save_detector(run_dir: Path, det: DetectorConfig) -> None:
    """Write a run's calibrated detector (what detector_config reads back)."""
    atomic_write_text(Path(run_dir) / "detector.json", json.dumps(dataclasses.asdict(det), indent=2) + "\n")


def keyword_index(categories: list[str], keyword: str) -> int:
    """The category index of a keyword a backend may set; a clear error otherwise."""
    if keyword not in categories or keyword.startswith("_"):
        raise ConfigError(f"no keyword {keyword!r} in this model ({', '.join(categories)})")
    return categories.index(keyword)


MAX_REFRACTORY_S = 3600


def check_refractory(seconds, what: str) -> None:
    """A clear error unless `seconds` is a refractory period kwsdk accepts."""
    if not (isinstance(seconds, (int, float)) and 0 <= seconds <= MAX_REFRACTORY_S):
        raise ConfigError(f"{what} must be a number of seconds (0-{MAX_REFRACTORY_S})")


def refractory_frames(seconds: float, sample_rate: int, hop: int) -> int:
    """The refractory period in frames (IntDetector, the C detector, both daemon backends)."""
    return int(round(seconds * sample_rate / hop))


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


NEVER = np.iinfo(np.int32).max  # threshold sum of a category that never fires


def threshold_sums(categories: list[str], cfg: DetectorConfig) -> np.ndarray:
    """T_k = ceil(threshold_k * 32768 * K) per category (int64); NEVER for non-keywords."""
    thr = threshold_vector(categories, cfg)
    k = int(cfg.smooth_frames)
    return np.array([NEVER if np.isinf(x) else min(NEVER, int(np.ceil(x * 32768 * k))) for x in thr], np.int64)


@dataclass(frozen=True)
class IntEvent:
    frame: int
    keyword: int
    score_q15: int
    sample: int  # end of the frame's audio, in samples since the stream started


class IntDetector:
    """The rule on q15 integer posteriors, exactly as the generated C does it."""

    def __init__(self, categories: list[str], cfg: DetectorConfig, hop: int, sample_rate: int):
        self.k = int(cfg.smooth_frames)
        if self.k < 1:
            raise ValueError("smooth_frames must be >= 1")
        self.thr = threshold_sums(categories, cfg)
        self.refractory = refractory_frames(cfg.refractory_s, sample_rate, hop)
        self.hop = hop
        self.reset()

    def reset(self) -> None:
        self.history = np.zeros((self.k, len(self.thr)), np.int64)  # ring of the last K frames
        self.sum = np.zeros(len(self.thr), np.int64)
        self.t = 0
        self.last = None

    def step(self, posteriors: np.ndarray, gate: bool = True) -> IntEvent | None:
        """One frame of q15 posteriors; `gate` False suppresses an event (VAD gating)."""
        slot = self.t % self.k
        self.sum += np.asarray(posteriors, np.int64) - self.history[slot]
        self.history[slot] = posteriors
        t, self.t = self.t, self.t + 1
        cand = np.flatnonzero(self.sum >= self.thr)
        if not gate or not len(cand) or (self.last is not None and t - self.last < self.refractory):
            return None
        best = int(cand[np.argmax(self.sum[cand])])
        self.last = t
        s = int(self.sum[best])
        return IntEvent(t, best, (s + self.k // 2) // self.k, (t + 1) * self.hop)


def detect(posteriors: np.ndarray, categories: list[str], cfg: DetectorConfig,
           frames_per_second: float) -> list[Event]:
    return Detector(categories, cfg, frames_per_second).process(posteriors)


def clip_decisions(posteriors: np.ndarray, categories: list[str], det: DetectorConfig) -> np.ndarray:
    """clip_decision for every clip of (N, T, C) posteriors: (N,) int64."""
    return np.array([clip_decision(p, categories, det.smooth_frames, det.clip_floor) for p in posteriors], np.int64)


def clip_decision(posteriors: np.ndarray, categories: list[str], smooth_frames: int,
                  floor: float = CLIP_FLOOR) -> int:
    """Category index for one utterance clip, from its (T, C) posteriors."""
    s = smooth(posteriors, smooth_frames).max(axis=0)
    silence = categories.index("_silence_")
    s[silence] = -np.inf
    best = int(np.argmax(s))
    return best if s[best] >= floor else silence


def calibrate_clip_floor(posteriors: np.ndarray, categories: list[str], det: DetectorConfig,
                         truth: np.ndarray) -> float:
    """The clip floor of CLIP_FLOORS with the best accuracy on labelled clips
    (ties: the one nearest the default)."""
    def score(f: float) -> tuple[float, float]:
        pred = clip_decisions(posteriors, categories, dataclasses.replace(det, clip_floor=f))
        return float((pred == truth).mean()), -abs(f - CLIP_FLOOR)

    return max(CLIP_FLOORS, key=score)
