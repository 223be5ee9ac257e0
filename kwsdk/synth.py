"""Synthesize a Speech Commands-layout folder with espeak-ng.

Bootstraps keywords nobody has recorded: each clip is one word spoken by a
random English espeak-ng voice and variant at a random speed, pitch and
amplitude, trimmed, placed at a random offset in a 1 s, 16 kHz clip at a
random peak level, and optionally mixed with noise. All clips of one
(voice, variant) share a speaker id, so speaker-disjoint splits keep a
synthetic voice on one side.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from kwsdk.audio import AUDIO_SUFFIXES, AudioError, is_audio_file, read_audio
from kwsdk.fileio import atomic_write, progress_bar

SAMPLE_RATE = 16000
CLIP_SAMPLES = SAMPLE_RATE  # 1.000 s
NOISE_FOLDER = "_background_noise_"

SPEED_WPM = (120, 200)
PITCH = (20, 80)
AMPLITUDE = (60, 140)  # espeak-ng -a (default 100); the peak is set afterwards
PEAK_DBFS = (-20.0, -1.0)
# Trim samples quieter than this relative to the utterance's peak, then keep
# this much margin around the speech.
TRIM_DB = -40.0
TRIM_PAD_S = 0.01
# Variants that are not a voice: "fast" overrides our speed, "Demonic" is
# not intelligible speech.
_SKIP_VARIANTS = {"fast", "Demonic"}


class SynthError(RuntimeError):
    """espeak-ng is missing or failed, or the output folder is unusable."""


@dataclass(frozen=True)
class _Clip:
    """Everything random about one clip, drawn up front so threads stay deterministic."""

    word: str
    slug: str
    voice: str
    variant: str
    speed: int
    pitch: int
    amplitude: int
    offset_u: float  # position in the free space of the 1 s clip, in [0, 1)
    peak_dbfs: float
    noise_index: int
    noise_u: float  # start of the noise cut, in [0, 1) of the free length
    snr_db: float
    path: Path


def slugify(word: str) -> str:
    """Folder name of a word: lowercase, runs of other characters become "_"."""
    return re.sub(r"[^a-z0-9]+", "_", word.lower()).strip("_")


def speaker_id(voice: str, variant: str) -> str:
    """8-hex-digit speaker id shared by all clips of one (voice, variant)."""
    return hashlib.sha1(f"{voice}+{variant}".encode()).hexdigest()[:8]


def _espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise SynthError("espeak-ng not found; install it with: apt-get install espeak-ng")
    return exe


def _list_voices(exe: str) -> tuple[list[str], list[str]]:
    """English voice files and variant names that espeak-ng offers here, sorted.

    MBROLA voices ("mb/...") need separate binaries and data, so only
    espeak-ng's own voices are used. Variant "" is the voice unmodified.
    """
    def listing(arg: str) -> list[str]:
        out = subprocess.run([exe, f"--voices={arg}"], capture_output=True, text=True, check=True)
        return out.stdout.splitlines()[1:]  # first line is the header

    voices = set()
    for line in listing("en"):
        fields = line.split()
        if len(fields) >= 5 and not fields[4].startswith(("mb/", "!v/")):
            voices.add(fields[4])
    variants = {""}
    for line in listing("variant"):
        # The file column is last but for "(lang prio)" groups; a file name
        # with a space ("Mr serious") does not match and is skipped.
        m = re.search(r"!v/(\S+)\s*(\(.*\))?\s*$", line)
        if m and m.group(1) not in _SKIP_VARIANTS:
            variants.add(m.group(1))
    if not voices:
        raise SynthError("espeak-ng lists no English voices (espeak-ng --voices=en)")
    return sorted(voices), sorted(variants)


def _load_noise(noise_dir: Path) -> list[tuple[Path, np.ndarray]]:
    files = sorted(p for p in Path(noise_dir).iterdir() if is_audio_file(p))
    if not files:
        raise SynthError(f"{noise_dir}: no audio files ({', '.join(AUDIO_SUFFIXES)}) to use as noise")
    noises = []
    for p in files:
        try:
            x = read_audio(p, SAMPLE_RATE, 0.0)
        except AudioError as e:
            raise SynthError(f"{p}: {e}") from None
        if not np.any(x):
            raise SynthError(f"{p}: noise file is silent")
        noises.append((p, x))
    return noises


def _to_16k(x: np.ndarray, sr: int) -> np.ndarray:
    if sr == SAMPLE_RATE:
        return x.astype(np.float32)
    g = gcd(SAMPLE_RATE, sr)
    return resample_poly(x, SAMPLE_RATE // g, sr // g).astype(np.float32)


def _speak(exe: str, c: _Clip) -> np.ndarray:
    """Run espeak-ng (argument list, no shell; "--" ends options) and read 16 kHz mono."""
    voice = f"{c.voice}+{c.variant}" if c.variant else c.voice
    with tempfile.TemporaryDirectory(prefix="kwsdk-synth-") as tmp:
        wav = Path(tmp) / "say.wav"
        cmd = [exe, "-v", voice, "-s", str(c.speed), "-p", str(c.pitch), "-a", str(c.amplitude),
               "-w", str(wav), "--", c.word]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0 or not wav.exists():
            raise SynthError(f"espeak-ng failed for {c.word!r} with voice {voice}: {res.stderr.strip()}")
        x, sr = sf.read(wav, dtype="float32", always_2d=True)
    return _to_16k(x.mean(axis=1), sr)


def _trim(x: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(x) >= np.abs(x).max() * 10 ** (TRIM_DB / 20))
    pad = int(TRIM_PAD_S * SAMPLE_RATE)
    return x[max(loud[0] - pad, 0): loud[-1] + pad + 1]


def _render(exe: str, c: _Clip, noises: list[tuple[Path, np.ndarray]]) -> bool:
    """Synthesize, place, level and write one clip; True if it was truncated to 1 s."""
    speech = _speak(exe, c)
    if not np.any(speech):
        raise SynthError(f"espeak-ng produced no audio for {c.word!r} with voice {c.voice}+{c.variant}")
    speech = _trim(speech)
    truncated = len(speech) > CLIP_SAMPLES
    speech = speech[:CLIP_SAMPLES]
    clip = np.zeros(CLIP_SAMPLES, np.float32)
    start = int(c.offset_u * (CLIP_SAMPLES - len(speech) + 1))
    clip[start:start + len(speech)] = speech
    if noises:
        noise = noises[c.noise_index][1]
        if len(noise) < CLIP_SAMPLES:
            noise = np.resize(noise, CLIP_SAMPLES)  # repeat a short file
        n0 = int(c.noise_u * (len(noise) - CLIP_SAMPLES + 1))
        cut = noise[n0:n0 + CLIP_SAMPLES]
        # SNR against the speech itself, not the silence around it.
        rms_speech = np.sqrt(np.mean(speech.astype(np.float64) ** 2))
        rms_noise = max(np.sqrt(np.mean(cut.astype(np.float64) ** 2)), 1e-12)
        clip = clip + cut * (rms_speech / rms_noise / 10 ** (c.snr_db / 20))
    clip *= 10 ** (c.peak_dbfs / 20) / np.abs(clip).max()
    atomic_write(c.path, lambda p: sf.write(p, clip, SAMPLE_RATE, subtype="PCM_16", format="WAV"))
    return truncated


def _check_words(words: list[str]) -> dict[str, str]:
    """Map slug -> word; ValueError for an empty slug or two words sharing one."""
    if not words:
        raise ValueError("no words to synthesize")
    slugs: dict[str, str] = {}
    for w in words:
        s = slugify(w)
        if not s:
            raise ValueError(f"word {w!r} has no letters or digits to name its folder")
        if s in slugs:
            raise ValueError(f"words {slugs[s]!r} and {w!r} both map to folder {s!r}")
        slugs[s] = w
    return slugs


def synthesize(words: list[str], out_dir: Path, count_per_word: int = 100, seed: int = 0,
               noise_dir: Path | None = None, snr_db: tuple[float, float] = (5.0, 30.0),
               progress: bool = True) -> dict:
    """Write count_per_word clips of each word to out_dir/<slug>/<speaker>_nohash_<n>.wav.

    out_dir must be absent or empty. With noise_dir, every clip is mixed with
    a random 1 s cut of one of its wavs at an SNR drawn from snr_db, and the
    wavs are copied to out_dir/_background_noise_/. Same seed, same espeak-ng
    install: byte-identical output. Returns a JSON-serializable report.
    """
    slugs = _check_words(words)
    if count_per_word < 1:
        raise ValueError(f"count_per_word must be >= 1, got {count_per_word}")
    if snr_db[0] > snr_db[1]:
        raise ValueError(f"snr_db range is reversed: {snr_db}")
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise SynthError(f"{out_dir}: exists and is not an empty folder; choose a new output folder")
    exe = _espeak()
    voices, variants = _list_voices(exe)
    noises = _load_noise(Path(noise_dir)) if noise_dir is not None else []

    # Every draw happens whether or not noise is used, so adding noise keeps
    # the same voices and words.
    rng = np.random.default_rng(seed)
    clips: list[_Clip] = []
    speakers: dict[str, str] = {}
    for slug, word in slugs.items():
        per_speaker: dict[str, int] = {}
        for _ in range(count_per_word):
            voice = voices[rng.integers(len(voices))]
            variant = variants[rng.integers(len(variants))]
            spk = speaker_id(voice, variant)
            speakers[spk] = f"{voice}+{variant}" if variant else voice
            n = per_speaker[spk] = per_speaker.get(spk, -1) + 1
            clips.append(_Clip(
                word=word, slug=slug, voice=voice, variant=variant,
                speed=int(rng.integers(SPEED_WPM[0], SPEED_WPM[1] + 1)),
                pitch=int(rng.integers(PITCH[0], PITCH[1] + 1)),
                amplitude=int(rng.integers(AMPLITUDE[0], AMPLITUDE[1] + 1)),
                offset_u=float(rng.random()),
                peak_dbfs=float(rng.uniform(*PEAK_DBFS)),
                noise_index=int(rng.integers(max(len(noises), 1))),
                noise_u=float(rng.random()),
                snr_db=float(rng.uniform(*snr_db)),
                path=out_dir / slug / f"{spk}_nohash_{n}.wav",
            ))

    for src, _ in noises:
        atomic_write(out_dir / NOISE_FOLDER / src.name, lambda p, src=src: shutil.copyfile(src, p))
    # espeak-ng runs are independent processes: run them in parallel; every
    # random choice is already fixed, so the output does not depend on order.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        results = pool.map(lambda c: _render(exe, c, noises), clips)
        truncated = sum(progress_bar(results, progress, total=len(clips), desc="synth", unit="clip"))

    return {
        "out_dir": str(out_dir),
        "words": {slug: word for slug, word in slugs.items()},
        "clips_per_word": {slug: count_per_word for slug in slugs},
        "voices": dict(sorted(speakers.items())),
        "truncated": int(truncated),
        "noise_files": [src.name for src, _ in noises],
    }
