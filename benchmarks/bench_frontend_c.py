"""Instruction counts and memory of the generated C frontend and VAD.

Builds the stdio test driver (kws_frontend_main) for each preset, runs it
under `valgrind --tool=callgrind` on a fixed input (--seconds of real speech
clips from --data, picked deterministically and concatenated, fed one hop at
a time) and reports, from `callgrind_annotate --inclusive=yes`, instructions
(Ir) per second of audio and per frame for the whole frontend, each stage and
the VAD. Inclusive counts as callgrind gives them: nothing is subtracted, so
a stage includes the helpers it calls. Also: the constant tables' sizes (nm on
the executable) and the state structs' sizes.

    .venv/bin/python benchmarks/bench_frontend_c.py [--data DIR] [--seconds S] [--mfcc [N]] [--repeat R] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import tempfile
from pathlib import Path

import numpy as np

from _common import (add_data_arg, build, callgrind, compiler_version, load_data, print_table, require_tools,
                     speech_pcm)
from kwsdk.config import feature_preset
from kwsdk.codegen.cfrontend import CFrontend, write_frontend_sources
from kwsdk.codegen.hostbuild import STRICT_CFLAGS, nm_sizes

PRESETS = ("default", "ell")
# (row label, function). "frontend" is kws_frontend_feed: framing (buffer
# copies) plus kws_frontend_frame, which calls the stages; the VAD is called
# by the driver after each frame. gcc may inline kws_frontend_frame (a few
# calls) into kws_frontend_feed: its row then shows "-" (FOLDED), the stages
# keep their own.
STAGES = [("frontend", "kws_frontend_feed"), ("frame", "kws_frontend_frame"), ("fft", "kws_fft_q31"),
          ("spectrum", "kws_spectrum_u64"), ("mel", "kws_mel_q15"), ("log", "kws_log_s16"), ("dct", "kws_dct_q15"),
          ("vad", "kws_vad_process")]
FOLDED = {"kws_frontend_frame"}
TOTAL = "frontend + vad"
TABLE_SYMBOL = re.compile(r"kws_(\w+_table|fft_\w+|split_\w+|mel_\w+|log2_\w+|vad_weight_\w+)")
C_DECL = re.compile(r"static const (u?int(?:8|16|32|64)_t) (kws_\w+)\[(\d+)\]")


def configs(mfcc: int) -> list:
    out = [feature_preset(name) for name in PRESETS]
    if mfcc:
        out += [dataclasses.replace(c, preset=f"{c.preset}+mfcc{mfcc}", n_mfcc=mfcc) for c in out]
    return out


def build_driver(cfg, build_dir: Path, cflags: list[str]) -> Path:
    return build(write_frontend_sources(cfg, build_dir / "src", driver=True), build_dir / "kws_frontend_main", cflags)


def declared_tables(src_dir: Path) -> dict[str, int]:
    """name -> bytes of the `static const` arrays in the generated C."""
    out = {}
    for f in src_dir.glob("*.c"):
        for ctype, name, n in C_DECL.findall(f.read_text()):
            out[name] = int(n) * int(re.search(r"\d+", ctype).group()) // 8
    return out


def measure(cfg, pcm: np.ndarray, work: Path, cflags: list[str], repeat: int) -> dict:
    exe = build_driver(cfg, work, cflags)
    pcm_path = work / "in.pcm"
    pcm_path.write_bytes(pcm.astype("<i2").tobytes())
    runs = [callgrind(exe, pcm_path, cfg.hop_size, work) for _ in range(repeat)]
    counts, frames = dict(runs[0][0]), runs[0][1]
    wanted = [fn for _, fn in STAGES if (fn != "kws_dct_q15" or cfg.n_mfcc) and fn not in FOLDED]
    missing = [fn for fn in wanted if fn not in counts]
    if missing:
        raise SystemExit(f"{cfg.preset}: no callgrind entry for {', '.join(missing)} (inlined?); "
                         "add e.g. --cflags='-O2 -fno-inline-functions-called-once'")
    counts[TOTAL] = counts["kws_frontend_feed"] + counts["kws_vad_process"]
    syms = nm_sizes(exe)
    tables = {k: n for k, (t, n) in syms.items() if t in "rR" and TABLE_SYMBOL.fullmatch(k)}
    declared = declared_tables(work / "src")
    state = CFrontend(cfg, work / "lib").lib.kws_frontend_state_size()
    return {
        "preset": cfg.preset, "frames": frames, "audio_seconds": len(pcm) / cfg.sample_rate,
        "ir": {fn: counts.get(fn) for _, fn in STAGES} | {TOTAL: counts[TOTAL]},
        "repeatable": all(r == runs[0] for r in runs),
        "tables": dict(sorted(tables.items())),
        "tables_match_source": tables == declared,
        "kws_frontend_t_bytes": int(state),
        "kws_vad_t_bytes": syms.get("vad", (None, None))[1],  # the driver's static kws_vad_t
        "code_bytes": sum(n for k, (t, n) in syms.items() if t in "tT" and k.startswith("kws_")),
    }


def fmt_int(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] + " " + __doc__.split("\n\n")[1])
    add_data_arg(p)
    p.add_argument("--seconds", type=float, default=10.0, help="length of the input (default 10 s)")
    p.add_argument("--mfcc", type=int, nargs="?", const=10, default=0,
                   help="also measure each preset with N MFCCs (the DCT stage); N defaults to 10")
    p.add_argument("--cflags", default="-O2",
                   help="optimisation flags, space-separated (default -O2, as shipped); the strict "
                        "warning flags are always added")
    p.add_argument("--repeat", type=int, default=2, help="callgrind runs per preset, checked identical (default 2)")
    p.add_argument("--keep", type=Path, help="build and run in this folder and keep it (default: a temporary one)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    args = p.parse_args()
    require_tools(p)

    sr = feature_preset("default").sample_rate
    ds = load_data(p, args.data, sr)
    n = int(round(args.seconds * sr))
    pcm, n_clips = speech_pcm(ds, args.seconds, sr)
    cflags = args.cflags.split()
    cc = compiler_version()

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        results = [measure(cfg, pcm, root / cfg.preset, cflags, args.repeat) for cfg in configs(args.mfcc)]

    if args.json:
        print(json.dumps({"data": str(args.data), "clips": n_clips, "audio_seconds": n / sr,
                          "compiler": cc, "cflags": STRICT_CFLAGS + cflags, "repeat": args.repeat,
                          "results": results}))
        return
    print(f"input: {n / sr:g} s of speech ({n_clips} clips from {args.data}), fed one hop per call")
    print(f"build: {cc}; {' '.join(STRICT_CFLAGS + cflags)} (every function below kept its own "
          "callgrind entry unless shown as -: nothing measured was inlined)")
    print(f"counts: callgrind Ir, inclusive; runs per preset: {args.repeat}, identical in all: "
          f"{'yes' if all(r['repeatable'] for r in results) else 'NO'}")
    print()
    heads = ["stage (function)"]
    for r in results:
        heads += [f"{r['preset']} M Ir/s", "Ir/frame"]
    rows = []
    for label, fn in STAGES + [(TOTAL, TOTAL)]:
        row = [f"{label} ({fn})" if fn != TOTAL else label]
        for r in results:
            v = r["ir"][fn]
            row += ["-", "-"] if v is None else [f"{v / r['audio_seconds'] / 1e6:.3f}", fmt_int(v / r["frames"])]
        rows.append(row)
    print_table(heads, rows)
    print("frames: " + ", ".join(f"{r['preset']} {r['frames']} ({1000 * r['audio_seconds'] / r['frames']:.1f} "
                                 "ms of audio each)" for r in results))
    print()
    names = sorted({k for r in results for k in r["tables"]})
    rows = [[k] + [fmt_int(r["tables"].get(k)) for r in results] for k in names]
    rows.append(["total tables"] + [fmt_int(sum(r["tables"].values())) for r in results])
    rows.append(["code, host (kws_* functions)"] + [fmt_int(r["code_bytes"]) for r in results])
    rows.append(["kws_frontend_t (state)"] + [fmt_int(r["kws_frontend_t_bytes"]) for r in results])
    rows.append(["kws_vad_t (state)"] + [fmt_int(r["kws_vad_t_bytes"]) for r in results])
    print_table(["bytes"] + [r["preset"] for r in results], rows)
    print("tables and code: nm --size-sort -S on the executable (tables equal the generated C's declarations: "
          f"{'yes' if all(r['tables_match_source'] for r in results) else 'NO'}); "
          "state: kws_frontend_state_size(), and nm of the driver's static kws_vad_t")


if __name__ == "__main__":
    main()
