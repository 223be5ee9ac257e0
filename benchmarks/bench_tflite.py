"""Host CPU time per second of audio of one quantized model in three
runtimes, measured in one run: kwsdk's generated C (built -O2, called
through ctypes), LiteRT (`ai_edge_litert`, one thread) and the TFLite Micro
Python interpreter, each stepping the same model frame by frame on the
same integer features of real speech; and the model bytes of the .tflite
files against kwsdk's weight arrays.

Every runtime is driven from the same Python loop, one call per frame, so
each figure includes that runtime's per-call overhead from Python, as the
daemon pays it. Agreement of the posteriors with kwsdk's C is printed
alongside (top-1 per frame and the largest q15 difference).

    .venv/bin/python benchmarks/bench_tflite.py [--run RUN] [--data DIR] [--seconds S] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import add_data_arg, load_data, print_table, speech_pcm
from kwsdk.config import ConfigError
from kwsdk.export import device_detector, load_quantized
from kwsdk.frontend.integer import IntegerFrontend
from kwsdk.codegen.cmodel import CModel
from kwsdk.tflite.export import FLOAT_FILE, QUANT_FILE, tflite_models
from kwsdk.tflite.runtime import TfliteStep

DEFAULT_RUN = Path("/work/runs/float")
REPEATS = 3  # best of: the least disturbed run


def cpu_seconds(step, features: np.ndarray, reset) -> tuple[float, np.ndarray]:
    """Best-of-REPEATS CPU seconds of stepping every frame from a reset state, and the posteriors."""
    best, out = float("inf"), None
    for _ in range(REPEATS):
        reset()
        t = time.process_time()
        out = [step(f) for f in features]
        best = min(best, time.process_time() - t)
    return best, np.array(out, np.int64).reshape(len(features), -1)


def main() -> None:
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[:2]))
    p.add_argument("--run", type=Path, default=DEFAULT_RUN, help=f"quantized run folder (default {DEFAULT_RUN})")
    add_data_arg(p)
    p.add_argument("--seconds", type=float, default=20.0, help="seconds of speech (default 20)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    a = p.parse_args()
    try:
        cfg, q = load_quantized(a.run)
        models = tflite_models(a.run, cfg, q, device_detector(a.run, cfg))
    except ConfigError as e:
        p.error(str(e))
    ds = load_data(p, a.data, cfg.features.sample_rate)
    pcm, _ = speech_pcm(ds, a.seconds, cfg.features.sample_rate, gap_s=0.25)
    feats = IntegerFrontend(cfg.features).analyze(pcm).features
    audio_s = len(pcm) / cfg.features.sample_rate
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        c = CModel(q, Path(tmp))
        t_c, p_c = cpu_seconds(c.step, feats, c.reset)
        rows.append({"runtime": "kwsdk C (-O2, ctypes)", "model": "kwsdk int8", "cpu_s": t_c, "post": p_c,
                     "bytes": q.weight_bytes()})
    for runtime in ("litert", "tflm"):
        for name in (QUANT_FILE, FLOAT_FILE):
            s = TfliteStep(models[name], runtime)
            t, post = cpu_seconds(lambda f: s.step(f[None])[0], feats, s.reset)
            rows.append({"runtime": runtime, "model": name, "cpu_s": t, "post": post, "bytes": len(models[name])})
    for r in rows:
        r["ms_per_audio_s"] = 1e3 * r["cpu_s"] / audio_s
        r["us_per_frame"] = 1e6 * r["cpu_s"] / len(feats)
        r["times_realtime"] = audio_s / r["cpu_s"]
        r["top1_agreement_c"] = float((r["post"].argmax(1) == p_c.argmax(1)).mean())
        r["max_diff_q15_c"] = int(np.abs(r.pop("post") - p_c).max())
    res = {"run": str(a.run), "audio_seconds": audio_s, "frames": len(feats), "macs_per_frame": q.macs_per_frame(),
           "rows": rows}
    if a.json:
        print(json.dumps(res))
        return
    print(f"{a.run}: {q.cell.upper()} {len(q.layers)} x {q.hidden}, {q.macs_per_frame():,} MACs per frame; "
          f"{audio_s:.1f} s of speech, {len(feats):,} frames; CPU time, best of {REPEATS}")
    print_table(["runtime", "model", "model bytes", "CPU ms per s of audio", "us per frame", "x real time",
                 "top-1 = C", "max |diff| q15"],
                [[r["runtime"], r["model"], f"{r['bytes']:,}", f"{r['ms_per_audio_s']:.2f}",
                  f"{r['us_per_frame']:.1f}", f"{r['times_realtime']:.0f}", f"{r['top1_agreement_c']:.4f}",
                  r["max_diff_q15_c"]] for r in rows])


if __name__ == "__main__":
    main()
