"""`kwsdk verify --target litert|tflm`: TFLite runtimes as referees of kwsdk's C.

The run's 16x8 .tflite runs frame by frame in the runtime on the very
features that kwsdk's C frontend computes (the host build of the export's
library, which `kwsdk verify --target host` proves bit-exact with the
Python reference). Against kwsdk's C and against PyTorch float it reports
top-1 clip agreement, accuracy, and the largest posterior difference; on a
long stream, the events of kwsdk's detector fed by each model. The float
.tflite is checked against PyTorch too (graph parity: its largest
difference should be float rounding, about 1e-6).

The 16x8 model differs from kwsdk's C by design (see kwsdk.tflite.model):
different activation approximations and int16 intermediates, so the check
is agreement, not bit-exactness.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kwsdk.detector import clip_decisions

AGREEMENT_MIN = 0.98  # top-1 clip agreement with kwsdk's C that `verify` requires
EVENT_TOLERANCE_S = 0.2  # events of the two models this close (same keyword) count as the same


def _decisions(post_q15: np.ndarray, n: int, cats, det) -> np.ndarray:
    return clip_decisions(post_q15.reshape(n, -1, len(cats)) / 32768.0, cats, det)


def matched_events(a: list, b: list, tolerance_frames: int) -> int:
    """How many events of `a` have an unused event of `b` with the same keyword within the tolerance."""
    used = [False] * len(b)
    n = 0
    for fa, ka in a:
        for j, (fb, kb) in enumerate(b):
            if not used[j] and kb == ka and abs(fb - fa) <= tolerance_frames:
                used[j] = True
                n += 1
                break
    return n


def verify_tflite(run_dir: Path, data_dir: Path, runtime: str, split: str = "test", stream_minutes: float = 10.0,
                  chunk: int = 333, seed: int = 0, cache_dir: Path | None = None, progress: bool = True,
                  det=None, log=print) -> dict:
    from kwsdk.evaluate import load_run_and_split
    from kwsdk.export import device_detector, load_quantized
    from kwsdk.pipeline import IntPipeline, PipelineOptions
    from kwsdk.tflite.export import FLOAT_FILE, QUANT_FILE, tflite_models
    from kwsdk.tflite.runtime import TfliteStep
    from kwsdk.evaluate import clip_features, posteriors
    from kwsdk.verify.harness import TARGETS, run_c

    run_dir = Path(run_dir)
    _, q = load_quantized(run_dir)
    cfg, cats, model, ds, clips = load_run_and_split(run_dir, data_dir, split, cache_dir, progress)
    det = det or device_detector(run_dir, cfg)
    models = tflite_models(run_dir, cfg, q, det)
    c = run_c(TARGETS["host"], run_dir, q, cfg, cats, clips, ds.noise, det, PipelineOptions(), chunk,
              stream_minutes, seed, log)
    c_clips, c_stream, stream, frames = c.clips, c.stream_records, c.stream, c.frames
    feats = c_clips["features"].reshape(len(clips), frames, -1)
    log(f"[{runtime}] {QUANT_FILE} and {FLOAT_FILE} on the same features")
    runs = {}
    for name in (QUANT_FILE, FLOAT_FILE):
        step = TfliteStep(models[name], runtime)
        out = []
        for f in feats:
            step.reset()
            out.append(step.run(f))
        runs[name] = np.stack(out)
    p_tfl, p_tfl_float = runs[QUANT_FILE], runs[FLOAT_FILE]
    p_c = c_clips["posteriors"].reshape(len(clips), frames, -1).astype(np.int64)
    p_float = posteriors(model, clip_features(clips, cfg, cache_dir))  # PyTorch on the run's own features

    true = np.array([cats.index(c.label) for c in clips])
    d_tfl, d_c = _decisions(p_tfl, len(clips), cats, det), _decisions(p_c, len(clips), cats, det)
    d_float = clip_decisions(p_float, cats, det)
    # PyTorch float on the integer frontend's features: the float .tflite's exact reference.
    p_float_int = posteriors(model, (feats / float(1 << q.feature_frac)).astype(np.float32))

    # Stream: kwsdk's frontend, VAD and detector around each model.
    pipe = IntPipeline(cfg.features, cfg.vad, TfliteStep(models[QUANT_FILE], runtime), det)
    tfl_stream = pipe.run(stream)
    tol = int(round(EVENT_TOLERANCE_S * cfg.features.frames_per_second))
    c_events = [(t, int(r["keyword"])) for t, r in enumerate(c_stream) if r["fired"]]
    t_events = [(e.frame, e.keyword) for e in tfl_stream.events]
    stream_q15 = np.abs(tfl_stream.posteriors.astype(np.int64) - c_stream["posteriors"]).max()
    return {
        "target": runtime, "split": split, "n_clips": len(clips), "n_frames": int(feats.shape[0] * frames),
        "model": QUANT_FILE, "model_bytes": len(models[QUANT_FILE]),
        "agreement_c": float((d_tfl == d_c).mean()), "agreement_float": float((d_tfl == d_float).mean()),
        "accuracy_tflite": float((d_tfl == true).mean()), "accuracy_c": float((d_c == true).mean()),
        "accuracy_float": float((d_float == true).mean()),
        "max_score_diff_c": float(np.abs(p_tfl - p_c).max() / 32768.0),
        "mean_score_diff_c": float(np.abs(p_tfl - p_c).mean() / 32768.0),
        "max_score_diff_float": float(np.abs(p_tfl / 32768.0 - p_float).max()),
        "float_model": FLOAT_FILE,
        "float_model_max_diff_pytorch": float(np.abs(p_tfl_float / 32768.0 - p_float_int).max()),
        "stream_seconds": len(stream) / cfg.features.sample_rate, "stream_max_score_diff_c": float(stream_q15 / 32768),
        "events_c": len(c_events), "events_tflite": len(t_events),
        "events_matched": matched_events(c_events, t_events, tol), "event_tolerance_s": EVENT_TOLERANCE_S,
        "agreement_min": AGREEMENT_MIN,
    }
