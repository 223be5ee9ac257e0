"""Real speech that holds none of the keywords ("negatives"): folders of
audio files of any length and layout (LibriSpeech's `<speaker>/...`,
recordings named `<speaker>_nohash_<n>.flac`, a folder of meeting
recordings), split by speaker into train, val and test the way the keyword
clips are, and joined into one continuous stream on which every detection
is a false accept (`kwsdk eval --stream --negatives`).

The stream: every file of a split once, in an order shuffled by the seed,
each followed by a short gap, over background noise at an SNR drawn per file
from the evaluation stream's range, at a random level per file, exactly as
the keyword stream mixes its utterances (kwsdk.streams.mix).

Device-safe: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kwsdk.audio import AUDIO_SUFFIXES, MIN_SECONDS, audio_files
from kwsdk.config import AugmentConfig, DataConfig
from kwsdk.audiocache import Pcm, decode_files
from kwsdk.data import NOISE_DIR, SPLITS, DataError, in_split, speaker_id, speaker_split
from kwsdk.streams import background, fade_edges, frame_power, mix

GAP_S = (0.3, 1.5)  # silence (noise only) after each file


@dataclass
class NegativeFile:
    path: Path
    source: str  # the folder it was found in, as given
    speaker: str
    split: str
    pcm: Pcm

    @property
    def audio(self) -> np.ndarray:
        """The file's samples, float32 in [-1, 1]."""
        return self.pcm.float32()


@dataclass
class Negatives:
    sources: list[str]
    files: list[NegativeFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def split(self, name: str) -> list[NegativeFile]:
        return in_split(self.files, name)

    def report(self, sample_rate: int) -> dict:
        """Files and hours per split, and the files skipped with their reasons."""
        return {"folders": list(self.sources),
                "files": {s: len(self.split(s)) for s in SPLITS},
                "hours": {s: sum(len(f.pcm) for f in self.split(s)) / sample_rate / 3600 for s in SPLITS},
                "skipped": [{"path": p, "reason": r} for p, r in self.skipped]}


def negative_speaker(root: Path, path: Path) -> str:
    """The speaker of a file: `<speaker>_nohash_<n>` names give theirs
    (Speech Commands, wake phrases); otherwise the first folder below the
    root (LibriSpeech's `<speaker>/<chapter>/...`); a file directly in the
    root is a speaker of its own."""
    if "_nohash_" in path.name:
        return speaker_id(path.name)
    parts = path.relative_to(root).parts
    return parts[0] if len(parts) > 1 else path.stem


def load_negatives(dirs: list[str | Path], cfg: DataConfig, sample_rate: int = 16000, progress: bool = True,
                   cache_dir: Path | None = None) -> Negatives:
    """Every audio file under each folder (recursively; `_background_noise_`
    is left out), decoded, with its speaker's split. Unusable files are
    skipped with their reason; a folder with no usable file is a DataError."""
    dirs = list(dict.fromkeys(str(d) for d in dirs))  # a folder named twice is read once
    neg = Negatives(dirs)
    for d in dirs:
        root = Path(d)
        if not root.is_dir():
            raise DataError(f"{root}: negatives folder not found")
        paths = audio_files(root, skip=NOISE_DIR)
        rels = [p.relative_to(root).as_posix() for p in paths]
        results = decode_files(root, [(r, MIN_SECONDS) for r in rels], sample_rate, progress, cache_dir)
        found = 0
        for p, rel in zip(paths, rels):
            audio = results[rel]
            if isinstance(audio, str):
                neg.skipped.append((str(p), audio))
                continue
            speaker = negative_speaker(root, p)
            split = speaker_split(speaker, cfg.val_percent, cfg.test_percent, cfg.split_salt)
            neg.files.append(NegativeFile(p, str(d), speaker, split, audio))
            found += 1
        if not found:
            raise DataError(f"{root}: no usable audio files ({', '.join(AUDIO_SUFFIXES)}) in this negatives folder")
    return neg


@dataclass
class NegativeStream:
    audio: np.ndarray  # float32, the whole stream
    starts: np.ndarray  # sample where each file's piece (the file, then its gap) starts, in stream order
    lengths: np.ndarray  # samples of each piece's file (the rest of the piece is its gap)
    order: np.ndarray  # index (into the files given) of each piece's file
    sources: np.ndarray  # source index of each piece
    source_names: list[str]

    @property
    def samples_per_source(self) -> np.ndarray:
        """Samples of the files and their gaps per source."""
        ends = np.r_[self.starts[1:], len(self.audio)]
        return np.bincount(self.sources, ends - self.starts, len(self.source_names))

    @property
    def speech_samples_per_source(self) -> np.ndarray:
        """Samples of the files alone (without their gaps) per source."""
        return np.bincount(self.sources, self.lengths, len(self.source_names))

    def piece_at(self, samples: np.ndarray) -> np.ndarray:
        """Index of the piece playing at each sample position."""
        return np.searchsorted(self.starts, samples, side="right") - 1


def speech_rms(audio: np.ndarray, sample_rate: int) -> float:
    """RMS of the 10 ms frames within 20 dB of the loudest: the level of the
    speech, not of the pauses between its words."""
    power = frame_power(audio, sample_rate)
    return float(np.sqrt(np.mean(power[power >= power.max() / 100]))) + 1e-9


def negative_stream(files: list[NegativeFile], sources: list[str], noise: list[np.ndarray], sample_rate: int,
                    aug: AugmentConfig, seed: int) -> NegativeStream:
    """The files in a shuffled order, each followed by a gap, mixed with
    `noise` (segments of background noise; all-zero ones give the same stream
    without noise) at aug's SNR range against each file's speech level
    (speech_rms), at aug's level range."""
    if not files:
        raise DataError("no negatives files in this split")
    rng = np.random.default_rng(seed)
    pieces, starts, srcs, pos = [], [], [], 0
    order = rng.permutation(len(files))
    for i in order:
        f, audio = files[i], files[i].audio
        gap = int(rng.uniform(*GAP_S) * sample_rate)
        speech = np.zeros(len(audio) + gap, np.float32)
        speech[: len(audio)] = audio
        fade_edges(speech[: len(audio)], sample_rate)
        bg = background(rng, noise, len(speech), 1.0)
        pieces.append(mix(rng, speech, speech_rms(audio, sample_rate), bg, aug))
        starts.append(pos)
        srcs.append(sources.index(f.source))
        pos += len(speech)
    lengths = np.array([len(files[i].pcm) for i in order])
    return NegativeStream(np.concatenate(pieces), np.array(starts), lengths, order, np.array(srcs), list(sources))
