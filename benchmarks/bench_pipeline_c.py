"""Size, compute and instruction counts of a run's exported device library.

Generates the C library of a trained, quantized run (what `kwsdk export`
writes) with its stdio test driver (kws_main), runs it under `valgrind
--tool=callgrind` on a fixed input (--seconds of real speech clips from
--data, picked deterministically and concatenated with 0.25 s gaps of quiet
noise, one continuous record fed one hop per call) and reports, from
`callgrind_annotate --inclusive=yes`, instructions (Ir) per second of audio
and per frame for the whole pipeline and its parts, next to the model's
parameters, its multiply-accumulates (MACs) per second of audio and the
library's constant and RAM sizes.

    .venv/bin/python benchmarks/bench_pipeline_c.py [--run RUN] [--data DIR] [--seconds S] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from _common import (add_data_arg, build, callgrind, compiler_version, load_data, print_table, require_tools,
                     speech_pcm)
from kwsdk.codegen.library import driver_source
from kwsdk.config import ConfigError
from kwsdk.export import footprint, library_sources, load_quantized
from kwsdk.codegen.hostbuild import STRICT_CFLAGS, write_sources
from kwsdk.pipeline import PipelineOptions
from kwsdk.verify.harness import trace_dtype

DEFAULT_RUN = Path("/work/runs/float")
GAP_S = 0.25
GATES = {"gru": 3, "lstm": 4}
PIPELINE = "pipeline"
HEAD_REST = "head: linear + rest"
STEP_REST = "rest of kws_step"


def rows_for(cell: str) -> list[tuple[str, str, str | None]]:
    """(row label, key in the counts, key in the MAC figures). The driver
    calls kws_frontend_feed, then kws_step (VAD, model, detector) per frame."""
    rnn = f"kws_{cell}_q15"
    return [(f"{PIPELINE} (kws_frontend_feed + kws_step)", PIPELINE, "model"),
            ("frontend (kws_frontend_feed)", "kws_frontend_feed", None),
            ("vad (kws_vad_process)", "kws_vad_process", None),
            ("model (kws_model_step)", "kws_model_step", "model"),
            (f"  recurrent layers ({rnn})", rnn, "recurrent"),
            ("  softmax (kws_softmax_q15)", "kws_softmax_q15", None),
            # kws_linear_s8/s16's inclusive count sums its calls from the
            # layers and from kws_model_step, so the head is the remainder.
            (f"  {HEAD_REST}", HEAD_REST, "head"),
            ("detector (kws_detector_step)", "kws_detector_step", None),
            (STEP_REST, STEP_REST, None)]


def model_figures(q) -> dict:
    """Parameters (weights + biases, from the quantized arrays) and MACs per
    frame of the matrix-vector products; the few elementwise products of
    the gates are not counted."""
    params = sum(lin.w.size + lin.bias.size for l in q.layers for lin in (l.ih, l.hh))
    params += q.head.w.size + q.head.bias.size
    g, h = GATES[q.cell], q.hidden
    recurrent = sum(g * h * ((q.n_features if i == 0 else h) + h) for i in range(len(q.layers)))
    head = q.n_classes * h
    # Every weight is used once per frame: the formula must equal the arrays.
    weights = sum(l.ih.w.size + l.hh.w.size for l in q.layers) + q.head.w.size
    return {"parameters": int(params), "macs_per_frame": {"recurrent": recurrent, "head": head,
                                                          "model": recurrent + head},
            "macs_match_weights": recurrent + head == weights}


def measure(files: dict[str, str], cell: str, record: np.ndarray, hop: int, work: Path,
            cflags: list[str]) -> tuple[dict[str, int], int, np.ndarray, list[str]]:
    """Callgrind counts, frame count, the driver's output and the flags
    used; adds -fno-inline when a measured function has no entry of its own."""
    src = write_sources({**files, "kws_main.c": driver_source(cell)}, work / "src")
    in_path = work / "in.bin"
    with open(in_path, "wb") as f:  # kws_main's input: uint32 n, then n int16 samples
        f.write(np.uint32(len(record)).tobytes())
        f.write(record.astype("<i2").tobytes())
    wanted = [key for _, key, _ in rows_for(cell) if key.startswith("kws_")] + ["kws_step"]
    for flags in (cflags, cflags + ["-fno-inline"]):
        exe = build(src, work / "kws_main", flags)
        counts, frames = callgrind(exe, in_path, hop, work)
        missing = [fn for fn in wanted if fn not in counts]
        if not missing:
            return counts, frames, work / "frames.bin", flags
    raise SystemExit(f"no callgrind entry for {', '.join(missing)} even with {' '.join(flags)}")


def derive(counts: dict[str, int], cell: str, linear: str) -> dict[str, int]:
    rnn = f"kws_{cell}_q15"
    ir = {fn: counts[fn] for fn in ("kws_frontend_feed", "kws_step", "kws_vad_process", "kws_model_step", rnn,
                                    "kws_softmax_q15", "kws_detector_step", linear)
          if fn in counts}
    ir[PIPELINE] = ir["kws_frontend_feed"] + ir["kws_step"]
    ir[HEAD_REST] = ir["kws_model_step"] - ir[rnn] - ir["kws_softmax_q15"]
    ir[STEP_REST] = ir["kws_step"] - ir["kws_vad_process"] - ir["kws_model_step"] - ir["kws_detector_step"]
    return ir


def fmt_int(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def main() -> None:
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[:2]))
    p.add_argument("--run", type=Path, default=DEFAULT_RUN,
                   help=f"trained and quantized run folder (RUN/quant/model_q.npz; default {DEFAULT_RUN})")
    add_data_arg(p)
    p.add_argument("--seconds", type=float, default=10.0, help="length of the input (default 10 s)")
    p.add_argument("--cflags", default="-O2",
                   help="optimisation flags, space-separated (default -O2, as shipped); the strict warning "
                        "flags are always added, and -fno-inline if a measured function got inlined")
    p.add_argument("--keep", type=Path, help="build and run in this folder and keep it (default: a temporary one)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the tables")
    args = p.parse_args()
    require_tools(p)

    try:
        cfg, q = load_quantized(args.run)
        files, meta = library_sources(args.run, PipelineOptions())
    except ConfigError as e:
        p.error(str(e))
    sr, hop = meta["sample_rate"], meta["hop_size"]
    ds = load_data(p, args.data, sr)
    pcm, n_clips = speech_pcm(ds, args.seconds, sr, GAP_S)
    audio_s = len(pcm) / sr
    fps = sr / hop
    model = model_figures(q)
    sizes = footprint(files)

    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        counts, frames, out_path, flags = measure(files, q.cell, pcm, hop, work, args.cflags.split())
        n_state = len(q.layers) * q.hidden * (2 if q.cell == "lstm" else 1)
        trace = np.fromfile(out_path, trace_dtype(q.n_features, q.n_classes, n_state))
    linear = f"kws_linear_s{q.weight_bits}"
    ir = derive(counts, q.cell, linear)
    macs = model["macs_per_frame"]
    rnn = f"kws_{q.cell}_q15"
    ir_per_mac = {"recurrent": ir[rnn] / (frames * macs["recurrent"]),
                  "model": ir["kws_model_step"] / (frames * macs["model"])}
    if linear in ir:  # the matrix-vector kernel alone, all its calls
        ir_per_mac[linear] = ir[linear] / (frames * macs["model"])
    activity = {"frames": frames, "vad_on_frames": int((trace["vad"] != 0).sum()),
                "events": int((trace["fired"] != 0).sum())}
    cc = compiler_version()

    if args.json:
        print(json.dumps({
            "run": str(args.run), "data": str(args.data), "clips": n_clips, "gap_s": GAP_S, "audio_seconds": audio_s,
            "frames_per_second": fps, "compiler": cc, "cflags": STRICT_CFLAGS + flags,
            "model": {"cell": q.cell, "layers": len(q.layers), "hidden": q.hidden, "n_features": q.n_features,
                      "n_classes": q.n_classes, "weight_bits": q.weight_bits, **model},
            "macs_per_second": {k: v * fps for k, v in macs.items()},
            "sizes": {"weights": q.weight_bytes(), **sizes}, "activity": activity,
            "ir": ir, "ir_per_second": {k: v / audio_s for k, v in ir.items()},
            "ir_per_frame": {k: v / frames for k, v in ir.items()}, "ir_per_mac": ir_per_mac}))
        return

    print(f"run: {args.run} ({len(q.layers)} x {q.hidden} {q.cell.upper()}, {q.n_features} features, "
          f"{q.n_classes} classes, int{q.weight_bits} weights; {cfg.features.preset} frontend, "
          f"{fps:g} frames/s)")
    print(f"input: {audio_s:g} s: {n_clips} speech clips from {args.data} with {GAP_S:g} s gaps of quiet noise, "
          f"one record fed one hop per call; {frames} frames, VAD on in {activity['vad_on_frames']}, "
          f"{activity['events']} keyword events")
    inlined = flags != args.cflags.split()
    print(f"build: {cc}; {' '.join(STRICT_CFLAGS + flags)}"
          + (" (-fno-inline added: a measured function was inlined at the given flags)" if inlined else
             " (every function below kept its own callgrind entry: nothing measured was inlined)"))
    print("counts: callgrind Ir, inclusive; MACs: the model's matrix-vector products")
    print()
    rows = []
    for label, key, mac_key in rows_for(q.cell):
        v = ir[key]
        row = [label, f"{v / audio_s / 1e6:.3f}", fmt_int(v / frames)]
        if mac_key:
            row += [f"{macs[mac_key] * fps / 1e6:.3f}", f"{v / (frames * macs[mac_key]):.2f}"]
        else:
            row += ["-", "-"]
        rows.append(row)
    if linear in ir:
        v = ir[linear]
        rows.append([f"{linear}, all calls (layers + head)", f"{v / audio_s / 1e6:.3f}", fmt_int(v / frames),
                     f"{macs['model'] * fps / 1e6:.3f}", f"{ir_per_mac[linear]:.2f}"])
    print_table(["part (function)", "M Ir/s", "Ir/frame", "M MAC/s", "Ir/MAC"], rows)
    print("Ir/MAC of the pipeline row: all of it over the model's MACs")
    print()
    print_table(["figure", "value"], [
        ["parameters (weights + biases)", fmt_int(model["parameters"])],
        [f"MACs per frame (recurrent {fmt_int(macs['recurrent'])} + head {fmt_int(macs['head'])})",
         fmt_int(macs["model"])],
        [f"weights, int{q.weight_bits} (bytes)", fmt_int(q.weight_bytes())],
        ["model constants: weights + per-row scales, shifts, biases (bytes)", fmt_int(sizes["weight_bytes"])],
        ["other constant tables: frontend, VAD, activations, detector (bytes)", fmt_int(sizes["table_bytes"])],
        ["state + scratch RAM, sizeof(kws_t) (bytes)", fmt_int(sizes["state_bytes"])],
        ["code, host build (kws_* functions, bytes)", fmt_int(sizes["code_bytes_host"])],
    ])
    print("sizes: kwsdk.export.footprint (nm on the host shared library, and kws_state_size()); "
          f"MACs equal the weight count: {'yes' if model['macs_match_weights'] else 'NO'}")


if __name__ == "__main__":
    main()
