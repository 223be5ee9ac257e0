"""Draw the small real-speech sample shipped in kwsdk/sample_data.

Deterministic: clips are ranked by sha1 of the file name, taking one clip per
speaker before any speaker's second, so the sample has as many voices as
possible. Clips are copied byte for byte; each background noise file is cut
to its first NOISE_SECONDS.

    .venv/bin/python scripts/make_sample.py
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "speech_commands_dev"
DEFAULT_OUT = ROOT / "kwsdk" / "sample_data" / "speech_commands_sample"

KEYWORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
COUNTS = {**{k: 20 for k in KEYWORDS}, "_unknown_": 30, "_silence_": 20}
NOISE_FOLDER = "_background_noise_"
NOISE_SECONDS = 8

README = """\
# Speech Commands sample

A small sample of real recordings so `kwsdk demo` and the tests run without
downloading anything.

Source: Speech Commands v0.02, Pete Warden, Google, 2018, arXiv:1804.03209,
CC BY 4.0 (see `LICENSE`). The clips come from a speaker-disjoint part of the
official test partition.

| folder | files |
|---|---:|
{table}

- Clips (16 kHz, 16-bit, mono, 1 s) are unmodified copies. They were chosen
  by sorting each folder on the sha1 of the file name, taking one clip per
  speaker before any speaker's second, so the sample has many voices.
- `_unknown_` holds other words (the word is the file name's first part);
  `_silence_` holds 1 s volume-scaled cuts of background noise.
- The `_background_noise_` files were cut to their first {noise_s} s
  (16-bit PCM, same names).

Made with `python scripts/make_sample.py` from the kwsdk repository.
"""


def speaker(name: str) -> str:
    """Speaker id: the token before "_nohash_" (files without one are their own speaker)."""
    head, sep, _ = name.partition("_nohash_")
    return head.rsplit("_", 1)[-1] if sep else name


def pick(files: list[Path], n: int) -> list[Path]:
    """n files in sha1 order, one per speaker before any speaker's second."""
    by_hash = sorted(files, key=lambda p: hashlib.sha1(p.name.encode()).hexdigest())
    seen: dict[str, int] = {}
    rank = {}
    for p in by_hash:
        s = speaker(p.name)
        rank[p] = seen[s] = seen.get(s, -1) + 1
    return sorted(by_hash, key=lambda p: rank[p])[:n]  # stable: sha1 order within a rank


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()

    if args.out.exists():
        shutil.rmtree(args.out)  # this script's own earlier output
    table = []
    for folder, n in COUNTS.items():
        files = sorted((args.src / folder).glob("*.wav"))
        if len(files) < n:
            raise SystemExit(f"{args.src / folder}: {len(files)} clips, need {n}")
        chosen = pick(files, n)
        (args.out / folder).mkdir(parents=True)
        for p in chosen:
            shutil.copyfile(p, args.out / folder / p.name)
        desc = f"{n} clips"
        if all("_nohash_" in p.name for p in chosen):
            desc += f", {len({speaker(p.name) for p in chosen})} speakers"
        table.append(f"| `{folder}` | {desc} |")
        print(f"{folder:>10}: {desc}")

    noise_out = args.out / NOISE_FOLDER
    noise_out.mkdir()
    noise = sorted((args.src / NOISE_FOLDER).glob("*.wav"))
    for p in noise:
        sr = sf.info(p).samplerate
        x, _ = sf.read(p, dtype="int16", frames=NOISE_SECONDS * sr)
        sf.write(noise_out / p.name, x, sr, subtype="PCM_16")
    table.append(f"| `{NOISE_FOLDER}` | {len(noise)} files, first {NOISE_SECONDS} s each |")
    print(f"{NOISE_FOLDER}: {len(noise)} files cut to {NOISE_SECONDS} s")

    shutil.copyfile(args.src / "LICENSE", args.out / "LICENSE")
    (args.out / "README.md").write_text(README.format(table="\n".join(table), noise_s=NOISE_SECONDS))
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{args.out}: {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
