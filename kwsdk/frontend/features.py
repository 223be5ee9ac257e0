"""Float reference frontend: log-mel spectrogram, optionally MFCC.

This is the exact math that the integer frontend (and its generated C) must
reproduce, so it is spelled out here.

Input: float audio in [-1, 1] (int16 / 32768) at `sample_rate`.

1. Framing (streaming-first). Each frame consumes `hop_size` new samples and
   analyses the last `window_size` samples, starting from a zero buffer.
   Frame t (t = 0, 1, ...) therefore covers samples
   [(t+1)*hop - win, (t+1)*hop), with samples before 0 taken as 0, and a clip
   of N samples gives floor(N / hop) frames. Offline and chunked streaming
   computation give identical frames.
2. Window w[n], n = 0..win-1:
   - "hann": periodic Hann, 0.5 - 0.5 cos(2 pi n / win);
   - "hamming": symmetric Hamming, 0.54 - 0.46 cos(2 pi n / (win - 1)) (ELL).
3. FFT: X[k] = sum_n x[n] w[n] exp(-2 pi i k n / nfft), k = 0..nfft/2, the
   windowed frame zero-padded at the end to nfft. Unnormalised.
4. Spectrum S[k]: "power" |X[k]|^2 or "magnitude" |X[k]|.
5. Mel filterbank, peak-1 triangles, no area normalisation:
   - "hz": mel(f) = 2595 log10(1 + f / 700) (HTK). n_mels + 2 edge
     frequencies equally spaced in mel from fmin to fmax; filter j rises
     linearly from edge j to edge j+1 and falls to edge j+2, evaluated at
     bin frequencies k * sr / nfft.
   - "ell": ELL's featurizer: mel(f) = 1127 ln(1 + f/700), step =
     mel(sr/2) / (n_mels + 1), edge bin b_i = floor(f(i*step) (nfft+1) / sr),
     filter j = (k - b_j)/(b_{j+1} - b_j) on [b_j, b_{j+1}) and
     (b_{j+2} - k)/(b_{j+2} - b_{j+1}) on [b_{j+1}, b_{j+2}). At nfft 512
     with 80 filters some low filters are empty (ELL's known defect, kept for
     compatibility).
   M[j] = sum_k F[j, k] S[k].
6. Log: L[j] = ln(M[j] + log_offset) (natural log).
7. Optional MFCC: orthonormal DCT-II of L, first n_mfcc coefficients.

Output: float32 array (frames, n_features). Device-safe module (numpy and
scipy only): the daemon and export loader use it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.fft

from kwsdk.audiocache import Pcm, samples
from kwsdk.config import FeatureConfig
from kwsdk.fileio import atomic_write


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def window_table(cfg: FeatureConfig) -> np.ndarray:
    n = np.arange(cfg.window_size, dtype=np.float64)
    if cfg.window == "hann":
        return 0.5 - 0.5 * np.cos(2 * np.pi * n / cfg.window_size)
    if cfg.window == "hamming":
        return 0.54 - 0.46 * np.cos(2 * np.pi * n / (cfg.window_size - 1))
    raise ValueError(f"unknown window {cfg.window!r}")


def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """(n_mels, nfft//2 + 1) float64 weights."""
    n_bins = cfg.nfft // 2 + 1
    fb = np.zeros((cfg.n_mels, n_bins))
    if cfg.mel_style == "hz":
        edges = mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax), cfg.n_mels + 2))
        freqs = np.arange(n_bins) * cfg.sample_rate / cfg.nfft
        for j in range(cfg.n_mels):
            lo, c, hi = edges[j], edges[j + 1], edges[j + 2]
            rise = (freqs - lo) / (c - lo)
            fall = (hi - freqs) / (hi - c)
            fb[j] = np.maximum(0.0, np.minimum(rise, fall))
        return fb
    if cfg.mel_style == "ell":
        step = 1127.0 * np.log(1.0 + (cfg.sample_rate / 2) / 700.0) / (cfg.n_mels + 1)
        hz = 700.0 * (np.exp(np.arange(cfg.n_mels + 2) * step / 1127.0) - 1.0)
        b = np.floor(hz * (cfg.nfft + 1) / cfg.sample_rate).astype(int)
        b = np.minimum(b, n_bins - 1)
        for j in range(cfg.n_mels):
            for k in range(b[j], b[j + 1]):
                fb[j, k] = (k - b[j]) / (b[j + 1] - b[j])
            for k in range(b[j + 1], b[j + 2]):
                fb[j, k] = (b[j + 2] - k) / (b[j + 2] - b[j + 1])
        return fb
    raise ValueError(f"unknown mel_style {cfg.mel_style!r}")


def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II rows: (n_out, n_in)."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    m = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in)) * np.sqrt(2.0 / n_in)
    m[0] /= np.sqrt(2.0)
    return m


class Frontend:
    """Float log-mel/MFCC frontend with offline, batched and streaming calls."""

    # Part of the feature cache key: a subclass whose integers change for the
    # same FeatureConfig gets a new tag, so no stale features are reused.
    NUMERICS = ""

    def __init__(self, cfg: FeatureConfig):
        if cfg.window_size > cfg.nfft:
            raise ValueError(f"window_size {cfg.window_size} > nfft {cfg.nfft}")
        if cfg.hop_size > cfg.window_size:
            raise ValueError(f"hop_size {cfg.hop_size} > window_size {cfg.window_size}")
        self.cfg = cfg
        self.window = window_table(cfg).astype(np.float32)
        self.mel = mel_filterbank(cfg).T.astype(np.float32)  # (bins, mels)
        self.dct = dct_matrix(cfg.n_mels, cfg.n_mfcc).T.astype(np.float32) if cfg.n_mfcc else None
        self.reset()

    def n_frames(self, n_samples: int) -> int:
        return n_samples // self.cfg.hop_size

    def frames(self, audio: np.ndarray) -> np.ndarray:
        """audio (B, N) float → analysis frames (B, N // hop, window_size)."""
        audio = np.asarray(audio, np.float32)
        c = self.cfg
        b, n = audio.shape
        t = n // c.hop_size
        pad = c.window_size - c.hop_size
        if t == 0:
            return np.zeros((b, 0, c.window_size), np.float32)
        x = np.concatenate([np.zeros((b, pad), np.float32), audio[:, : t * c.hop_size]], axis=1)
        return np.lib.stride_tricks.sliding_window_view(x, c.window_size, axis=1)[:, :: c.hop_size]

    def compute_batch(self, audio: np.ndarray) -> np.ndarray:
        """audio (B, N) float → features (B, N // hop, n_features) float32."""
        return self._frames_to_features(self.frames(audio))

    def mel_energies(self, audio: np.ndarray) -> np.ndarray:
        """Linear mel energies M (steps 1-5) of one clip: (N // hop, n_mels) float64."""
        return self._mel(self.frames(np.asarray(audio, np.float32)[None])[0]).astype(np.float64)

    def compute(self, audio: np.ndarray) -> np.ndarray:
        return self.compute_batch(np.asarray(audio, np.float32)[None])[0]

    def reset(self) -> None:
        self._buf = np.zeros(self.cfg.window_size - self.cfg.hop_size, np.float32)

    def process(self, chunk: np.ndarray) -> np.ndarray:
        """Streaming: feed any number of samples, get the frames they complete."""
        c = self.cfg
        x = np.concatenate([self._buf, np.asarray(chunk, np.float32)])
        t = (len(x) - (c.window_size - c.hop_size)) // c.hop_size
        if t <= 0:
            self._buf = x
            return np.zeros((0, c.n_features), np.float32)
        frames = np.lib.stride_tricks.sliding_window_view(x, c.window_size)[:: c.hop_size][:t]
        self._buf = x[t * c.hop_size :]
        return self._frames_to_features(frames[None])[0]

    def _mel(self, frames: np.ndarray) -> np.ndarray:
        c = self.cfg
        spec = scipy.fft.rfft(frames * self.window, n=c.nfft, axis=-1)
        power = spec.real * spec.real + spec.imag * spec.imag
        s = power if c.spectrum == "power" else np.sqrt(power)
        return s.astype(np.float32) @ self.mel

    def _frames_to_features(self, frames: np.ndarray) -> np.ndarray:
        c = self.cfg
        feats = np.log(self._mel(frames) + np.float32(c.log_offset))
        if self.dct is not None:
            feats = feats @ self.dct
        return feats.astype(np.float32, copy=False)


CHUNK = 256  # clips per compute_batch call


def config_key(cfg: FeatureConfig) -> str:
    return hashlib.sha1(json.dumps(asdict(cfg), sort_keys=True).encode()).hexdigest()[:16]


def cached_features(
    clips: Sequence[np.ndarray | Pcm], fe: "Frontend", cache_dir: Path | None, length: int
) -> np.ndarray:
    """Features of fixed-length clips (zero-padded/cut to `length` samples).

    Computed once and reused: the cache key covers the frontend type and
    its numerics tag, its parameters and the clips' sample contents. The
    clips are padded CHUNK at a time, so memory holds the features, not
    every clip's samples.
    """
    cfg = fe.cfg

    def chunks():
        for i in range(0, len(clips), CHUNK):
            part = clips[i : i + CHUNK]
            batch = np.zeros((len(part), length), np.float32)
            for j, x in enumerate(part):
                a = samples(x)
                batch[j, : min(length, len(a))] = a[:length]
            yield batch

    path = None
    if cache_dir is not None:
        h = hashlib.sha1((type(fe).__name__ + fe.NUMERICS + config_key(cfg)).encode())
        for batch in chunks():
            h.update(batch.tobytes())
        path = Path(cache_dir) / f"features-{h.hexdigest()[:20]}.npy"
        if path.exists():
            try:
                return np.load(path)
            except (OSError, ValueError):
                pass  # corrupt cache entry: recompute
    feats = np.concatenate([fe.compute_batch(batch) for batch in chunks()]) if len(clips) \
        else np.zeros((0, fe.n_frames(length), cfg.n_features), np.float32)
    if path is not None:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.save(f, feats)

        atomic_write(path, write)
    return feats
