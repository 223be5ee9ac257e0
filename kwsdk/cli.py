"""The `kwsdk` command line: thin wrappers; the logic lives in the modules."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from kwsdk import __version__
from kwsdk.config import FEATURE_PRESETS, MODEL_PRESETS, SPLITS
from kwsdk.fetch import ARCHIVES
from kwsdk.mcu import CPUS
from kwsdk.rpi import ARCHES
from kwsdk.tflite.runtime import RUNTIMES

# Targets of verify and report, from the definitions of the cores, Pi builds and TFLite runtimes.
VERIFY_TARGETS = ["host", "host-sanitize", *(c.name for c in CPUS.values() if c.board), *(f"rpi-{a}" for a in ARCHES),
                  *RUNTIMES]
REPORT_TARGETS = [*CPUS, "rpi-aarch64"]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _cache(args) -> Path | None:
    from kwsdk.fileio import default_cache_dir

    return None if args.no_cache else (Path(args.cache_dir) if args.cache_dir else default_cache_dir())


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", help="feature/audio cache folder (default: $KWSDK_CACHE or ~/.cache/kwsdk)")
    p.add_argument("--no-cache", action="store_true", help="compute everything afresh, write no cache")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _emit(result: dict, as_json: bool, summary) -> None:
    if as_json:
        print(json.dumps(result))
    else:
        summary(result)


def cmd_train(args) -> int:
    from kwsdk.config import TRAIN_OVERRIDES, training_config
    from kwsdk.train import train

    cfg = training_config(args.config, args.preset, args.model_preset, args.frontend, args.keywords,
                          {name: getattr(args, name) for name in TRAIN_OVERRIDES})
    metrics = train(Path(args.data), Path(args.out), cfg, _cache(args), progress=not args.quiet, log=log)
    if metrics:
        print(f"run folder: {args.out}")
        print(f"test accuracy: {metrics.get('test_accuracy', float('nan')):.4f}  "
              f"val accuracy: {metrics['val_accuracy']:.4f}  train time: {metrics['train_seconds']:.0f} s")
    return 0


# kwsdk.evaluate.EVAL_SNR_DB, written out so that --help need not import torch (a test keeps them equal)
STREAM_SNR = "5:20"


def snr_range(text: str) -> tuple[float, float] | None:
    """'LO:HI' in dB -> (LO, HI); 'none' -> None (no background noise)."""
    if text.strip().lower() == "none":
        return None
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO:HI in dB (e.g. 5:20) or 'none', got {text!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise argparse.ArgumentTypeError(f"SNR range {text!r}: LO and HI must be finite numbers of dB")
    if lo > hi:
        raise argparse.ArgumentTypeError(f"SNR range {text!r}: LO must not exceed HI")
    return lo, hi


def cmd_eval(args) -> int:
    from kwsdk import evaluate
    from kwsdk.config import ConfigError

    if args.negatives and not args.stream:
        raise ConfigError("--negatives goes with --stream (false accepts on a stream of real speech)")
    if args.negatives_split and not args.negatives:
        raise ConfigError("--negatives-split goes with --negatives")
    if args.stream:
        res = evaluate.eval_stream_run(Path(args.run), Path(args.data), args.split, args.minutes, args.seed,
                                       args.threshold, _cache(args), not args.quiet, args.frontend, args.snr,
                                       [Path(d) for d in args.negatives or []], args.negatives_split)

        def summary(r):
            d = r["distinct_clips"]
            print(f"stream: {r['stream_hours'] * 60:.1f} min, {r['keywords_spoken']} keywords and "
                  f"{r['unknown_spoken']} other words spoken, from {d['keyword']} keyword and {d['unknown']} "
                  f"other-word clips of the {r['split']} split, {evaluate.noise_label(r['snr_db'])}")
            print(f"recall {r['recall']:.4f}  false accepts/hour {r['false_accepts_per_hour']:.2f}  "
                  f"(threshold {r['threshold']:g})")
            causes = ", ".join(f"{n} {c.replace('_', ' ')}" for c, n in r["false_accepts_by_cause"].items())
            pairs = ", ".join(f"{p} {n}" for p, n in list(r["wrong_keyword_pairs"].items())[:5])
            print(f"false accepts heard on: {causes}" + (f" (spoken->detected: {pairs})" if pairs else ""))
            print(f"best recall at <= 2 false accepts/hour: {r['best_recall_at_2_fa_per_hour']:.4f}")
            print(f"curve: {r['curve_png']}")
            if "negatives" in r:
                n = r["negatives"]
                print(f"real speech without keywords ({n['split']} split), at threshold {r['threshold']:g}: "
                      f"{n['false_accepts']} false accepts in {n['hours']:.2f} h = {n['false_accepts_per_hour']:.2f}/h")
                for src in n["sources"]:
                    if not src["files"]:
                        print(f"  {src['folder']}: no file in this split")
                        continue
                    kws = ", ".join(f"{k} {v}" for k, v in src["by_keyword"].items())
                    print(f"  {src['folder']}: {src['files']} files, {src['hours']:.2f} h ({src['speech_hours']:.2f} h "
                          f"without the gaps), {src['false_accepts']} false accepts = "
                          f"{src['false_accepts_per_hour']:.2f}/h" + (f" ({kws})" if kws else ""))
                if n["skipped"]:
                    print(f"  skipped {len(n['skipped'])} unusable files (listed in the JSON)")
                at = ", ".join(f"{v:.3f} at {k}/h" for k, v in r["recall_at_negative_fa_per_hour"].items())
                print(f"keyword recall at false accepts per hour on real speech: {at}")
                print(f"DET curve: {r['det_png']}")
    else:
        res = evaluate.eval_clips(Path(args.run), Path(args.data), args.split, _cache(args), not args.quiet,
                                  args.frontend)

        def summary(r):
            print(f"accuracy {r['accuracy']:.4f} on {r['n']} clips ({r['split']}, {r['frontend']} frontend)")
            for c, a in r["per_class"].items():
                print(f"  {c:>12}  {'-' if a is None else f'{a:.3f}'}  ({r['counts'][c]})")
            print(f"confusion matrix: {r['confusion_png']}")
    _emit(res, args.json, summary)
    return 0


def cmd_synth(args) -> int:
    from kwsdk.synth import synthesize

    words = [w.strip() for w in args.words.split(",") if w.strip()]
    rep = synthesize(words, Path(args.out), count_per_word=args.count, seed=args.seed,
                     noise_dir=Path(args.noise_dir) if args.noise_dir else None, progress=not args.quiet)
    _emit(rep, args.json, lambda r: print(json.dumps(r, indent=2)))
    return 0


def cmd_data_fetch(args) -> int:
    from kwsdk.fetch import archive_for, fetch

    res = fetch(archive_for(args.dataset, args.version), Path(args.out), args.url, progress=not args.quiet, log=log)
    _emit(res, args.json, lambda r: None)
    return 0


def cmd_demo(args) -> int:
    from kwsdk.demo import print_summary, run_demo

    res = run_demo(Path(args.out), _cache(args), progress=not args.quiet, log=log)
    _emit(res, args.json, print_summary)
    return 0


def cmd_frontend_check(args) -> int:
    from kwsdk.config import VadConfig, feature_preset
    from kwsdk.verify.frontend_check import frontend_check

    cfg = feature_preset(args.preset)
    if args.mfcc:
        cfg.n_mfcc = args.mfcc
    res = frontend_check(Path(args.data), cfg, VadConfig(hysteresis=args.vad_hysteresis), progress=not args.quiet)

    def summary(r):
        print(f"{r['n_clips']} clips, {r['n_frames']} frames, preset {r['preset']}")
        print(f"integer vs float features: SNR {r['snr_db']:.2f} dB "
              f"(worst clip {r['worst_clip']['file']}: {r['worst_clip']['snr_db']:.2f} dB)")
        print(f"C vs integer reference: {r['c_mismatches']} mismatching frames")
        print(f"VAD integer vs float: {100 * r['vad_agreement']:.3f}% of {r['vad_frames']} frames agree")
        for s in r["skipped"]:
            print(f"skipped {s['file']}: {s['reason']}")
    _emit(res, args.json, summary)
    return 0 if res["c_mismatches"] == 0 else 1


def _options(args):
    from kwsdk.pipeline import PipelineOptions

    return PipelineOptions(vad_reset=args.vad_reset, vad_gate=args.vad_gate)


def _keyword_thresholds(text: str | None) -> dict[str, float]:
    """--keyword-threshold yes=0.9,no=0.8 -> {"yes": 0.9, "no": 0.8}."""
    from kwsdk.config import ConfigError

    per = {}
    for item in filter(None, (text or "").split(",")):
        word, _, value = item.partition("=")
        try:
            per[word.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--keyword-threshold: expected WORD=VALUE, got {item!r}") from None
    return per


def _detector(args):
    """The run's detector with --threshold / --keyword-threshold overrides."""
    from kwsdk.config import ConfigError, RunConfig
    from kwsdk.export import device_detector

    per = _keyword_thresholds(args.keyword_threshold)
    run = Path(args.run)
    if not (run / "config.json").exists():
        raise ConfigError(f"{run}: no config.json (is this a kwsdk run folder?)")
    return device_detector(run, RunConfig.load(run / "config.json"), args.threshold, per)


def cmd_quantize(args) -> int:
    from kwsdk.quantize import quantize_run

    res = quantize_run(Path(args.run), Path(args.data), args.weight_bits, _cache(args), not args.quiet, log)

    def summary(r):
        print(f"int{r['weight_bits']} weights, {r['weight_bytes']:,} bytes -> {r['model']}")
        print(f"test accuracy: PyTorch float {r['accuracy_float']:.4f}, integer model on the integer "
              f"frontend {r['accuracy_int']:.4f} ({r['n']} clips; top-1 agreement {r['agreement']:.4f})")
    _emit(res, args.json, summary)
    return 0


def cmd_export(args) -> int:
    from kwsdk.export import export

    res = export(Path(args.run), Path(args.out), args.target, _options(args), _detector(args), args.cpu,
                 args.arch, args.native, args.wide_weights)

    def summary(r):
        if r["target"] == "tflite":
            print(f"exported to {r['out']} ({r['files']} files; see its README.md)")
            print(f".tflite 16x8 {r['tflite_bytes_16x8']:,} B, float {r['tflite_bytes_float']:,} B; "
                  f"kwsdk's int8 weight arrays {r['kwsdk_weight_bytes']:,} B")
            return
        print(f"exported to {r['out']} ({r['files']} files; build with make or CMake)")
        print(f"weights {r['weight_bytes']:,} B, other tables {r['table_bytes']:,} B, "
              f"state and scratch (sizeof(kws_t)) {r['state_bytes']:,} B, host code {r['code_bytes_host']:,} B")
        for m in r.get("mcu", []):
            print(f"{m['cpu']} {m['opt']}: flash {m['flash_bytes']:,} B (code + constants), static RAM "
                  f"{m['static_ram_bytes']:,} B, kws_t {m['state_bytes']:,} B")
    _emit(res, args.json, summary)
    return 0


def cmd_verify(args) -> int:
    from kwsdk.verify import verify
    from kwsdk.verify.harness import describe_difference

    res = verify(Path(args.run), Path(args.data), args.target, args.split, args.stream_minutes, args.chunk,
                 cache_dir=_cache(args), progress=not args.quiet, options=_options(args), det=_detector(args),
                 log=log, wide=args.wide_weights)

    if args.target in ("litert", "tflm"):
        def tflite_summary(r):
            print(f"[{r['target']}] {r['model']} on {r['n_clips']} clips ({r['split']}), {r['n_frames']:,} frames")
            print(f"vs kwsdk C: top-1 agreement {r['agreement_c']:.4f}, largest score difference "
                  f"{r['max_score_diff_c']:.4f} (mean {r['mean_score_diff_c']:.5f})")
            print(f"vs PyTorch float: top-1 agreement {r['agreement_float']:.4f}, largest score difference "
                  f"{r['max_score_diff_float']:.4f}")
            print(f"accuracy: TFLite {r['accuracy_tflite']:.4f}, kwsdk C {r['accuracy_c']:.4f}, "
                  f"PyTorch {r['accuracy_float']:.4f}")
            print(f"{r['float_model']} vs PyTorch on the same features: largest difference "
                  f"{r['float_model_max_diff_pytorch']:.2e}")
            print(f"{r['stream_seconds'] / 60:.1f} min stream: events kwsdk C {r['events_c']}, TFLite "
                  f"{r['events_tflite']}, matched {r['events_matched']} (same keyword within "
                  f"{r['event_tolerance_s']} s)")
        _emit(res, args.json, tflite_summary)
        return 0 if res["agreement_c"] >= res["agreement_min"] else 1

    def summary(r):
        print(f"[{r['target']}] {r['n_clips']} clips ({r['split']}) + {r['stream_seconds'] / 60:.1f} min stream, "
              f"{r['n_frames']:,} frames")
        print(f"1. C vs integer reference: {r['c_mismatches']} mismatching frames")
        if r["first_difference"]:
            print(f"   first difference: {describe_difference(r['first_difference'])}")
        print(f"2. C vs PyTorch: top-1 agreement {r['agreement']:.4f}; accuracy float {r['accuracy_float']:.4f}, "
              f"device {r['accuracy_device']:.4f}")
        print(f"3. stream events identical: {r['events_identical']} ({r['n_events']} events)")
        if "firmware_memory" in r:
            m = r["firmware_memory"]
            print(f"test firmware RAM {m['ram_bytes']:,} B: .data + .bss {m['static_bytes']:,}, heap "
                  f"{m['heap_bytes']:,} of {m['heap_reserve_bytes']:,} reserved, stack peak "
                  f"{m['stack_peak_bytes']:,} of {m['stack_reserve_bytes']:,} reserved; {m['spare_bytes']:,} B spare")
    _emit(res, args.json, summary)
    ok = res["c_mismatches"] == 0 and res["events_identical"]
    return 0 if ok else 1


def cmd_report(args) -> int:
    from kwsdk.verify.report import part_line, report

    res = report(Path(args.run), args.target, args.opt, args.clock_mhz * 1e6, _options(args), args.wide_weights)

    def summary(r):
        print(f"{r['target']} ({r['opt']}, weight layout {r['weight_layout']!r}), {r['seconds']:.0f} s of speech "
              f"({r['audio']})")
        if "flash_bytes" in r:
            print(f"flash {r['flash_bytes']:,} B; RAM {r['ram_bytes']:,} B = kws_t {r['state_bytes']:,} + "
                  f"peak stack {r['stack_bytes']:,}")
            print(part_line(r["part"]))
        else:
            print(f"peak stack {r['stack_bytes']:,} B")
        print(f"instructions per second of audio: {r['instructions_per_second'] / 1e6:.3f} M")
        for part, v in r["split"].items():
            print(f"  {part:>9}  {v / 1e6:8.3f} M")
        print(f"frontend + VAD + detector {r['frontend_vad_detector_per_second'] / 1e6:.3f} M; model "
              f"{r['instructions_per_mac_model']:.2f} instructions per multiply-accumulate")
        print(f"duty cycle at {r['clock_hz'] / 1e6:.0f} MHz: {100 * r['duty_cycle_estimate']:.1f}% "
              f"(estimate: one instruction per cycle)")
    _emit(res, args.json, summary)
    return 0


def cmd_daemon(args) -> int:
    from kwsdk.config import ConfigError
    from kwsdk.daemon import run
    from kwsdk.daemon.sources import list_devices
    from kwsdk.detector import check_refractory

    if args.list_devices:
        for d in list_devices():
            print(f"{d['index']}: {d['name']} ({d['inputs']} input channels)")
        return 0
    if not (args.model and args.source):
        raise ConfigError("kwsdk daemon needs --model and --source (or --list-devices)")

    if args.refractory is not None:
        check_refractory(args.refractory, "--refractory")
    n = run(Path(args.model), args.source, args.realtime, _keyword_thresholds(args.keyword_threshold),
            Path(args.config) if args.config else None, refractory_s=args.refractory)
    log(f"kwsdk daemon: {n} events")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kwsdk",
        description="Keyword spotting from data to device: train streaming GRU/LSTM spotters on "
                    "Speech Commands-layout folders, evaluate on clips and continuous streams, export ONNX, "
                    "quantize, generate the integer C library and verify it against PyTorch.")
    p.add_argument("--version", action="version", version=f"kwsdk {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a keyword spotter on a Speech Commands-layout folder",
                       description="Train a streaming keyword spotter. The run folder gets config.json, "
                                   "categories.txt, model.pt, metrics.json, detector.json and model.onnx. "
                                   "Re-running the same command after an interruption resumes it. "
                                   "Runs under torchrun --nproc_per_node=N as well.")
    t.add_argument("--data", required=True, help="folder with one sub-folder per word and _background_noise_/")
    t.add_argument("--out", required=True, help="run folder to create (or resume)")
    t.add_argument("--keywords", help="comma-separated target words (default: the ten Speech Commands words); "
                                      "other words become _unknown_")
    t.add_argument("--config", help="JSON file with any subset of the config (see a run's config.json)")
    t.add_argument("--preset", choices=sorted(FEATURE_PRESETS), help="feature preset (default: 'default')")
    t.add_argument("--epochs", type=int, help="training epochs (default 36; see train.steps_per_epoch)")
    t.add_argument("--seed", type=int, help="seed for initialisation, data order and augmentation (default 0)")
    t.add_argument("--max-per-class", type=int, help="use at most N clips per category")
    t.add_argument("--bad-list", help="file of relative paths to skip (read only)")
    t.add_argument("--extra-data", action="append", metavar="DIR",
                   help="a Speech Commands-layout folder whose clips are used for training only, never for "
                        "validation or test, e.g. non-keyword words from `kwsdk synth` as extra negatives "
                        "(repeatable)")
    t.add_argument("--negatives", action="append", metavar="DIR",
                   help="a folder of real speech that holds no keyword (any layout and length, e.g. LibriSpeech "
                        "or other wake phrases; repeatable). Split by speaker: its training split plays in the "
                        "training streams as non-keyword speech (stream.p_negative of the slots without a keyword), and its "
                        "training and validation splits calibrate the detection threshold; the test split is "
                        "left for `eval --stream --negatives`")
    t.add_argument("--frontend", choices=["float", "integer"],
                   help="features to train on: the float reference (default) or the device's bit-exact "
                        "integer frontend")
    t.add_argument("--model-preset", choices=sorted(MODEL_PRESETS),
                   help="model size: default (2 x 128 GRU), small (2 x 96 GRU: the whole Cortex-M4 pipeline "
                        "under 8 M instructions per second of audio) or tiny (1 x 48 GRU, 80 epochs at learning "
                        "rate 0.01 without masks: the whole device library fits 32 KB of flash and 8 KB of RAM on "
                        "a Cortex-M at -Os; distil it with --teacher) or wake (1 x 96 GRU for one wake phrase: "
                        "the whole Cortex-M4 pipeline in 3.4 M instructions per second and 61 KB of flash); "
                        "--cell, --hidden, --layers and --epochs override it")
    t.add_argument("--cell", choices=["gru", "lstm"])
    t.add_argument("--hidden", type=int, help="recurrent units per layer")
    t.add_argument("--layers", type=int, choices=[1, 2, 3])
    t.add_argument("--threads", type=int, help="torch threads (default: all cores but one, which makes the "
                   "next batches meanwhile)")
    t.add_argument("--teacher", help="trained run folder to distill from (same features and keywords): the model "
                                     "also learns its per-frame posteriors (see train.distill_weight, "
                                     "train.distill_temperature)")
    _common(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="accuracy on clips, or recall and false accepts on a stream",
                       description="Evaluate a run on clips (accuracy, per-class accuracy, confusion matrix "
                                   "PNG) or, with --stream, on a long continuous stream built from the split's "
                                   "clips with noise gaps (keyword recall, false accepts per hour, curve PNG).")
    e.add_argument("--run", required=True, help="run folder made by kwsdk train")
    e.add_argument("--data", required=True, help="Speech Commands-layout folder")
    e.add_argument("--split", default="test", choices=[*SPLITS, "all"],
                   help="which clips; 'all' scores every usable clip (a separate test set)")
    e.add_argument("--stream", action="store_true", help="continuous-stream evaluation")
    e.add_argument("--minutes", type=float, default=60.0, help="stream length (default 60)")
    e.add_argument("--threshold", type=float, help="override the run's calibrated detection threshold")
    e.add_argument("--seed", type=int, default=0, help="stream construction seed")
    e.add_argument("--snr", type=snr_range, default=STREAM_SNR, metavar="LO:HI",
                   help=f"stream: background noise SNR range in dB, drawn per 30 s (default {STREAM_SNR}); "
                        "'none' for the same stream without background noise")
    e.add_argument("--frontend", choices=["float", "integer"],
                   help="feed the model these features instead of the run's own (e.g. 'integer' to "
                        "measure what the device's fixed-point frontend costs a float-trained model)")
    e.add_argument("--negatives", action="append", metavar="DIR",
                   help="stream: also measure false accepts per hour on a folder of real speech that holds no "
                        "keyword (any layout, .wav/.flac/.ogg, split by speaker like the clips); every file of "
                        "the split once, joined with gaps over the stream's noise. Repeat for several folders; "
                        "adds the DET curve (det_SPLIT.png)")
    e.add_argument("--negatives-split", choices=[*SPLITS, "all"],
                   help="the negatives' split (default: --split); 'all' for a model that never trained on them")
    e.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    _common(e)
    e.set_defaults(func=cmd_eval)

    s = sub.add_parser("synth", help="synthesize a Speech Commands-layout folder for new keywords (espeak-ng)",
                       description="Bootstrap keywords nobody has recorded: many espeak-ng voices, speeds and "
                                   "pitches, 16 kHz, 1 s clips, optionally mixed with noise.")
    s.add_argument("--words", required=True, help='comma-separated words or phrases, e.g. "hey kiwi,lights on"')
    s.add_argument("--out", required=True, help="folder to create (must be absent or empty)")
    s.add_argument("--count", type=int, default=100, help="clips per word (default 100)")
    s.add_argument("--seed", type=int, default=0, help="seed for voice, speed, pitch and placement choices")
    s.add_argument("--noise-dir", help="folder of noise wavs to mix in (copied to _background_noise_/)")
    s.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_synth)

    da = sub.add_parser("data", help="public data sets: fetch", description="Public data sets.")
    dsub = da.add_subparsers(dest="data_command", required=True, metavar="{fetch}")
    df = dsub.add_parser("fetch", help="download, check and unpack a public data set",
                         description="Download a public data set's archive (with a progress bar; a cut-off "
                                     "download resumes), check its size and SHA-256 against kwsdk's, and unpack "
                                     "it into --out through a temporary folder (nothing half-unpacked is left, "
                                     "no member may land outside --out). Running it again is a no-op.")
    df.add_argument("dataset", choices=sorted({d for d, _ in ARCHIVES}), help="which data set")
    df.add_argument("--version", default="0.02", choices=sorted({v for _, v in ARCHIVES}),
                    help="Speech Commands version (default 0.02: 105,829 clips, 35 words, 2.3 GB)")
    df.add_argument("--out", required=True, help="folder to unpack into (absent or empty)")
    df.add_argument("--url", help="a mirror, file:// URL or local path of the same archive "
                                  "(default: $KWSDK_DATA_URL, else the official address)")
    df.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    df.add_argument("--quiet", action="store_true", help="no progress bars")
    df.set_defaults(func=cmd_data_fetch)

    f = sub.add_parser("frontend-check", help="check the integer frontend, VAD and their generated C",
                       description="Run the float and integer frontends and VADs (Python reference and the "
                                   "generated C, built with strict warnings) over every clip of DIR; report "
                                   "the integer-vs-float SNR, the worst clip, C-vs-reference mismatching "
                                   "frames (exit status 1 if any) and integer-vs-float VAD agreement.")
    f.add_argument("--data", required=True, help="folder of .wav clips (searched recursively; "
                                                 "_background_noise_/ supplies noise for the VAD check)")
    f.add_argument("--preset", default="default", choices=sorted(FEATURE_PRESETS), help="feature preset")
    f.add_argument("--mfcc", type=int, default=0, help="also apply the DCT stage, keeping N coefficients")
    f.add_argument("--vad-hysteresis", type=float, default=0.0, help="VAD hang-over in seconds (default 0)")
    f.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=cmd_frontend_check)

    q = sub.add_parser("quantize", help="post-training quantization of a run's model to integers",
                       description="Quantize RUN's model (int8 or int16 weights with per-row scales, 16-bit "
                                   "activations and state, Q12 gates, table activations) into RUN/quant/, and "
                                   "report PyTorch float vs integer-model accuracy on the test split.")
    q.add_argument("--run", required=True, help="run folder made by kwsdk train")
    q.add_argument("--data", required=True, help="Speech Commands-layout folder (test split; LSTM calibration)")
    q.add_argument("--weight-bits", type=int, choices=[8, 16], default=8, help="weight width (default 8)")
    q.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    _common(q)
    q.set_defaults(func=cmd_quantize)

    def pipeline_flags(sp):
        sp.add_argument("--vad-reset", action="store_true",
                        help="zero the model state when the VAD says speech ended (ELL's reset)")
        sp.add_argument("--vad-gate", action="store_true",
                        help="fire only when the VAD was on within the smoothing window")
        sp.add_argument("--threshold", type=float,
                        help="detection threshold for every keyword (default: the run's calibrated one)")
        sp.add_argument("--keyword-threshold", metavar="WORD=T,...",
                        help="per-keyword thresholds, e.g. yes=0.9,no=0.8 (also settable at run time with "
                             "kws_set_threshold)")

    def wide_flag(sp):
        sp.add_argument("--wide-weights", action="store_true",
                        help="on cores with the DSP extension (M4, M7, M33), store the int8 weights as int16 so "
                             "that SMLAD takes them as they are: about twice the weights' flash for about a "
                             "quarter fewer model instructions; same results (default: int8 storage)")

    x = sub.add_parser("export", help="generate the device library (C99) of a quantized run",
                       description="Write RUN's frontend, VAD, quantized model and detector as one C99 library "
                                   "(no heap, no float) with a Makefile, a CMakeLists.txt and kws_meta.json; "
                                   "prints its sizes.")
    x.add_argument("--run", required=True, help="run folder, quantized with kwsdk quantize")
    x.add_argument("--out", required=True, help="folder to write (new, empty, or an earlier export)")
    x.add_argument("--target", default="host", choices=["host", "mcu", "rpi", "tflite"],
                   help="host: cc, static and shared library; mcu: arm-none-eabi-gcc for --cpu, static "
                        "library, CMake toolchain file, sizes at -Os and -O2; rpi: cross-compiled libkws.so "
                        "for --arch, or a Makefile to build on the Pi with --native; tflite: the model as "
                        ".tflite (int16 activations / int8 weights, and float) for LiteRT and TFLite Micro, "
                        "with the frontend C that feeds it")
    x.add_argument("--arch", choices=list(ARCHES),
                   help="Raspberry Pi OS for --target rpi: aarch64 (64-bit, Pi 3/4/5) or armhf (32-bit, Pi 2+)")
    x.add_argument("--native", action="store_true",
                   help="with --target rpi: no cross build; the Makefile builds on the Pi with -mcpu=native")
    x.add_argument("--cpu", choices=list(CPUS),
                   help="Cortex-M core for --target mcu")
    pipeline_flags(x)
    wide_flag(x)
    x.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    x.set_defaults(func=cmd_export)

    v = sub.add_parser("verify", help="prove the generated C computes what the references compute",
                       description="Run the split's clips and a long stream through the exported library on a "
                                   "target; check it bit-exact against the Python integer reference (every "
                                   "frame), its decisions against PyTorch float, and its stream events against "
                                   "the reference's. Exit status 1 when C and reference differ.")
    v.add_argument("--run", required=True, help="run folder, quantized with kwsdk quantize")
    v.add_argument("--data", required=True, help="Speech Commands-layout folder")
    v.add_argument("--target", default="host", choices=VERIFY_TARGETS,
                   help="host: native build; host-sanitize: the same under ASan + UBSan; cortex-mN: the test "
                        "firmware on QEMU's mps2 board for that core (semihosting), cortex-m0plus on its micro:bit "
                        "(a Cortex-M0, same instruction set; 256 KB flash, 16 KB RAM); rpi-aarch64 / rpi-armhf: "
                        "cross-built for the Raspberry Pi's 64- / 32-bit OS, run under qemu-aarch64 / qemu-arm; "
                        "litert / tflm: the exported 16x8 .tflite in LiteRT or the TFLite Micro interpreter on "
                        "kwsdk's C features, compared with kwsdk's C and PyTorch (agreement, not bit-exactness; "
                        "exit status 1 below 0.98 top-1 agreement with the C)")
    v.add_argument("--split", default="test", choices=[*SPLITS, "all"], help="which clips")
    v.add_argument("--stream-minutes", type=float, default=10.0, help="length of the stream check (default 10)")
    v.add_argument("--chunk", type=int, default=333, help="samples per call when feeding clips (default 333)")
    pipeline_flags(v)
    wide_flag(v)
    v.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    _common(v)
    v.set_defaults(func=cmd_verify)

    r = sub.add_parser("report", help="flash, RAM, stack and exact instruction counts on a Cortex-M core",
                       description="Build RUN's device library for a Cortex-M core: flash and RAM of the library "
                                   "alone (-Os and -O2), peak stack (painted), and exact instructions per second "
                                   "of audio, split into frontend, VAD, model and detector, counted in the unicorn "
                                   "emulator on 2 s of real speech. The duty cycle is an estimate at one "
                                   "instruction per cycle. --target rpi-aarch64 counts the Raspberry Pi's "
                                   "64-bit build the same way (run bare, without an OS; no flash/RAM figures).")
    r.add_argument("--run", required=True, help="run folder, quantized with kwsdk quantize")
    r.add_argument("--target", default="cortex-m4", choices=REPORT_TARGETS,
                   help="core (default M4), or rpi-aarch64 for the Raspberry Pi's 64-bit build")
    r.add_argument("--opt", default="-O2", choices=["-O2", "-Os"], help="optimisation of the counted build")
    r.add_argument("--clock-mhz", type=float, default=64.0, help="clock for the duty-cycle estimate (default 64)")
    pipeline_flags(r)
    wide_flag(r)
    r.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    r.set_defaults(func=cmd_report)

    dm = sub.add_parser("daemon", help="continuous detection with an exported library (JSON lines out)",
                        description="Load an export folder (libkws.so + kws_meta.json; no torch needed) or a "
                                    "kwsdk .tflite (needs ai-edge-litert) and "
                                    "detect keywords continuously on an audio source. Each event is one JSON "
                                    "line on stdout with keyword, index, score and time (seconds of audio since "
                                    "the start). SIGTERM/SIGINT stop cleanly.")
    dm.add_argument("--model", help="export folder made by kwsdk export (host or rpi), or a .tflite file made by "
                                    "kwsdk export --target tflite (run by LiteRT between kwsdk's frontend and "
                                    "detector)")
    dm.add_argument("--source",
                    help="wav:PATH (a .wav, .flac or .ogg file; exits at its end), stdin (raw s16le mono PCM at the model's rate), "
                         "cmd:'arecord -f S16_LE -r 16000 -c 1 -t raw' (run without a shell), or mic / "
                         "mic:NAME (PyAudio; reconnects with backoff if the device disappears)")
    dm.add_argument("--list-devices", action="store_true", help="list the audio input devices and exit")
    dm.add_argument("--realtime", action="store_true", help="pace a wav source to the audio clock")
    dm.add_argument("--keyword-threshold", metavar="WORD=T,...", help="per-keyword thresholds, e.g. yes=0.9")
    dm.add_argument("--refractory", type=float, metavar="S",
                    help="seconds after an event in which no other fires (default: the export's, usually 1)")
    dm.add_argument("--config", help='JSON: {"thresholds": {...}, "commands": {"yes": ["/usr/bin/prog", "arg"]}, '
                                     '"socket": "/run/kwsdk/kws.sock", "refractory_s": 1.5}; re-read on SIGHUP '
                                     '(commands run without a shell; the event is in KWS_KEYWORD, KWS_SCORE, '
                                     'KWS_TIME)')
    dm.set_defaults(func=cmd_daemon)

    d = sub.add_parser("demo", help="run the whole pipeline on the real sample shipped with kwsdk",
                       description="On the small Speech Commands sample inside the package: train, evaluate "
                                   "on clips and on a stream, export ONNX, check the integer frontend's C, "
                                   "quantize, export the device library, build it and verify it, export a .tflite "
                                   "and run it in LiteRT; prints a summary table.")
    d.add_argument("--out", default="kwsdk-demo", help="folder for the demo's outputs (default ./kwsdk-demo)")
    d.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    _common(d)
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    from kwsdk.config import ConfigError

    args = build_parser().parse_args(argv)
    from kwsdk.audio import AudioError
    from kwsdk.data import DataError

    errors: tuple[type[Exception], ...] = (ConfigError, DataError, AudioError, FileNotFoundError)
    if args.command == "data":
        from kwsdk.fetch import FetchError

        errors += (FetchError,)
    if args.command == "synth":  # imported only here: the daemon on a Pi should not load scipy.signal
        from kwsdk.synth import SynthError

        errors += (SynthError, ValueError)  # bad word lists are user input there
    try:
        return args.func(args)
    except errors as e:
        print(f"kwsdk: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kwsdk: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
