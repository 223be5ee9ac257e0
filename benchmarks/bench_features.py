"""Float frontend throughput, in times real time on one CPU core.

Feeds real speech (every clip of --data, concatenated) through
kwsdk.frontend.features.Frontend for each preset, offline (`compute` over
the whole signal) and streaming (`process` in 20 ms chunks), and reports the
best of --repeats runs.

    .venv/bin/python benchmarks/bench_features.py [--data DIR] [--seconds S] [--json]
"""

import os

# One core: BLAS/OpenMP read these only when numpy is first imported.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from _common import default_data, print_table  # noqa: E402
from kwsdk.config import DataConfig, feature_preset  # noqa: E402
from kwsdk.data import DataError, load_dataset  # noqa: E402
from kwsdk.frontend.features import Frontend  # noqa: E402

PRESETS = ("default", "ell")
TARGET = 5000  # x real time on one core
CONTEXT = f"ELL's featurizer did roughly 100x; kwsdk's target is >= {TARGET}x on one core"


def pin_one_core() -> str:
    """Restrict this process to its first allowed CPU; returns which, for the report."""
    if not hasattr(os, "sched_setaffinity"):  # macOS, Windows: only the thread variables apply
        return "any (affinity unsupported)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return str(cpu)


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def streaming(fe: Frontend, audio: np.ndarray, chunk: int) -> None:
    fe.reset()
    for i in range(0, len(audio), chunk):
        fe.process(audio[i : i + chunk])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] + " " + CONTEXT + ".")
    p.add_argument("--data", type=Path, default=default_data(),
                   help="Speech Commands-layout folder (default: ../shared/data/speech_commands_dev, "
                        "else the sample shipped in kwsdk/sample_data)")
    p.add_argument("--seconds", type=float, default=0.0, help="use only the first S seconds of audio (0: all)")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement; the best counts (default 3)")
    p.add_argument("--chunk-ms", type=float, default=20.0, help="streaming chunk length (default 20 ms)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = p.parse_args()

    cpu = pin_one_core()
    sr = feature_preset("default").sample_rate  # both presets run at 16 kHz
    try:
        clips = load_dataset(args.data, DataConfig(), sr, progress=False).split("all")
    except DataError as e:
        p.error(str(e))
    audio = np.concatenate([c.audio for c in clips])
    if args.seconds > 0:
        audio = audio[: int(args.seconds * sr)]
    audio_s = len(audio) / sr
    chunk = int(args.chunk_ms * sr / 1000)

    results = []
    for name in PRESETS:
        fe = Frontend(feature_preset(name))
        for mode, fn in (("offline", lambda: fe.compute(audio)),
                         (f"stream {args.chunk_ms:g} ms", lambda: streaming(fe, audio, chunk))):
            wall = best_time(fn, args.repeats)
            results.append({"preset": name, "mode": mode, "audio_seconds": audio_s,
                            "wall_seconds": wall, "x_realtime": audio_s / wall})

    if args.json:
        print(json.dumps({"data": str(args.data), "clips": len(clips), "cpu": cpu,
                          "repeats": args.repeats, "target_x_realtime": TARGET, "results": results}))
        return
    print(f"data: {args.data} ({len(clips)} clips, {audio_s:.1f} s), cpu {cpu}, "
          f"best of {args.repeats}")
    print_table(["preset", "mode", "audio s", "wall s", "x real time"],
                [[r["preset"], r["mode"], f"{r['audio_seconds']:.1f}", f"{r['wall_seconds']:.4f}",
                  f"{r['x_realtime']:,.0f}"] for r in results])
    print(CONTEXT)


if __name__ == "__main__":
    main()
