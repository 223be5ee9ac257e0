"""Integer frontend: the bit-exact Python reference of the generated C
frontend (`kws_frontend.c`), composed from the stage references
fft (window + complex FFT) -> spectrum (split + power) -> mel -> log [-> dct].

Input int16 PCM; output one s16 feature vector per hop with
`frac_bits` fractional bits (log-mel: FEATURE_FRAC_BITS = 10; MFCC: fewer,
see kwsdk.frontend.dct). Framing, streaming and the float-facing API are the
float Frontend's, so training and evaluation can use either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kwsdk.audio import to_pcm16
from kwsdk.config import FeatureConfig
from kwsdk.frontend import dct, fft, log, mel, spectrum
from kwsdk.frontend.features import Frontend


@dataclass
class IntFrames:
    """Per-frame integer outputs: features and the linear mel energies the
    VAD uses (mel * 2**mel_exp is the float reference's mel energy)."""

    features: np.ndarray  # int16 (F, n_features)
    mel: np.ndarray  # uint64 (F, n_mels)
    mel_exp: np.ndarray  # int64 (F,)
    vad: np.ndarray | None = None  # int8 (F,) where the VAD ran


class IntegerFrontend(Frontend):
    """The device frontend's integer reference. The float-facing calls
    (compute, compute_batch, process) get their integers from features_int;
    kwsdk.codegen.cfrontend.HostIntegerFrontend takes them from the
    generated C built for this host instead (bit-exact, fast enough for
    training)."""

    NUMERICS = "radix4-split-mel32"  # window + radix-4 FFT, split + power, u32 mel input, linear offset

    def __init__(self, cfg: FeatureConfig):
        super().__init__(cfg)
        nfft = cfg.nfft
        if nfft & (nfft - 1) or nfft < 16:
            raise ValueError(f"integer frontend needs nfft a power of two >= 16, got {nfft}")
        self.window_q15 = fft.window_q15(cfg)
        self.split_twiddles = spectrum.split_twiddles(nfft)
        self.mel_segments = mel.segment_weights(cfg)
        self.mel_q15 = self.mel_segments.dense
        self.exp_bias = spectrum.exponent_bias(cfg.spectrum, nfft) - mel.WEIGHT_FRAC_BITS
        self.log_tables = log.LogTables.build(cfg.log_offset, self.mel_segments.mel_bits)
        self.log_tables.check(*self.mel_exp_range())
        self.dct_q15 = dct.dct_q15(cfg.n_mels, cfg.n_mfcc) if cfg.n_mfcc else None
        self.frac_bits = dct.mfcc_frac_bits(cfg.n_mels) if cfg.n_mfcc else log.FEATURE_FRAC_BITS

    def mel_exp_range(self) -> tuple[int, int]:
        """The smallest and largest mel exponent: the spectrum stage's shift
        m = max(1, bitlen(max spec >> 32)) with spec < 2**61 (power) or
        < 2**31 (magnitude)."""
        top = 61 if self.cfg.spectrum == "power" else 31
        return 1 + self.exp_bias, max(1, top - 32) + self.exp_bias

    def stages(self, frames: np.ndarray) -> dict[str, np.ndarray]:
        """Every stage's output for int16 frames (F, window_size): fft (zr,
        zi), spectrum (spec, m), mel (mel, mel_exp), log (logmel) and the
        features (after the DCT when configured)."""
        c = self.cfg
        frames = np.asarray(frames)
        if frames.ndim != 2 or frames.shape[1] != c.window_size:
            raise ValueError(f"expected frames of {c.window_size} samples, got shape {frames.shape}")
        out: dict[str, np.ndarray] = {"frames": frames}
        out["zr"], out["zi"] = fft.fft_q31(frames, self.window_q15, c.nfft)
        out["spec"], out["m"] = spectrum.spectrum_u64(out["zr"], out["zi"], self.split_twiddles, c.spectrum)
        out["mel"] = mel.mel_q15(out["spec"], out["m"], self.mel_q15)
        out["mel_exp"] = out["m"] + self.exp_bias
        out["logmel"] = log.log_s16(out["mel"], out["mel_exp"], self.log_tables)
        feats = out["logmel"] if self.dct_q15 is None else dct.apply_dct_q15(out["logmel"], self.dct_q15)
        out["features"] = feats.astype(np.int16)
        return out

    def frames_int(self, frames: np.ndarray) -> IntFrames:
        """int16 frames (F, window_size) -> IntFrames."""
        st = self.stages(frames)
        return IntFrames(st["features"], st["mel"], st["mel_exp"])

    def analyze(self, pcm: np.ndarray) -> IntFrames:
        """Offline: int16 PCM of one clip -> IntFrames of its len // hop frames."""
        c = self.cfg
        pcm = np.asarray(pcm, np.int16)
        t = len(pcm) // c.hop_size
        if t == 0:
            return self.frames_int(np.zeros((0, c.window_size), np.int16))
        x = np.concatenate([np.zeros(c.window_size - c.hop_size, np.int16), pcm[: t * c.hop_size]])
        frames = np.lib.stride_tricks.sliding_window_view(x, c.window_size)[:: c.hop_size][:t]
        return self.frames_int(frames)

    def features_int(self, frames: np.ndarray) -> np.ndarray:
        """int16 frames (F, window_size) -> int16 features."""
        return self.frames_int(frames).features

    def _frames_to_features(self, frames: np.ndarray) -> np.ndarray:
        lead = frames.shape[:-1]
        pcm = to_pcm16(frames.reshape(-1, frames.shape[-1]))
        out = self.features_int(pcm).astype(np.float32) / np.float32(1 << self.frac_bits)
        return out.reshape(*lead, -1)
