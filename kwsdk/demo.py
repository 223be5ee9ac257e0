"""`kwsdk demo`: the whole pipeline on the real sample shipped in the package.

A small model trained for a few minutes on a few hundred clips, then
quantized, exported as C, built and verified, and exported as .tflite and
run in LiteRT: it shows every stage working,
not the accuracy the full data gives (see README).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from importlib import resources
from pathlib import Path

from kwsdk.config import ConfigError, RunConfig


def sample_data_dir() -> Path:
    path = Path(str(resources.files("kwsdk") / "sample_data" / "speech_commands_sample"))
    if not path.is_dir():
        raise ConfigError(f"{path}: the shipped sample is missing from this installation")
    return path


def demo_config() -> RunConfig:
    """Four distinct keywords (the other six words become _unknown_) and a
    small model: the sample has only 20 clips per word."""
    cfg = RunConfig()
    cfg.data.keywords = ["yes", "no", "left", "right"]
    cfg.data.val_percent = 15.0
    cfg.data.test_percent = 15.0
    cfg.model.hidden = 64
    cfg.train.epochs = 20
    cfg.train.steps_per_epoch = 30
    cfg.train.batch_size = 32
    cfg.stream.seconds = 6.0
    cfg.train.calibrate_minutes = 5.0
    return cfg


def run_demo(out: Path, cache_dir: Path | None, progress: bool, log=print) -> dict:
    from kwsdk.evaluate import eval_clips, eval_stream_run
    from kwsdk.export import export
    from kwsdk.verify.frontend_check import frontend_check
    from kwsdk.quantize import quantize_run
    from kwsdk.train import train
    from kwsdk.verify import verify

    out = Path(out)
    run = out / "run"
    if run.exists():
        shutil.rmtree(run)  # the demo's own output from an earlier demo
    data = sample_data_dir()
    stages = {}
    t = time.time()
    log(f"[1/7] training on {data}")
    metrics = train(data, run, demo_config(), cache_dir, progress=progress, log=log)
    stages["train"] = time.time() - t
    t = time.time()
    log("[2/7] clip evaluation (test split), float and integer frontend")
    clips = eval_clips(run, data, "test", cache_dir, progress)
    clips_int = eval_clips(run, data, "test", cache_dir, progress, frontend="integer")
    stages["eval"] = time.time() - t
    t = time.time()
    log("[3/7] streaming evaluation (10 min stream from the test split)")
    stream = eval_stream_run(run, data, "test", 10.0, 0, None, cache_dir, progress)
    stages["stream"] = time.time() - t
    t = time.time()
    log("[4/7] integer frontend and VAD: generated C vs Python reference vs float, every sample clip")
    fc = frontend_check(data, demo_config().features, progress=progress, build_dir=out / "frontend_c")
    stages["frontend_check"] = time.time() - t
    t = time.time()
    log("[5/7] quantize (int8 weights) and export the device library, built with its own Makefile")
    quant = quantize_run(run, data, 8, cache_dir, progress, log)
    exp = export(run, out / "export")
    subprocess.run(["make", "-s", "-C", str(out / "export")], check=True, capture_output=True)
    stages["quantize_export"] = time.time() - t
    t = time.time()
    log("[6/7] verify: the C library vs the integer reference, PyTorch and the stream detector")
    ver = verify(run, data, "host", "test", 2.0, cache_dir=cache_dir, progress=progress, log=log)
    stages["verify"] = time.time() - t
    t = time.time()
    log("[7/7] TFLite: export the model as .tflite and run it in LiteRT against the C")
    tfl_exp = export(run, out / "tflite", target="tflite")
    tfl = verify(run, data, "litert", "test", 2.0, cache_dir=cache_dir, progress=progress, log=log)
    stages["tflite"] = time.time() - t
    rows = [
        ("data", f"{data.name}: {metrics['test']['n']} test clips"),
        ("model", f"{metrics['params']:,} params, {metrics['macs_per_second'] / 1e6:.2f} M MAC/s"),
        ("train", f"{stages['train']:.0f} s, best epoch {metrics['best_epoch']}, "
                  f"val acc {metrics['val_accuracy']:.3f}"),
        ("test accuracy", f"{clips['accuracy']:.3f} (confusion: {clips['confusion_png']})"),
        ("on device features", f"{clips_int['accuracy']:.3f} with the integer frontend"),
        ("stream", f"recall {stream['recall']:.3f}, {stream['false_accepts_per_hour']:.1f} false accepts/h "
                   f"at threshold {stream['threshold']:g}"),
        ("onnx", str(run / "model.onnx")),
        ("frontend C", f"{fc['c_mismatches']} frames differ from the integer reference; SNR vs float "
                       f"{fc['snr_db']:.1f} dB; VAD agreement {100 * fc['vad_agreement']:.2f}% "
                       f"({fc['n_clips']} clips; C in {out / 'frontend_c'})"),
        ("quantized", f"accuracy {quant['accuracy_int']:.3f} (float {quant['accuracy_float']:.3f}), "
                      f"{exp['weight_bytes']:,} B weights, {exp['state_bytes']:,} B state"),
        ("device C", f"{ver['c_mismatches']} frames differ from the reference, top-1 agreement with PyTorch "
                     f"{ver['agreement']:.3f}, stream events identical: {ver['events_identical']} "
                     f"({out / 'export'})"),
        ("tflite", f"{tfl_exp['tflite_bytes_16x8']:,} B (16x8) in LiteRT: top-1 agreement with the C "
                   f"{tfl['agreement_c']:.3f}, largest score difference {tfl['max_score_diff_c']:.4f} "
                   f"({out / 'tflite'})"),
    ]
    return {"run": str(run), "test_accuracy": clips["accuracy"],
            "test_accuracy_integer_frontend": clips_int["accuracy"], "frontend_check": fc,
            "quantize": quant, "export": exp, "verify": ver, "tflite": tfl,
            "stream_recall": stream["recall"],
            "false_accepts_per_hour": stream["false_accepts_per_hour"], "seconds": stages,
            "summary": rows}


def print_summary(res: dict) -> None:
    rows = res["summary"]
    width = max(len(k) for k, _ in rows)
    print("\nkwsdk demo summary")
    print("-" * 72)
    for k, v in rows:
        print(f"{k:<{width}}  {v}")
    print("-" * 72)
    print("(a tiny sample and a few minutes of training: see the README for full-data figures)")
