"""`kwsdk frontend-check`: the float and integer frontends and VADs, and the
generated C, over every clip of a folder.

- snr_db: integer vs float features, 10 log10(sum f^2 / sum (f - i)^2) over
  all frames of all clips (log-mel or MFCC domain); worst_clip: the clip
  with the lowest SNR of its own.
- c_mismatches: frames where the C (host build, fed in odd-sized chunks)
  differs from the Python integer reference in features, mel energies,
  exponent or VAD output; target 0.
- vad_agreement: fraction of frames where the integer VAD equals the float
  VAD, on each clip as recorded and mixed with background noise
  (_background_noise_/, cycling through 0, 10 and 20 dB SNR).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kwsdk.audio import AudioError, audio_files, is_audio_file, read_audio
from kwsdk.config import FeatureConfig, VadConfig
from kwsdk.codegen.cfrontend import CFrontend
from kwsdk.frontend.features import Frontend
from kwsdk.frontend.integer import IntegerFrontend
from kwsdk.audio import to_pcm16
from kwsdk.frontend.vad import FloatVad, IntVad
from kwsdk.fileio import progress_bar

NOISE_DIR = "_background_noise_"
NOISE_SNRS_DB = (0.0, 10.0, 20.0)
C_CHUNK = 317  # odd chunk size: exercises the streaming buffer's hop boundaries


@dataclass
class _Totals:
    signal: float = 0.0
    error: float = 0.0
    frames: int = 0
    mismatches: int = 0
    mismatch_clips: list = field(default_factory=list)
    vad_same: int = 0
    vad_frames: int = 0
    worst: tuple = (np.inf, "")


def list_clips(root: Path) -> list[Path]:
    return audio_files(root, skip=NOISE_DIR)


def load_noise(root: Path, sample_rate: int) -> list[np.ndarray]:
    out = []
    for p in sorted(p for p in (Path(root) / NOISE_DIR).glob("*") if is_audio_file(p)):
        try:
            out.append(read_audio(p, sample_rate))
        except AudioError:
            continue
    return out


def mix_noise(audio: np.ndarray, noise: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """audio + a random segment of noise scaled to snr_db (power over the clip)."""
    start = int(rng.integers(0, max(1, len(noise) - len(audio))))
    seg = np.resize(noise[start : start + len(audio)], len(audio))
    ps, pn = float(np.mean(audio**2)), float(np.mean(seg**2))
    gain = np.sqrt(ps / (pn * 10 ** (snr_db / 10))) if ps > 0 and pn > 0 else 0.0
    return np.clip(audio + gain * seg, -1.0, 32767 / 32768)


def frontend_check(data: Path, cfg: FeatureConfig, vad_cfg: VadConfig | None = None, progress: bool = True,
                   build_dir: Path | None = None) -> dict:
    vad_cfg = vad_cfg or VadConfig()
    clips = list_clips(data)
    if not clips:
        raise FileNotFoundError(f"{data}: no .wav clips found")
    noise = load_noise(data, cfg.sample_rate)
    ffe, ife = Frontend(cfg), IntegerFrontend(cfg)
    fvad, ivad = FloatVad(vad_cfg, cfg), IntVad(vad_cfg, cfg)
    scale = np.float64(1 << ife.frac_bits)
    rng = np.random.default_rng(0)
    tot, skipped = _Totals(), []
    with tempfile.TemporaryDirectory() as tmp:
        cfe = CFrontend(cfg, Path(build_dir or tmp), vad_cfg)
        for i, path in enumerate(progress_bar(clips, progress, desc="frontend-check", unit="clip")):
            rel = str(path.relative_to(data))
            try:
                audio = read_audio(path, cfg.sample_rate)
            except AudioError as e:
                skipped.append({"file": rel, "reason": str(e)})
                continue
            pcm = to_pcm16(audio)
            f = ffe.compute(pcm / 32768.0).astype(np.float64)
            ref = ife.analyze(pcm)
            err = ((f - ref.features / scale) ** 2).sum()
            sig = (f**2).sum()
            tot.signal, tot.error, tot.frames = tot.signal + sig, tot.error + err, tot.frames + len(f)
            clip_snr = 10 * np.log10(sig / err) if err > 0 else np.inf
            if clip_snr < tot.worst[0]:
                tot.worst = (clip_snr, rel)
            ivad.reset()
            ref_vad = ivad.run(ref.mel, ref.mel_exp)
            c = cfe.run(pcm, C_CHUNK)
            bad = ((c.features != ref.features).any(axis=1) | (c.mel != ref.mel).any(axis=1)
                   | (c.mel_exp != ref.mel_exp) | (c.vad != ref_vad)) if len(c.features) == len(ref.features) \
                else np.ones(max(len(c.features), len(ref.features)), bool)
            if bad.any():
                tot.mismatches += int(bad.sum())
                tot.mismatch_clips.append(rel)
            variants = [(pcm, ref)]
            if noise:
                noisy = to_pcm16(mix_noise(audio, noise[i % len(noise)], NOISE_SNRS_DB[i % 3], rng))
                variants.append((noisy, ife.analyze(noisy)))
            for x, r in variants:
                fvad.reset()
                ivad.reset()
                a = fvad.run(ffe.mel_energies(x / 32768.0))
                b = ivad.run(r.mel, r.mel_exp)
                tot.vad_same += int((a == b).sum())
                tot.vad_frames += len(a)
    snr = 10 * np.log10(tot.signal / tot.error) if tot.error > 0 else float("inf")
    return {
        "data": str(data), "preset": cfg.preset, "n_clips": len(clips) - len(skipped), "n_frames": tot.frames,
        "snr_db": round(float(snr), 2),
        "worst_clip": {"file": tot.worst[1], "snr_db": round(float(tot.worst[0]), 2)},
        "c_mismatches": tot.mismatches, "c_mismatch_clips": tot.mismatch_clips[:20],
        "vad_agreement": round(tot.vad_same / max(1, tot.vad_frames), 5), "vad_frames": tot.vad_frames,
        "noise_files": len(noise), "skipped": skipped,
    }
