"""`kwsdk verify`: the parity harness. Runs a run's exported library (built
for a target, driven by the stdio test driver kws_main.c) and checks it
three ways:

1. C vs the Python integer reference (kwsdk.pipeline.IntPipeline), every
   frame of every clip of the split: features, posteriors, model state, VAD
   output and detector events must be identical (`c_mismatches`: frames that
   differ; target 0).
2. C vs PyTorch float: top-1 clip decisions (`agreement`, target >= 0.99)
   and the accuracy of each (`accuracy_float`, `accuracy_device`).
3. Streaming: the C pipeline fed a long continuous stream in odd-sized
   chunks, against the reference on the same samples: identical event lists
   (`events_identical`).

Targets: "host" (native build), "host-sanitize" (the same under
AddressSanitizer + UBSan), and "cortex-m3", "cortex-m4", "cortex-m7": the
test firmware for the core, run on QEMU's mps2 board with semihosting
("cortex-m0plus": on its micro:bit, a Cortex-M0 with the same instruction set);
"rpi-aarch64" and "rpi-armhf": the driver cross-compiled for the Raspberry
Pi's 64- and 32-bit OS, run under user-mode QEMU. "litert" and "tflm" run
the exported .tflite instead, as referees (kwsdk.verify.tflite).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kwsdk.config import ConfigError, DetectorConfig
from kwsdk.detector import clip_decisions
from kwsdk.export import device_detector, device_layout, load_quantized
from kwsdk.pipeline import IntPipeline, PipelineOptions
from kwsdk.verify.harness import (STREAM_CHUNK, TFLITE_TARGETS, compare, get_target, record_mismatches,
                                  reference_records, run_c)


def verify(run_dir: Path, data_dir: Path, target: str = "host", split: str = "test", stream_minutes: float = 10.0,
           chunk: int = 333, seed: int = 0, cache_dir: Path | None = None, progress: bool = True,
           options: PipelineOptions | None = None, det: DetectorConfig | None = None, log=print,
           wide: bool = False) -> dict:
    """`wide`: DSP cores' int8 weights stored as int16 (kwsdk.codegen.model.weight_layout)."""
    from kwsdk.evaluate import load_run_and_split
    from kwsdk.evaluate import clip_features, posteriors

    if target in TFLITE_TARGETS:
        from kwsdk.verify.tflite import verify_tflite

        if wide:
            raise ConfigError("--wide-weights is for kwsdk's C targets, not the TFLite runtimes")
        return verify_tflite(run_dir, data_dir, target, split, stream_minutes, chunk, seed, cache_dir, progress,
                             det, log)
    tgt = get_target(target)
    options = options or PipelineOptions()
    run_dir = Path(run_dir)
    _, q = load_quantized(run_dir)
    cfg, cats, model, ds, clips = load_run_and_split(run_dir, data_dir, split, cache_dir, progress)
    det = det or device_detector(run_dir, cfg)
    c = run_c(tgt, run_dir, q, cfg, cats, clips, ds.noise, det, options, chunk, stream_minutes, seed, log, wide)
    c_clips, c_stream, stream, frames = c.clips, c.stream_records, c.stream, c.frames
    pipe = IntPipeline(cfg.features, cfg.vad, q, det, options)
    per_clip, first = record_mismatches(c_clips, pipe, c.pcms, [str(c.path) for c in clips])
    bad_frames = sum(int(b.sum()) for b in per_clip)
    bad_clips = [str(c.path) for c, b in zip(clips, per_clip) if b.any()]
    pipe.reset()
    ref_stream = pipe.run(stream)
    ref_stream_records = reference_records(ref_stream, c_stream.dtype)
    stream_bad, stream_first = compare(c_stream, ref_stream_records, 0, "stream")
    first = first or stream_first
    c_events = [(int(t), int(r["keyword"]), int(r["score"]), int(r["sample"]))
                for t, r in enumerate(c_stream) if r["fired"]]
    ref_events = [(e.frame, e.keyword, e.score_q15, e.sample) for e in ref_stream.events]

    true = np.array([cats.index(c.label) for c in clips])
    p_float = posteriors(model, clip_features(clips, cfg, cache_dir))
    p_dev = c_clips["posteriors"].reshape(len(clips), frames, -1) / 32768.0
    pred_float = clip_decisions(p_float, cats, det)
    pred_dev = clip_decisions(p_dev, cats, det)
    return {
        "target": tgt.name, "split": split, "n_clips": len(clips), "n_frames": len(c_clips) + len(c_stream),
        "c_mismatches": bad_frames + int(stream_bad.sum()), "c_mismatch_clips": bad_clips[:20],
        "first_difference": first,
        "agreement": float((pred_float == pred_dev).mean()),
        "accuracy_float": float((pred_float == true).mean()), "accuracy_device": float((pred_dev == true).mean()),
        "events_identical": c_events == ref_events, "n_events": len(c_events),
        "stream_seconds": len(stream) / cfg.features.sample_rate, "chunk": chunk, "stream_chunk": STREAM_CHUNK,
        "clip_floor": det.clip_floor, "options": {"vad_reset": options.vad_reset, "vad_gate": options.vad_gate},
        "weight_layout": device_layout(q, tgt.cpu, wide),
        **({"firmware_memory": c.memory} if c.memory else {}),
    }
