"""kwsdk's data path at the size of the full Speech Commands v0.02.

Writes, in a temporary folder, a synthetic data set of the full set's shape
(--clips one-second 16 kHz wavs in 35 word folders, about 2,600 speakers,
with validation_list.txt and testing_list.txt), made by perturbing the dev
set's clips (gain, shift, speed, noise): it is NOT real speech of that
many speakers, only data of that size. Then, each in a fresh process:
- a cold load (scan, decode, write the cache) and a warm load (from the
  cache), with files per second and the cache's size on disk;
- a warm start: what `kwsdk train` does before its first step with the
  cache warm (load, place the training clips, validation features);
- the peak resident memory of each (VmHWM of that process);
- training throughput (utterances placed in training streams per second,
  as benchmarks/bench_train.py measures it, `kwsdk train`'s way) for
  --steps steps on the synthetic set and on the dev set, in the same run,
  and their ratio: the cost per utterance should not grow with the data.

    .venv/bin/python benchmarks/bench_scale.py [--clips 105829 | --small] [--steps 20] [--keep DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

from _common import DEV_DATA, print_table

FULL_CLIPS = 105_829
SMALL_CLIPS = 3_500  # 100 per word: enough to check the script in a test
WORDS = ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "zero", "one", "two", "three",
         "four", "five", "six", "seven", "eight", "nine", "bed", "bird", "cat", "dog", "happy", "house", "marvin",
         "sheila", "tree", "wow", "backward", "forward", "follow", "learn", "visual"]
SPEAKERS = 2_618  # as in the full set
SR = 16000


def sources(dev: Path) -> dict[str, list[np.ndarray]]:
    """Dev-set clips per word: a keyword's folder, or the _unknown_ files named
    after the word; a word the dev set lacks borrows every _unknown_ clip."""
    out: dict[str, list[np.ndarray]] = {}
    unknown = sorted((dev / "_unknown_").glob("*.wav"))
    for w in WORDS:
        files = sorted((dev / w).glob("*.wav")) if (dev / w).is_dir() else [f for f in unknown
                                                                              if f.name.split("_")[0] == w]
        out[w] = [sf.read(f, dtype="float32")[0] for f in (files or unknown)]
    return out


def perturb(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Speed 0.85-1.15, shift +-0.2 s, gain -12..+3 dB, noise 20-40 dB below: one second of int16."""
    speed = rng.uniform(0.85, 1.15)
    x = np.interp(np.arange(0, len(x), speed), np.arange(len(x)), x)
    out = np.zeros(SR)
    shift = int(rng.integers(-SR // 5, SR // 5))
    src = x[max(0, -shift):][: SR - max(0, shift)]
    out[max(0, shift) : max(0, shift) + len(src)] = src
    out *= 10 ** (rng.uniform(-12, 3) / 20)
    rms = np.sqrt(np.mean(out**2)) + 1e-6
    out += rng.standard_normal(SR) * rms * 10 ** (-rng.uniform(20, 40) / 20)
    return np.clip(np.round(out * 32767), -32768, 32767).astype(np.int16)


def write_part(args) -> list[str]:
    root, dev, part, jobs = args
    src = sources(Path(dev))
    rng = np.random.default_rng(part)
    names = []
    for word, speaker, n in jobs:
        pool = src[word]
        rel = f"{word}/{speaker:08x}_nohash_{n}.wav"
        sf.write(Path(root) / rel, perturb(rng, pool[rng.integers(len(pool))]), SR, subtype="PCM_16")
        names.append(rel)
    return names


def make_dataset(root: Path, dev: Path, clips: int, workers: int) -> float:
    """The synthetic set in root; returns the seconds it took."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    for w in WORDS:
        (root / w).mkdir(parents=True, exist_ok=True)
    shutil.copytree(dev / "_background_noise_", root / "_background_noise_")
    speakers = rng.integers(0, 2**32, SPEAKERS)
    jobs, count = [], {}
    for i in range(clips):
        word, spk = WORDS[i % len(WORDS)], int(speakers[rng.integers(SPEAKERS)])
        count[(word, spk)] = count.get((word, spk), -1) + 1
        jobs.append((word, spk, count[(word, spk)]))
    parts = [(str(root), str(dev), k, jobs[k::workers * 8]) for k in range(workers * 8)]
    with ProcessPoolExecutor(workers) as pool:
        names = [n for part in pool.map(write_part, parts) for n in part]
    # Lists by speaker, 10% each, as Google's which_set does by hash.
    split = {s: ("val" if s % 10 == 0 else "test" if s % 10 == 1 else "train") for s in set(int(x) for x in speakers)}
    for name, lst in (("val", "validation_list.txt"), ("test", "testing_list.txt")):
        (root / lst).write_text("\n".join(n for n in names if split[int(n.split("/")[1].split("_")[0], 16)] == name))
    return time.perf_counter() - t0


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def phase_load(args) -> dict:
    from kwsdk.config import DataConfig
    from kwsdk.data import load_dataset

    t0 = time.perf_counter()
    ds = load_dataset(args.root, DataConfig(), SR, progress=False, cache_dir=args.cache)
    return {"seconds": time.perf_counter() - t0, "clips": len(ds.clips), "skipped": len(ds.skipped),
            "peak_rss_bytes": peak_rss_bytes()}


def phase_start(args) -> dict:
    """What `kwsdk train` does before its first step: load, place the
    training clips (word bounds), the validation clips' features."""
    from kwsdk.config import RunConfig
    from kwsdk.evaluate import clip_features
    from kwsdk.train import prepare_data

    t0 = time.perf_counter()
    cfg = RunConfig()
    prep = prepare_data(args.root, cfg, args.cache, progress=False)
    loaded = time.perf_counter() - t0
    clip_features(prep.dataset.split("val"), cfg, args.cache)
    return {"seconds": time.perf_counter() - t0, "prepare_seconds": loaded, "peak_rss_bytes": peak_rss_bytes()}


def phase_train(args) -> dict:
    from bench_train import measure

    os.environ["KWSDK_CACHE"] = str(args.cache)
    res = measure(argparse.Namespace(data=Path(args.root), config=None, steps=args.steps, threads=None, way="train"),
                  argparse.ArgumentParser())
    return {**res, "peak_rss_bytes": peak_rss_bytes()}


def run_phase(phase: str, root: Path, cache: Path, steps: int) -> dict:
    p = subprocess.run([sys.executable, __file__, "--phase", phase, "--root", str(root), "--cache", str(cache),
                        "--steps", str(steps)], capture_output=True, text=True,
                       env={**os.environ, "KWSDK_CACHE": str(cache)}, cwd=Path(__file__).parent)
    if p.returncode != 0:
        raise SystemExit(f"bench_scale: the {phase} phase on {root} failed:\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clips", type=int, default=FULL_CLIPS, help=f"synthetic clips (default {FULL_CLIPS:,})")
    p.add_argument("--small", action="store_true", help=f"{SMALL_CLIPS:,} clips: checks that the script works")
    p.add_argument("--steps", type=int, default=20, help="timed training steps per data set (default 20)")
    p.add_argument("--keep", type=Path, help="write the synthetic set here and keep it (default: a temporary folder)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--phase", choices=["load", "start", "train"], help=argparse.SUPPRESS)
    p.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.phase:  # a child process: one measurement, one JSON line
        print(json.dumps({"load": phase_load, "start": phase_start, "train": phase_train}[args.phase](args)))
        return
    if not DEV_DATA.is_dir():
        p.error(f"needs the dev set at {DEV_DATA} to perturb")
    clips = SMALL_CLIPS if args.small else args.clips
    with tempfile.TemporaryDirectory(prefix="kwsdk-scale-") as tmp:
        root = args.keep or Path(tmp) / "data"
        cache, dev_cache = Path(tmp) / "cache", Path(tmp) / "dev-cache"
        made = make_dataset(root, DEV_DATA, clips, os.cpu_count() or 1)
        cold = run_phase("load", root, cache, args.steps)
        warm = run_phase("load", root, cache, args.steps)
        run_phase("start", root, cache, args.steps)  # computes the validation features once
        start = run_phase("start", root, cache, args.steps)
        train = run_phase("train", root, cache, args.steps)
        run_phase("load", DEV_DATA, dev_cache, args.steps)  # the dev set's cache, so its training starts warm
        dev = run_phase("train", DEV_DATA, dev_cache, args.steps)
        res = {"synthetic": "dev-set clips perturbed (gain, shift, speed, noise): data of this size, "
                            "not this many speakers' speech", "clips": clips, "data_bytes": folder_bytes(root),
               "make_seconds": made, "cold_load": cold, "warm_load": warm,
               "cold_files_per_second": clips / cold["seconds"], "warm_files_per_second": clips / warm["seconds"],
               "cache_bytes": folder_bytes(cache), "warm_start": start, "train": train, "dev_train": dev,
               "utterances_per_second_ratio": train["utterances_per_s"] / dev["utterances_per_s"]}
    if args.json:
        print(json.dumps(res, indent=2))
        return
    gb = 1e9
    print(f"{clips:,} synthetic clips ({res['synthetic']}), {res['data_bytes'] / gb:.2f} GB, "
          f"written in {made:.0f} s")
    print_table(["step", "seconds", "files/s", "peak RSS"], [
        ["cold load (scan, decode, cache)", f"{cold['seconds']:.1f}", f"{res['cold_files_per_second']:,.0f}",
         f"{cold['peak_rss_bytes'] / gb:.2f} GB"],
        ["warm load (cache)", f"{warm['seconds']:.1f}", f"{res['warm_files_per_second']:,.0f}",
         f"{warm['peak_rss_bytes'] / gb:.2f} GB"],
        ["warm start (load, place clips, validation features)", f"{start['seconds']:.1f}", "",
         f"{start['peak_rss_bytes'] / gb:.2f} GB"],
        [f"training, {args.steps} steps", f"{train['total_seconds']:.1f}", "",
         f"{train['peak_rss_bytes'] / gb:.2f} GB"],
        [f"training on the dev set, {args.steps} steps", f"{dev['total_seconds']:.1f}", "",
         f"{dev['peak_rss_bytes'] / gb:.2f} GB"]])
    print(f"cache on disk {res['cache_bytes'] / gb:.2f} GB; utterances per second in training: "
          f"{train['utterances_per_s']:.1f} here, {dev['utterances_per_s']:.1f} on the dev set "
          f"(ratio {res['utterances_per_second_ratio']:.2f})")


if __name__ == "__main__":
    main()
