"""A kwsdk wake-phrase model side by side with microWakeWord and openWakeWord
on the same audio.

Audio (built the same way for every engine, from the run's own speaker split):
- positives: the test split's recordings of --keyword, each mixed with the
  data folder's evaluation noise at --snr dB against its speech level and
  padded with 1 s of that noise either side, in one continuous signal;
- negatives: the test split's other phrases (the data folder's `_unknown_`
  clips) and the test split of every --negatives folder, each padded with
  0.5 s of noise either side, in one continuous signal at the same SNR.
Recordings keep their own level.

Engines: kwsdk's model in float (PyTorch on the float frontend) and as the
device C (the host build of the generated library, `kwsdk export`), and,
with the `peers` extra installed, microWakeWord (pymicro-wakeword, its
bundled model) and openWakeWord (pyopen-wakeword, its bundled model with
the mel and embedding models). Each engine's per-step probability goes
through one rule (an event when it is >= T, then 1 s refractory; a positive
is found when an event falls within its recording or 0.5 s after), swept
over T: recall at 0.5, 1, 2 and 5 false accepts per hour, and the DET curve
(--png). Each engine's own default rule gives one more point: kwsdk's
calibrated detector (smoothing, threshold, refractory) as the float rule
and as the C library's own events; microWakeWord: the mean of the last 5
probabilities above its model's cutoff (0.9 for alexa; the library's
process_streaming); openWakeWord: a probability above 0.5 (its command
line's default). Neither peer library has a refractory period: a run of
steps above the threshold counts as one event.

CPU seconds per hour of audio are measured with the process pinned to one
core (torch on one thread; the peers' TFLite interpreters cannot be told
their thread count, so pinning is what keeps them on one core). For kwsdk,
`kwsdk report` adds the Cortex-M4 instructions per second of audio and the
library's flash and RAM (needs the arm-none-eabi toolchain; --no-report
skips it).

    .venv/bin/python benchmarks/wakeword_peers.py --run RUN \\
        [--data ../shared/data/wake_phrases_dev] [--negatives ../shared/data/librispeech_dev] \\
        [--keyword alexa] [--snr 10] [--png det.png] [--no-peers] [--no-report] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import REPO, print_table
from kwsdk.config import ConfigError
from kwsdk.data import UNKNOWN, DataError, load_dataset
from kwsdk.negatives import NegativeFile, load_negatives, speech_rms
from kwsdk.streams import background, noise_segments

WAKE_DATA = REPO.parent / "shared" / "data" / "wake_phrases_dev"
LIBRISPEECH = REPO.parent / "shared" / "data" / "librispeech_dev"
RATES = (0.5, 1.0, 2.0, 5.0)
REFRACTORY_S = 1.0
AFTER_S = 0.5  # an event this long after a positive recording still finds it
SWEEP = np.unique(np.concatenate([np.linspace(0.02, 0.98, 49), 1 - np.logspace(-1.3, -4, 28)]))


def signal(files: list, noise: list[np.ndarray], snr_db: float, pad_s: float, sr: int, seed: int):
    """The files one after another, each with pad_s of noise either side and
    noise under it at snr_db below its speech level: (int16 signal, spans of
    the files in samples)."""
    from kwsdk.audio import to_pcm16

    rng = np.random.default_rng(seed)
    pad, pieces, spans, pos = int(pad_s * sr), [], [], 0
    for f in files:
        speech = np.zeros(len(f.audio) + 2 * pad, np.float32)
        speech[pad : pad + len(f.audio)] = f.audio
        bg = background(rng, noise, len(speech), 1.0)
        pieces.append(np.clip(speech + bg * np.float32(speech_rms(f.audio, sr) / 10 ** (snr_db / 20)), -1, 1))
        spans.append((pos + pad, pos + pad + len(f.audio)))
        pos += len(speech)
    return to_pcm16(np.concatenate(pieces)), np.array(spans)


def rule_events(t: np.ndarray, p: np.ndarray, threshold: float) -> np.ndarray:
    """Times of the events of the common rule: p >= threshold, then REFRACTORY_S."""
    out, last = [], -np.inf
    for ti in t[p >= threshold]:
        if ti - last >= REFRACTORY_S:
            out.append(ti)
            last = ti
    return np.array(out)


def runs_of(t: np.ndarray, above: np.ndarray) -> np.ndarray:
    """Times of the first step of each run of steps above a threshold (peer rules)."""
    start = above & ~np.concatenate([[False], above[:-1]])
    return t[start]


def found(events: np.ndarray, spans: np.ndarray, sr: int) -> int:
    """Positives with an event within their recording or AFTER_S after it."""
    if len(events) == 0:
        return 0
    lo, hi = spans[:, 0] / sr, spans[:, 1] / sr + AFTER_S
    i = np.searchsorted(events, lo)  # first event at or after each onset
    return int(np.sum((i < len(events)) & (events[np.minimum(i, len(events) - 1)] <= hi)))


def score(pos_events, neg_events, spans, neg_hours, sr) -> dict:
    return {"recall": found(pos_events, spans, sr) / len(spans), "false_accepts": len(neg_events),
            "false_accepts_per_hour": len(neg_events) / neg_hours}


class KwsdkFloat:
    name = "kwsdk float"

    def __init__(self, run: Path, keyword: str):
        import torch

        from kwsdk.detector import detector_config
        from kwsdk.codegen.cfrontend import make_frontend
        from kwsdk.models import load_model

        torch.set_num_threads(1)
        self.cfg, self.cats, self.model = load_model(run)
        self.k = self.cats.index(keyword)
        self.det = detector_config(run, self.cfg)
        self.frontend = make_frontend(self.cfg.features)
        self.model_bytes = 4 * self.model.n_params()

    def run(self, pcm: np.ndarray):
        """(step times, probabilities of the keyword, times of the own rule's
        events, CPU seconds of the engine's work)."""
        from kwsdk.detector import detect
        from kwsdk.evaluate import featurize, stream_posteriors

        c0 = time.process_time()
        post = stream_posteriors(self.model, featurize(self.frontend, pcm.astype(np.float32) / 32768))
        fps = self.cfg.features.frames_per_second
        own = [e.time for e in detect(post, self.cats, self.det, fps) if e.keyword == self.k]
        cpu = time.process_time() - c0
        return np.arange(1, len(post) + 1) / fps, post[:, self.k], np.array(own), cpu


class KwsdkC:
    name = "kwsdk device C"

    def __init__(self, run: Path, keyword: str, tmp: Path):
        from kwsdk.daemon.backends import KwsLibrary
        from kwsdk.export import export
        from kwsdk.qmodel.model import QuantModel

        export(run, tmp / "export", "host")
        self.lib = KwsLibrary(tmp / "export")
        self.k = self.lib.categories.index(keyword)
        self.model_bytes = QuantModel.load(run / "quant" / "model_q.npz").weight_bytes()

    def run(self, pcm: np.ndarray):
        """The probabilities read frame by frame; the own rule's events (and the
        CPU time) from the library run as a device runs it, 100 ms per call."""
        self.lib.reset()
        post = self.lib.frame_posteriors(pcm)
        self.lib.reset()
        c0 = time.process_time()
        own = [e["time"] for i in range(0, len(pcm), 1600) for e in self.lib.process(pcm[i : i + 1600])
               if e["index"] == self.k]
        cpu = time.process_time() - c0
        fps = self.lib.sample_rate / self.lib.hop
        return np.arange(1, len(post) + 1) / fps, post[:, self.k] / 32768.0, np.array(own), cpu


class MicroWakeWord:
    """pymicro-wakeword: one model run per 30 ms (every third 10 ms feature);
    the library returns 0.0 for the other features, which are not steps."""

    name = "microWakeWord"

    def __init__(self, keyword: str):
        import pymicro_wakeword as mww

        self.model = mww.Model(keyword)
        self.path = Path(mww.__file__).parent / "models" / f"{keyword}.tflite"
        self.model_bytes = self.path.stat().st_size
        self.engine = mww.MicroWakeWord.from_builtin(self.model)
        self.features = mww.MicroWakeWordFeatures()

    def run(self, pcm: np.ndarray):
        c0 = time.process_time()
        self.engine.reset()
        self.features.reset()
        t, p, smoothed, n = [], [], [], 0
        for i in range(0, len(pcm), 1600):
            for f in self.features.process_streaming(pcm[i : i + 1600].tobytes()):
                n += 1
                s = self.engine.process_streaming_prob(f)
                if not self.engine._features:  # the model ran on this feature
                    t.append((480 + 160 * (n - 1)) / 16000)
                    p.append(self.engine._probabilities[-1])
                    smoothed.append(s)
        t = np.array(t)
        own = runs_of(t, np.array(smoothed) > self.engine.probability_cutoff)
        return t, np.array(p, np.float64), own, time.process_time() - c0


class OpenWakeWord:
    """pyopen-wakeword: one probability per 80 ms."""

    name = "openWakeWord"
    THRESHOLD = 0.5  # the pyopen_wakeword command line's default

    def __init__(self, keyword: str):
        import pyopen_wakeword as oww

        self.model = oww.Model(keyword)
        folder = Path(oww.__file__).parent / "models"
        self.model_bytes = sum((folder / f).stat().st_size
                               for f in (f"{keyword}.tflite", "melspectrogram.tflite", "embedding_model.tflite"))
        self.engine = oww.OpenWakeWord.from_builtin(self.model)
        self.features = oww.OpenWakeWordFeatures.from_builtin()

    def run(self, pcm: np.ndarray):
        c0 = time.process_time()
        self.engine.reset()
        self.features.reset()
        p = []
        # 80 ms chunks: the library's buffer silently drops audio of chunks over 2 s.
        for i in range(0, len(pcm), 1280):
            for emb in self.features.process_streaming(pcm[i : i + 1280].tobytes()):
                p.extend(self.engine.process_streaming(emb))
        # Each reset primes 8 s of zeros, whose steps come first: drop them.
        p = np.array(p[len(p) - len(pcm) // 1280 :], np.float64)
        t = np.arange(1, len(p) + 1) * 0.08
        return t, p, runs_of(t, p > self.THRESHOLD), time.process_time() - c0


def build_audio(args, p, cfg):
    sr = cfg.features.sample_rate
    try:
        ds = load_dataset(args.data, cfg.data, sr, progress=False)
        neg = load_negatives(args.negatives, cfg.data, sr, progress=False) if args.negatives else None
    except (ConfigError, DataError) as e:
        p.error(str(e))
    test = ds.split("test")
    positives = [c for c in test if c.label == args.keyword]
    others = [NegativeFile(c.path, str(args.data), c.speaker, c.split, c.pcm) for c in test if c.label == UNKNOWN]
    negatives = others + (neg.split("test") if neg else [])
    if not positives or not negatives:
        p.error(f"the test split has {len(positives)} {args.keyword!r} recordings and {len(negatives)} negatives")
    noise = noise_segments(ds.noise, "eval")
    pos_pcm, spans = signal(positives, noise, args.snr, 1.0, sr, args.seed)
    neg_pcm, _ = signal(negatives, noise, args.snr, 0.5, sr, args.seed + 1)
    sources = {str(args.data): len(others)}
    for f in neg.split("test") if neg else []:
        sources[f.source] = sources.get(f.source, 0) + 1
    return pos_pcm, spans, neg_pcm, {"positives": len(positives), "negative_files": len(negatives),
                                     "negative_sources": sources,
                                     "positive_hours": len(pos_pcm) / sr / 3600,
                                     "negative_hours": len(neg_pcm) / sr / 3600}


def measure(engine, pos_pcm, spans, neg_pcm, sr: int) -> dict:
    neg_hours = len(neg_pcm) / sr / 3600
    tp, pp, own_p, cpu_p = engine.run(pos_pcm)
    tn, pn, own_n, cpu_n = engine.run(neg_pcm)
    curve = [{"threshold": float(th), **score(rule_events(tp, pp, th), rule_events(tn, pn, th), spans, neg_hours, sr)}
             for th in SWEEP]
    at = {f"{r:g}": max((c["recall"] for c in curve if c["false_accepts_per_hour"] <= r), default=0.0)
          for r in RATES}
    return {"engine": engine.name, "step_s": float(np.median(np.diff(tn))), "recall_at_fa_per_hour": at,
            "own_rule": score(np.sort(own_p), own_n, spans, neg_hours, sr), "model_bytes": engine.model_bytes,
            "cpu_s_per_audio_hour": (cpu_p + cpu_n) / ((len(pos_pcm) + len(neg_pcm)) / sr / 3600), "curve": curve}


def save_png(results: list[dict], info: dict, path: Path, keyword: str, snr: float) -> None:
    from kwsdk.evaluate import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    floor = 0.5 / info["negative_hours"]  # 0 false accepts drawn at half of one per run's hours
    for r in results:
        xs = [max(c["false_accepts_per_hour"], floor) for c in r["curve"]]
        ax.step(xs, [1 - c["recall"] for c in r["curve"]], where="post", label=r["engine"])
        own = r["own_rule"]
        ax.plot(max(own["false_accepts_per_hour"], floor), 1 - own["recall"], "o",
                color=ax.lines[-1].get_color())
    ax.set_xscale("log")
    ax.set_xlabel(f"false accepts per hour ({info['negative_hours']:.2f} h of negatives; "
                  f"0 drawn at {floor:.2g})")
    ax.set_ylabel(f"miss rate ({info['positives']} {keyword} recordings)")
    ax.set_title(f"{keyword}: test-split speakers at {snr:g} dB SNR (dots: each engine's own rule)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=120)
    os.replace(tmp, path)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, required=True, help="a kwsdk run folder, quantized (kwsdk quantize)")
    p.add_argument("--data", type=Path, default=WAKE_DATA, help="the run's data folder (its test split is used)")
    p.add_argument("--negatives", type=Path, action="append",
                   help="folders of real speech without the phrase (default: ../shared/data/librispeech_dev)")
    p.add_argument("--keyword", default="alexa")
    p.add_argument("--snr", type=float, default=10.0, help="dB of speech over noise (default 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--png", type=Path, help="write the DET curves here")
    p.add_argument("--no-peers", action="store_true", help="kwsdk only (without the peers extra)")
    p.add_argument("--no-report", action="store_true", help="no Cortex-M4 figures (no arm toolchain)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    if args.negatives is None:
        args.negatives = [LIBRISPEECH] if LIBRISPEECH.is_dir() else []
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    from kwsdk.config import RunConfig

    if not (args.run / "quant" / "model_q.npz").exists():
        p.error(f"{args.run}: no quant/model_q.npz (run kwsdk quantize first)")
    cfg = RunConfig.load(args.run / "config.json")
    if args.keyword not in cfg.data.keywords:
        p.error(f"{args.run} does not spot {args.keyword!r} (its keywords: {', '.join(cfg.data.keywords)})")
    sr = cfg.features.sample_rate
    pos_pcm, spans, neg_pcm, info = build_audio(args, p, cfg)
    with tempfile.TemporaryDirectory() as tmp:
        engines = [KwsdkFloat(args.run, args.keyword), KwsdkC(args.run, args.keyword, Path(tmp))]
        if not args.no_peers:
            try:
                engines += [MicroWakeWord(args.keyword), OpenWakeWord(args.keyword)]
            except ImportError as e:
                p.error(f"{e}; install the peers extra (pip install -e .[peers]) or pass --no-peers")
        results = [measure(e, pos_pcm, spans, neg_pcm, sr) for e in engines]
    device = None
    if not args.no_report:
        from kwsdk.verify.report import report

        device = report(args.run, "cortex-m4")
    if args.png:
        save_png(results, info, args.png, args.keyword, args.snr)
    out = {**info, "keyword": args.keyword, "snr_db": args.snr, "engines": results, "cortex_m4": device}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{info['positives']} {args.keyword} recordings ({info['positive_hours'] * 60:.1f} min) and "
          f"{info['negative_files']} negative files ({info['negative_hours']:.2f} h) of the test split at "
          f"{args.snr:g} dB SNR, one continuous signal each")
    rows = [[r["engine"], f"{r['step_s'] * 1000:.0f} ms",
             *(f"{100 * r['recall_at_fa_per_hour'][f'{x:g}']:.1f}%" for x in RATES),
             f"{100 * r['own_rule']['recall']:.1f}% at {r['own_rule']['false_accepts_per_hour']:.1f}/h",
             f"{r['model_bytes']:,}", f"{r['cpu_s_per_audio_hour']:.1f}"] for r in results]
    print_table(["engine", "step", *(f"recall @{x:g} FA/h" for x in RATES), "own rule", "model bytes",
                 "CPU s per h"], rows)
    if device:
        print(f"kwsdk on Cortex-M4 (-O2): {device['instructions_per_second'] / 1e6:.2f} M instructions per second "
              f"of audio, flash {device['flash_bytes']:,} B, RAM {device['ram_bytes']:,} B")
    if args.png:
        print(f"DET curves: {args.png}")


if __name__ == "__main__":
    sys.exit(main())
