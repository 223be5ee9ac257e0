"""Shared by the benchmark scripts: where the data is, loading it, a
deterministic pick of speech clips, and a plain table printer."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEV_DATA = REPO.parent / "shared" / "data" / "speech_commands_dev"
SAMPLE_DATA = REPO / "kwsdk" / "sample_data" / "speech_commands_sample"


def default_data() -> Path:
    """The development set when it is checked out next to the repo, else the shipped sample."""
    return DEV_DATA if DEV_DATA.is_dir() else SAMPLE_DATA


def add_data_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, default=default_data(),
                   help="Speech Commands-layout folder (default: ../shared/data/speech_commands_dev, "
                        "else the sample shipped in kwsdk/sample_data)")


def load_data(p: argparse.ArgumentParser, root: Path, sample_rate: int = 16000):
    """The decoded dataset (kwsdk.data.Dataset), or a usage error naming the problem."""
    from kwsdk.config import DataConfig
    from kwsdk.data import DataError, load_dataset

    try:
        return load_dataset(root, DataConfig(), sample_rate, progress=False)
    except DataError as e:
        p.error(str(e))


def speech_clips(ds, n: int) -> list:
    """n clips said by someone (keyword and _unknown_ folders, not _silence_),
    evenly spaced through the path-sorted list: deterministic, and every word
    is represented. Fewer when the data has fewer."""
    from kwsdk.data import SILENCE

    clips = sorted((c for c in ds.clips if c.label != SILENCE), key=lambda c: str(c.path))
    if not clips:
        raise SystemExit(f"{ds.root}: no speech clips")
    idx = np.unique(np.linspace(0, len(clips) - 1, min(n, len(clips))).round().astype(int))
    return [clips[i] for i in idx]


def print_table(headers: list[str], rows: list[list]) -> None:
    """Right-aligned columns; callers format the values."""
    cells = [headers] + [[str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for j, r in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if j == 0:
            print("  ".join("-" * w for w in widths))
