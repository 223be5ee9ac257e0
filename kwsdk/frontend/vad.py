"""Voice activity detector: the ELL noise-floor tracker, per frame, on the
frontend's linear mel energies. Float reference (`FloatVad`) and the
bit-exact integer reference of `kws_vad` (`IntVad`).

Per frame, with mel energies M_j (before the log) and dt = hop / rate:
- Level L = (1/N) sum_j w_j M_j.
- Noise floor F (starts at initial_floor):
    L < F:                 F += (dt / tau_down) (L - F), then F = max(F, L)
    L > large_input * F:   F += gain_att (dt / tau_up) (L - F), then F = min(F, L)
    otherwise:             F += (dt / tau_up) (L - F), then F = min(F, L)
- Output: 1 when L > threshold_up * F and L > level_threshold; 0 once
  L < threshold_down * F has held for more than `hysteresis` seconds of
  frames; otherwise unchanged (starts at 0).

Weighting. ELL weights channel i with the telephone C-message curve at
i * 4000 / N Hz, as if its filterbank channels were linear bins up to
4 kHz. On a mel filterbank up to 8 kHz that puts full weight on channels
that really lie at 2-8 kHz (fricatives, hiss, much of the background noise)
and attenuates the channels at 300-1000 Hz, where voiced speech carries its
energy. kwsdk evaluates the C-message curve at each channel's true centre
frequency instead. Because kwsdk's peak-1 triangles tile the spectrum
(each bin's weights sum to 1), sum_j w_j M_j is then close to the
C-message-weighted energy of the frame: the quantity the ELL design aimed
at. The weights are power gains on a power spectrum, amplitude gains on a
magnitude spectrum.

Parameters are ELL's magnitude-domain ones (VadConfig); on a power spectrum
the ratios (large_input, threshold_up, threshold_down) and the level
quantities (level_threshold, initial_floor) are squared.

Integer version: L and F are unsigned with LEVEL_FRAC_BITS fractional bits
in absolute units (the float reference's scale), saturated at 2**LEVEL_BITS;
the mel energy M * 2**E is brought to that scale by a rounded shift; the
weights w_j / N are q15; every rate and ratio is an integer multiplier with
a shift (15-bit mantissa, `quantize_multiplier`); products stay below 2**62.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kwsdk.config import FeatureConfig, VadConfig
from kwsdk.fixedpoint import bit_length_u64, mul_by_multiplier, quantize_multiplier, rshift_round, rshift_round_u64
from kwsdk.frontend.features import hz_to_mel, mel_to_hz

LEVEL_FRAC_BITS = 24
LEVEL_BITS = 46

# C-message weighting (IEEE 743), dB at Hz; -60 dB outside the table.
_C_MESSAGE = [(60, -55.7), (100, -42.5), (200, -25.1), (300, -16.3), (400, -11.2), (500, -7.7),
              (600, -5.0), (700, -2.8), (800, -1.3), (900, -0.3), (1000, 0.0), (1200, -0.4),
              (1300, -0.7), (1500, -1.2), (1800, -1.3), (2000, -1.1), (2500, -1.1), (2800, -2.0),
              (3000, -3.0), (3300, -5.2), (3500, -7.1), (4000, -14.6), (4500, -22.3), (5000, -28.7)]


def c_message_db(freq) -> np.ndarray:
    f, db = np.array(_C_MESSAGE).T
    freq = np.asarray(freq, np.float64)
    inside = (freq >= f[0]) & (freq <= f[-1])
    return np.where(inside, np.interp(np.log(np.maximum(freq, 1.0)), np.log(f), db), -60.0)


def channel_centres(cfg: FeatureConfig) -> np.ndarray:
    """Centre frequency (Hz) of each mel channel."""
    if cfg.mel_style == "hz":
        return mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.fmax), cfg.n_mels + 2))[1:-1]
    step = 1127.0 * np.log(1.0 + (cfg.sample_rate / 2) / 700.0) / (cfg.n_mels + 1)
    return 700.0 * (np.exp(np.arange(1, cfg.n_mels + 1) * step / 1127.0) - 1.0)


def level_weights(cfg: FeatureConfig) -> np.ndarray:
    """w_j / N: C-message gain at each channel's centre, divided by N."""
    per = 10.0 if cfg.spectrum == "power" else 20.0
    return 10.0 ** (c_message_db(channel_centres(cfg)) / per) / cfg.n_mels


@dataclass
class VadParams:
    """VadConfig resolved for one frontend: per-frame rates, domain-adjusted ratios."""

    weights: np.ndarray
    a_up: float
    a_down: float
    a_att: float
    large_input: float
    threshold_up: float
    threshold_down: float
    level_threshold: float
    initial_floor: float
    hold_frames: int

    @classmethod
    def resolve(cls, vcfg: VadConfig, fcfg: FeatureConfig) -> "VadParams":
        dt = fcfg.hop_size / fcfg.sample_rate
        p = 2 if fcfg.spectrum == "power" else 1
        for name in ("tau_up", "tau_down", "large_input", "gain_att", "threshold_up", "threshold_down",
                     "level_threshold", "initial_floor"):
            if not getattr(vcfg, name) > 0:
                raise ValueError(f"vad.{name} must be positive, got {getattr(vcfg, name)}")
        if vcfg.hysteresis < 0:
            raise ValueError(f"vad.hysteresis must be >= 0, got {vcfg.hysteresis}")
        return cls(
            weights=level_weights(fcfg), a_up=min(1.0, dt / vcfg.tau_up), a_down=min(1.0, dt / vcfg.tau_down),
            a_att=min(1.0, vcfg.gain_att * dt / vcfg.tau_up), large_input=vcfg.large_input ** p,
            threshold_up=vcfg.threshold_up ** p, threshold_down=vcfg.threshold_down ** p,
            level_threshold=vcfg.level_threshold ** p, initial_floor=vcfg.initial_floor ** p,
            hold_frames=int(round(vcfg.hysteresis / dt)),
        )


class _Hysteresis:
    """The on/off rule shared by both versions (comparisons differ only in type)."""

    def __init__(self, hold_frames: int):
        self.hold = hold_frames
        self.reset()

    def reset(self) -> None:
        self.state, self.quiet = 0, 0

    def step(self, on: bool, off: bool) -> int:
        if on:
            self.state, self.quiet = 1, 0
        elif off:
            self.quiet = min(self.quiet + 1, self.hold + 1)  # bounded: no overflow in C
            if self.quiet > self.hold:
                self.state = 0
        else:
            self.quiet = 0
        return self.state


class FloatVad:
    def __init__(self, vcfg: VadConfig, fcfg: FeatureConfig):
        self.p = VadParams.resolve(vcfg, fcfg)
        self.rule = _Hysteresis(self.p.hold_frames)
        self.reset()

    def reset(self) -> None:
        self.floor = self.p.initial_floor
        self.rule.reset()

    def step(self, mel: np.ndarray) -> int:
        p, f = self.p, self.floor
        level = float(np.dot(p.weights, mel))
        if level < f:
            f = max(f + p.a_down * (level - f), level)
        elif level > p.large_input * f:
            f = min(f + p.a_att * (level - f), level)
        else:
            f = min(f + p.a_up * (level - f), level)
        self.floor = f
        return self.rule.step(level > p.threshold_up * f and level > p.level_threshold,
                              level < p.threshold_down * f)

    def run(self, mel: np.ndarray) -> np.ndarray:
        """(F, n_mels) float mel energies -> (F,) 0/1, from the current state."""
        return np.array([self.step(m) for m in mel], np.int8)


class IntVad:
    def __init__(self, vcfg: VadConfig, fcfg: FeatureConfig):
        p = VadParams.resolve(vcfg, fcfg)
        one = 1 << LEVEL_FRAC_BITS
        self.weights_q15 = np.round(p.weights * (1 << 15)).astype(np.int64)
        self.a_up, self.a_down, self.a_att = (quantize_multiplier(a) for a in (p.a_up, p.a_down, p.a_att))
        self.large_input, self.threshold_up, self.threshold_down = (
            quantize_multiplier(r) for r in (p.large_input, p.threshold_up, p.threshold_down))
        self.level_threshold = int(round(p.level_threshold * one))
        self.initial_floor = min(int(round(p.initial_floor * one)), (1 << LEVEL_BITS) - 1)
        self.rule = _Hysteresis(p.hold_frames)
        self.reset()

    def reset(self) -> None:
        self.floor = self.initial_floor
        self.rule.reset()

    def level(self, mel: np.ndarray, mel_exp: int) -> int:
        """Weighted mean level, LEVEL_FRAC_BITS fraction, saturated."""
        top = (1 << LEVEL_BITS) - 1
        s = -(int(mel_exp) + LEVEL_FRAC_BITS)
        mel = np.asarray(mel, np.uint64)
        if s >= 0:
            m = rshift_round_u64(mel, s)
        else:  # left shift, saturating
            big = (mel != 0) & (bit_length_u64(mel) - s > LEVEL_BITS)
            m = np.where(big, np.uint64(top), mel << np.uint64(min(-s, 63)))
        m = np.minimum(m, np.uint64(top)).astype(np.int64)
        return int(rshift_round(int(np.dot(m, self.weights_q15)), 15))

    def step(self, mel: np.ndarray, mel_exp: int) -> int:
        lv, f = self.level(mel, mel_exp), self.floor
        if lv < f:
            f = max(f + mul_by_multiplier(lv - f, *self.a_down), lv)
        elif lv > mul_by_multiplier(f, *self.large_input):
            f = min(f + mul_by_multiplier(lv - f, *self.a_att), lv)
        else:
            f = min(f + mul_by_multiplier(lv - f, *self.a_up), lv)
        self.floor = int(f)
        return self.rule.step(lv > mul_by_multiplier(f, *self.threshold_up) and lv > self.level_threshold,
                              lv < mul_by_multiplier(f, *self.threshold_down))

    def run(self, mel: np.ndarray, mel_exp: np.ndarray) -> np.ndarray:
        return np.array([self.step(m, e) for m, e in zip(mel, mel_exp)], np.int8)
