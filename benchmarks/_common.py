"""Shared by the benchmark scripts: where the data is, loading it, a
deterministic pick of speech clips, a plain table printer, and building
generated C and counting its instructions under callgrind."""

from __future__ import annotations

import argparse
import math
import re
import shutil
import subprocess
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


def speech_pcm(ds, seconds: float, sample_rate: int, gap_s: float = 0.0) -> tuple[np.ndarray, int]:
    """(int16 signal of `seconds`, clips in it): speech clips concatenated,
    each followed by gap_s of quiet noise, cycled if the data is small. The
    count includes a clip cut off at the end and repeats of a cycled one."""
    from kwsdk.audio import to_pcm16

    n = int(round(seconds * sample_rate))
    # Clips are at most 1 s, so seconds + 1 of them suffice.
    clips = speech_clips(ds, math.ceil(seconds) + 1)
    # Gaps of -60 dBFS noise (fixed seed) rather than digital zeros, which
    # would take unrepresentative short paths in the frontend and VAD.
    rng = np.random.default_rng(0)
    parts, starts = [], []
    for c in clips:
        starts.append(sum(len(x) for x in parts))
        parts.append(c.audio)
        if gap_s > 0:
            parts.append(1e-3 * rng.standard_normal(int(round(gap_s * sample_rate))).astype(np.float32))
    signal = np.concatenate(parts)
    n_clips = sum(int(np.ceil((n - s) / len(signal))) for s in starts if s < n)
    return to_pcm16(np.resize(signal, n)), n_clips


def print_table(headers: list[str], rows: list[list]) -> None:
    """Right-aligned columns; callers format the values."""
    cells = [headers] + [[str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for j, r in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(r, widths)))
        if j == 0:
            print("  ".join("-" * w for w in widths))


# Lines such as "4,210,397 (94.93%)  ???:kws_frontend_feed [/tmp/x/kws_frontend_main]".
ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+\(.*?\)\s+(?:.*:)?(\w+) \[(.+)\]\s*$")


def require_tools(p: argparse.ArgumentParser, tools=("valgrind", "callgrind_annotate", "nm")) -> None:
    for tool in tools:
        if shutil.which(tool) is None:
            p.error(f"{tool} not found (install valgrind and binutils)")


def compiler_version() -> str:
    from kwsdk.codegen.hostbuild import compiler

    return subprocess.run([compiler(), "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def build(sources: list[Path], exe: Path, cflags: list[str]) -> Path:
    """build_executable with several optimisation flags: it passes one
    optimisation argument, and a gcc/clang response file (@file) carries
    several."""
    from kwsdk.codegen.hostbuild import build_executable

    exe.parent.mkdir(parents=True, exist_ok=True)
    rsp = exe.with_name(exe.name + ".cflags.rsp")
    rsp.write_text("\n".join(cflags) + "\n")
    return build_executable(sources, exe, opt=f"@{rsp}")


def callgrind(exe: Path, in_path: Path, chunk: int, work: Path) -> tuple[dict[str, int], int]:
    """Inclusive Ir of every function in `exe`, and the frame count, for a
    stdio test driver run as `exe IN OUT CHUNK` that prints "PASS frames=N"."""
    prof = work / "callgrind.out"
    proc = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={prof}", str(exe),
                           str(in_path), str(work / "frames.bin"), str(chunk)], capture_output=True, text=True)
    m = re.search(r"PASS frames=(\d+)", proc.stdout)
    if proc.returncode != 0 or not m:
        raise SystemExit(f"{exe} under callgrind failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}")
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--auto=no", "--threshold=100", str(prof)],
                         capture_output=True, text=True, check=True).stdout
    counts = {}
    for line in ann.splitlines():
        a = ANNOTATE_LINE.match(line)
        if a and Path(a.group(3)).resolve() == exe.resolve():
            counts[a.group(2)] = counts.get(a.group(2), 0) + int(a.group(1).replace(",", ""))
    return counts, int(m.group(1))
