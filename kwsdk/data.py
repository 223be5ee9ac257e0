"""Loading a keyword dataset in the Speech Commands layout (audio files:
.wav, .flac or .ogg, any length from 0.1 s up).

    root/<word>/*.wav                 one folder per word
    root/_background_noise_/*.wav     long noise recordings (any length)
    root/_silence_/*.wav              optional 1 s "nothing said" clips
    root/_unknown_/<word>_<speaker>_nohash_<n>.wav   optional extra non-keywords
    root/validation_list.txt, root/testing_list.txt  optional split lists

Categories are the keywords in the order given, then `_unknown_` (every other
word) and `_silence_`. Bad files are skipped with a reason and the load goes
on; only a problem that makes the dataset unusable is a DataError. The
user's folder is only ever read. Device-safe: no torch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kwsdk.audio import AUDIO_SUFFIXES, MIN_SECONDS, is_audio_file
from kwsdk.audiocache import Pcm, decode_files
from kwsdk.config import SPLITS, DataConfig
from kwsdk.streams import NOISE_TRAIN_FRACTION

UNKNOWN = "_unknown_"
SILENCE = "_silence_"
NOISE_DIR = "_background_noise_"
LIST_FILES = {"val": "validation_list.txt", "test": "testing_list.txt"}
MAX_NUM_WAVS_PER_CLASS = 2**27 - 1  # from Google's Speech Commands which_set


CLIP_TAIL_S = 0.3  # silence after an evaluated clip, so that late words finish


def clip_length(clips: list[Clip], sample_rate: int) -> int:
    """Samples every evaluated clip is cut or zero-padded to: the longest of
    `clips` (at least 1 s; wake phrases run to 6 s) and CLIP_TAIL_S."""
    longest = max([sample_rate] + [len(c.pcm) for c in clips])
    return longest + int(CLIP_TAIL_S * sample_rate)


class DataError(Exception):
    """The dataset cannot be used; the message names the folder or file and why."""


@dataclass
class Clip:
    path: Path
    label: str  # a category name
    word: str  # the word actually said (folder name, or file-name prefix in _unknown_)
    speaker: str
    split: str  # "train", "val" or "test"
    pcm: Pcm | None = None  # the decoded audio; read it with .audio

    @property
    def audio(self) -> np.ndarray:
        """The clip's samples, float32 in [-1, 1]."""
        return self.pcm.float32()


@dataclass
class Dataset:
    root: Path
    categories: list[str]
    clips: list[Clip] = field(default_factory=list)
    noise: list[np.ndarray] = field(default_factory=list)
    noise_names: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (relative path, reason)
    warnings: list[str] = field(default_factory=list)

    def split(self, name: str) -> list[Clip]:
        return in_split(self.clips, name)

    def counts(self) -> dict[str, dict[str, int]]:
        out = {s: {c: 0 for c in self.categories} for s in SPLITS}
        for c in self.clips:
            out[c.split][c.label] += 1
        return out

    def report(self) -> dict:
        return {
            "root": str(self.root),
            "categories": list(self.categories),
            "counts": self.counts(),
            "noise": list(self.noise_names),
            "n_skipped": len(self.skipped),
            "skipped": [{"path": p, "reason": r} for p, r in self.skipped],
            "warnings": list(self.warnings),
        }


def in_split(items: list, name: str) -> list:
    """The items (each with a .split) of split `name`, or all of them for "all"."""
    if name == "all":
        return list(items)
    if name not in SPLITS:
        raise ValueError(f"unknown split {name!r}; choose from {[*SPLITS, 'all']}")
    return [c for c in items if c.split == name]


def speaker_id(filename: str | Path) -> str:
    """The token just before `_nohash_` (`bed_0c540988_nohash_0.wav` -> `0c540988`), else the stem."""
    name = Path(filename).name
    if "_nohash_" not in name:
        return Path(name).stem
    return name.split("_nohash_", 1)[0].rsplit("_", 1)[-1]


def which_set(filename: str | Path, val_percent: float, test_percent: float, salt: str = "") -> str:
    """Google's deterministic split: hash the speaker, so a speaker stays in one split.

    Hashing speaker_id rather than the whole prefix keeps `_unknown_` files
    (`<word>_<speaker>_nohash_<n>`) in the same split as that speaker's words.
    A non-empty salt is prefixed to the speaker id: data cut from Google's own
    test partition would otherwise fall entirely into one split.
    """
    return speaker_split(speaker_id(filename), val_percent, test_percent, salt)


def speaker_split(speaker: str, val_percent: float, test_percent: float, salt: str = "") -> str:
    """which_set for a speaker id however it was found (see kwsdk.negatives)."""
    digest = hashlib.sha1((salt + speaker).encode("utf-8")).hexdigest()
    percent = (int(digest, 16) % (MAX_NUM_WAVS_PER_CLASS + 1)) * (100.0 / MAX_NUM_WAVS_PER_CLASS)
    if percent < val_percent:
        return "val"
    if percent < val_percent + test_percent:
        return "test"
    return "train"


def load_dataset(root: str | Path, cfg: DataConfig, sample_rate: int = 16000, progress: bool = True,
                 cache_dir: str | Path | None = None, extra: bool = False) -> Dataset:
    """Scan, split and decode a dataset; see the module docstring for the layout.

    extra: a training-only folder (DataConfig.extra_dirs): every clip is in
    the train split, its noise and split lists are not read, and it need
    not hold every category.
    """
    root = Path(root)
    _check_config(root, cfg, extra)
    ds = Dataset(root, [*cfg.keywords, UNKNOWN, SILENCE])
    bad = _read_bad_list(cfg.bad_list)
    lists = None if extra else _read_split_lists(root, ds.warnings)

    clips, noise_rels, looked = _scan(root, cfg, bad, lists, ds)
    if extra:
        for c in clips:
            c.split = "train"
        noise_rels = []
    clips = _limit_per_label(root, clips, cfg.max_per_class)
    jobs = [(_rel(root, c.path), MIN_SECONDS) for c in clips] + [(r, 0.0) for r in noise_rels]
    results = decode_files(root, jobs, sample_rate, progress, None if cache_dir is None else Path(cache_dir))

    for c in clips:
        rel = _rel(root, c.path)
        if isinstance(results[rel], str):
            ds.skipped.append((rel, results[rel]))
        else:
            c.pcm = results[rel]
            ds.clips.append(c)
    for rel in noise_rels:
        if isinstance(results[rel], str):
            ds.skipped.append((rel, results[rel]))
        else:
            ds.noise.append(results[rel].float32())
            ds.noise_names.append(Path(rel).name)
    ds.skipped.sort()
    if extra:
        if not ds.clips:
            raise DataError(f"{root}: no usable clips in this extra training folder")
        return ds
    if not ds.noise:
        ds.warnings.append(f"no usable background noise in {root / NOISE_DIR}: training adds no noise")

    if not (root / SILENCE).is_dir() and cfg.silence_clips_from_noise > 0:
        ds.clips += _silence_from_noise(ds, cfg.silence_clips_from_noise, sample_rate)
    _check_coverage(ds, looked)
    return ds


def _check_config(root: Path, cfg: DataConfig, extra: bool = False) -> None:
    """extra: a training-only folder, which need not hold every keyword."""
    if not root.is_dir():
        raise DataError(f"{root}: data folder not found")
    if not cfg.keywords:
        raise DataError("no keywords given")
    for kw in cfg.keywords:
        if kw.startswith("_"):
            raise DataError(f"keyword {kw!r}: names starting with '_' are reserved folders, not words")
        if not extra and not (root / kw).is_dir():
            raise DataError(f"{root / kw}: keyword folder not found")
    if len(set(cfg.keywords)) != len(cfg.keywords):
        raise DataError(f"keywords {cfg.keywords}: a keyword is listed twice")
    if not (0 <= cfg.val_percent and 0 <= cfg.test_percent and cfg.val_percent + cfg.test_percent <= 100):
        raise DataError(f"val_percent {cfg.val_percent} and test_percent {cfg.test_percent}: "
                        "need two non-negative numbers summing to at most 100")


def _normalize(line: str) -> str:
    """A relative path as written in a list file, in the form _rel produces."""
    line = line.strip().replace("\\", "/")
    return line[2:] if line.startswith("./") else line


def _read_bad_list(name: str) -> set[str]:
    if not name:
        return set()
    path = Path(name)
    try:
        text = path.read_text()
    except OSError as e:
        raise DataError(f"{path}: cannot read bad list ({e.strerror or e})") from None
    return {p for p in (_normalize(line.split("#", 1)[0]) for line in text.splitlines()) if p}


def _read_split_lists(root: Path, warnings: list[str]) -> dict[str, str] | None:
    """relative path -> split from Google's list files, or None when there are none."""
    present = {s: root / f for s, f in LIST_FILES.items() if (root / f).is_file()}
    if not present:
        return None
    for s, f in LIST_FILES.items():
        if s not in present:
            warnings.append(f"{root / f} is missing: the {s} split is empty (the other list file exists)")
    out = {}
    for s, path in present.items():
        try:
            lines = path.read_text().splitlines()
        except OSError as e:
            raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
        out.update({p: s for p in map(_normalize, lines) if p})
    return out


def _scan(root: Path, cfg: DataConfig, bad: set[str], lists: dict[str, str] | None,
          ds: Dataset) -> tuple[list[Clip], list[str], dict[str, list[str]]]:
    """Find the clips (not yet decoded) and noise files; skip listed and non-wav files.

    Returns the clips, the noise files' relative paths, and for each category
    the folders that were looked in (for error messages).
    """
    looked: dict[str, list[str]] = {c: [] for c in ds.categories}
    looked[SILENCE] = [SILENCE, NOISE_DIR]
    clips: list[Clip] = []
    noise: list[str] = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        name = folder.name
        if name == NOISE_DIR:
            # Non-wav files here are ignored: Google ships a README.md in this folder.
            noise += [r for r in (_rel(root, f) for f in sorted(folder.iterdir()) if is_audio_file(f))
                      if not _skip_bad(r, bad, ds)]
            continue
        if name in cfg.keywords:
            label = name
        elif name == SILENCE:
            label = SILENCE
        elif name == UNKNOWN or not name.startswith(("_", ".")):
            label = UNKNOWN
        else:
            continue  # other reserved or hidden folders are not part of the layout
        looked[label].append(name)
        for f in sorted(folder.iterdir()):
            rel = _rel(root, f)
            if _skip_bad(rel, bad, ds):
                continue
            if not is_audio_file(f):
                ds.skipped.append((rel, f"not an audio file ({', '.join(AUDIO_SUFFIXES)})"))
                continue
            speaker = speaker_id(f.name)
            split = (lists.get(rel, "train") if lists is not None
                     else which_set(f.name, cfg.val_percent, cfg.test_percent, cfg.split_salt))
            clips.append(Clip(f, label, _word(f.name) if name == UNKNOWN else name, speaker, split))
    return clips, noise, looked


def _skip_bad(rel: str, bad: set[str], ds: Dataset) -> bool:
    if rel in bad:
        ds.skipped.append((rel, "in bad list"))
        return True
    return False


def _word(filename: str) -> str:
    """The word of an `_unknown_` file: the name's part before the speaker id."""
    prefix = filename.split("_nohash_", 1)[0] if "_nohash_" in filename else ""
    return prefix.rsplit("_", 1)[0] if "_" in prefix else UNKNOWN


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _limit_per_label(root: Path, clips: list[Clip], n: int) -> list[Clip]:
    """Keep at most n clips per label, a deterministic pseudo-random choice (before decoding)."""
    if n <= 0:
        return clips
    by_label: dict[str, list[Clip]] = {}
    for c in clips:
        by_label.setdefault(c.label, []).append(c)
    keep = set()
    for group in by_label.values():
        group.sort(key=lambda c: hashlib.sha1(_rel(root, c.path).encode("utf-8")).hexdigest())
        keep.update(id(c) for c in group[:n])
    return [c for c in clips if id(c) in keep]


def _silence_from_noise(ds: Dataset, n: int, sample_rate: int) -> list[Clip]:
    """n one-second cuts of background noise per split, at a random gain of -30..0 dB.

    Training cuts come from the part of each noise file that training mixes
    in, val/test cuts from the rest (the same split as kwsdk.streams), so
    evaluation never hears training noise.
    """
    clips = []
    for i, split in enumerate(SPLITS):
        spans = []  # (noise index, first usable offset, last usable offset)
        for k, x in enumerate(ds.noise):
            cut = int(len(x) * NOISE_TRAIN_FRACTION)
            lo, hi = (0, cut) if split == "train" else (cut, len(x))
            if hi - lo >= sample_rate:
                spans.append((k, lo, hi - sample_rate))
        if not spans:
            if ds.noise:
                ds.warnings.append(f"no noise file is long enough for {split} silence cuts")
            continue
        rng = np.random.default_rng(i)  # fixed per split: the same cuts every load
        for _ in range(n):
            k, lo, hi = spans[rng.integers(len(spans))]
            offset = int(rng.integers(lo, hi + 1))
            gain = np.float32(10 ** (rng.uniform(-30.0, 0.0) / 20))
            audio = ds.noise[k][offset : offset + sample_rate] * gain
            path = ds.root / NOISE_DIR / f"{ds.noise_names[k]}#{offset}"
            clips.append(Clip(path, SILENCE, SILENCE, "noise", split, Pcm.of(audio)))
    return clips


def _check_coverage(ds: Dataset, looked: dict[str, list[str]]) -> None:
    """Every category needs a usable clip (silence may come from noise alone)."""
    have = {c.label for c in ds.clips}
    for cat in ds.categories:
        if cat in have or (cat == SILENCE and ds.noise):
            continue
        folders = looked[cat]
        where = ", ".join(str(ds.root / f) for f in folders) if folders else f"{ds.root} (no other word folders)"
        bad = [(p, r) for p, r in ds.skipped if p.split("/", 1)[0] in folders]
        detail = f"; {len(bad)} file(s) skipped, e.g. {bad[0][0]}: {bad[0][1]}" if bad else ""
        raise DataError(f"no usable clips for category {cat!r} (looked in {where}){detail}")
