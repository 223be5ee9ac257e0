"""Shared by the benchmark scripts: where the data is, and a plain table printer."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEV_DATA = REPO.parent / "shared" / "data" / "speech_commands_dev"
SAMPLE_DATA = REPO / "kwsdk" / "sample_data" / "speech_commands_sample"


def default_data() -> Path:
    """The development set when it is checked out next to the repo, else the shipped sample."""
    return DEV_DATA if DEV_DATA.is_dir() else SAMPLE_DATA


def print_table(headers: list[str], rows: list[list]) -> None:
    """Right-aligned columns; callers format the values."""
    cells = [headers] + [[str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for j, r in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if j == 0:
            print("  ".join("-" * w for w in widths))
