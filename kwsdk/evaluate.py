"""Clip and streaming evaluation of a trained run (training side, torch)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from kwsdk.config import AugmentConfig, ConfigError, DetectorConfig, RunConfig, StreamConfig
from kwsdk.data import UNKNOWN, clip_length, load_dataset
from kwsdk.detector import clip_decisions, detect, detector_config, save_detector
from kwsdk.fileio import atomic_write
from kwsdk.codegen.cfrontend import make_frontend
from kwsdk.frontend.features import cached_features
from kwsdk.metrics import clip_metrics, score_events
from kwsdk.models import KWSModel, load_model
from kwsdk.negatives import NegativeFile, NegativeStream, load_negatives, negative_stream
from kwsdk.streams import StreamBuilder, eval_stream, noise_segments, prepare

# The evaluation stream: utterances 0.5-3 s apart, always over background
# noise (held-out part of each noise file) at 5-20 dB SNR unless told
# otherwise (`eval --stream --snr`), levels -20..0 dB, clips at their natural speed.
EVAL_STREAM = StreamConfig(gap_min=0.5, gap_max=3.0, p_keyword=0.5, p_unknown=0.25, digital_silence_prob=0.0)
EVAL_AUGMENT = AugmentConfig(noise_prob=1.0, snr_db_min=5.0, snr_db_max=20.0, gain_db_min=-20.0, gain_db_max=0.0,
                             speed_min=1.0, speed_max=1.0)
EVAL_SNR_DB = (EVAL_AUGMENT.snr_db_min, EVAL_AUGMENT.snr_db_max)
# Thresholds swept for the stream curve and calibration: finer near 1, where
# a confident model's low-false-accept operating points lie.
SWEEP = np.concatenate([np.round(np.arange(0.30, 0.985, 0.01), 2), [0.99, 0.993, 0.995, 0.997, 0.998, 0.999]])


def clip_features(clips, cfg: RunConfig, cache_dir: Path | None) -> np.ndarray:
    return cached_features([c.pcm for c in clips], make_frontend(cfg.features), cache_dir,
                           clip_length(clips, cfg.features.sample_rate))


@torch.no_grad()
def posteriors(model: KWSModel, feats: np.ndarray, batch: int = 256) -> np.ndarray:
    """(N, T, F) features -> (N, T, C) posteriors, each sequence from zero state."""
    model.eval()
    out = [torch.softmax(model(torch.from_numpy(feats[i : i + batch]))[0], -1).numpy()
           for i in range(0, len(feats), batch)]
    return np.concatenate(out) if out else np.zeros((0, feats.shape[1], model.n_classes))


def evaluate_clips(model: KWSModel, clips, feats: np.ndarray, cfg: RunConfig, categories,
                   det: DetectorConfig | None = None) -> dict:
    """Clip metrics with `det`'s clip decision (default: the config's detector)."""
    post = posteriors(model, feats)
    pred = clip_decisions(post, categories, det or cfg.detector)
    true = np.array([categories.index(c.label) for c in clips], np.int64)
    return clip_metrics(true, pred, categories)


def _pyplot():
    """pyplot on the file-only backend (no display on devices or CI)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_png(plt, fig, path: Path) -> None:
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=100))
    plt.close(fig)


def save_confusion_png(metrics: dict, path: Path, title: str) -> None:
    plt = _pyplot()
    cm = np.array(metrics["confusion"], dtype=float)
    cats = metrics["categories"]
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(1 + 0.6 * len(cats), 0.8 + 0.55 * len(cats)))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cats)), cats, rotation=60, ha="right")
    ax.set_yticks(range(len(cats)), cats)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(cats)):
        for j in range(len(cats)):
            if cm[i, j]:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(title)
    fig.tight_layout()
    _save_png(plt, fig, path)


def load_run_and_split(run_dir: Path, data_dir: Path, split: str, cache_dir: Path | None, progress: bool,
                       frontend: str | None = None):
    """The run's model and config, its data config applied to data_dir, and the split's clips.
    `frontend` ("float"/"integer") overrides the features the model is fed."""
    cfg, cats, model = load_model(run_dir)
    if frontend:
        cfg.features = dataclasses.replace(cfg.features, frontend=frontend)
    ds = load_dataset(data_dir, cfg.data, cfg.features.sample_rate, progress=progress, cache_dir=cache_dir)
    clips = ds.split(split)
    if not clips:
        raise ConfigError(f"{data_dir}: split {split!r} has no usable clips")
    return cfg, cats, model, ds, clips


def eval_clips(run_dir: Path, data_dir: Path, split: str, cache_dir: Path | None, progress: bool,
               frontend: str | None = None) -> dict:
    cfg, cats, model, ds, clips = load_run_and_split(run_dir, data_dir, split, cache_dir, progress, frontend)
    det = detector_config(run_dir, cfg)
    res = evaluate_clips(model, clips, clip_features(clips, cfg, cache_dir), cfg, cats, det)
    res["split"] = split
    res["frontend"] = cfg.features.frontend
    res["skipped"] = len(ds.skipped)
    png = Path(run_dir) / f"confusion_{split}.png"
    save_confusion_png(res, png, f"{split}: accuracy {res['accuracy']:.3f} (n={res['n']})")
    res["confusion_png"] = str(png)
    return res


@torch.no_grad()
def stream_posteriors(model: KWSModel, feats: np.ndarray, chunk: int = 2000) -> np.ndarray:
    """Run over one continuous (T, F) stream, state carried, never reset."""
    model.eval()
    state, out = None, []
    for i in range(0, len(feats), chunk):
        logits, state = model(torch.from_numpy(feats[None, i : i + chunk]), state)
        out.append(torch.softmax(logits[0], -1).numpy())
    return np.concatenate(out)


def stream_curve(post, truth, cats, det: DetectorConfig, fps: float, sr: int, seconds: float) -> list[dict]:
    curve = []
    for thr in SWEEP:
        d = dataclasses.replace(det, threshold=float(thr), thresholds={})
        r = score_events(detect(post, cats, d, fps), truth, cats, sr, seconds)
        curve.append({"threshold": float(thr), "recall": r["recall"],
                      "false_accepts_per_hour": r["false_accepts_per_hour"],
                      "false_accepts_by_cause": r["false_accepts_by_cause"]})
    return curve


def eval_noise(noise, snr_db: tuple[float, float] | None) -> tuple[list[np.ndarray], AugmentConfig]:
    """The evaluation streams' noise (the held-out part of each noise file)
    and mixing settings, at an SNR drawn from the range snr_db.

    snr_db None: silent noise segments, which give the same stream (same words
    at the same times) without noise and leave the random draws as they are.
    """
    segs = noise_segments(noise, "eval")
    if snr_db is None:
        return [np.zeros_like(s) for s in segs], EVAL_AUGMENT
    return segs, dataclasses.replace(EVAL_AUGMENT, snr_db_min=snr_db[0], snr_db_max=snr_db[1])


def stream_builder(cfg: RunConfig, cats, clips, noise, snr_db: tuple[float, float] | None = EVAL_SNR_DB) -> StreamBuilder:
    """Builds the evaluation stream from a split's clips and the held-out noise
    (eval_noise), at an SNR drawn per 30 s chunk."""
    segs, aug = eval_noise(noise, snr_db)
    return StreamBuilder(prepare(clips, cats, cfg.features.sample_rate), segs, cats, cfg.features, EVAL_STREAM, aug)


def noise_label(snr_db: tuple[float, float] | None) -> str:
    """How a stream's background noise is described in summaries and plots."""
    return f"over noise at {snr_db[0]:g}-{snr_db[1]:g} dB SNR" if snr_db else "no noise"


def build_stream(cfg: RunConfig, cats, clips, noise, minutes: float, seed: int,
                 snr_db: tuple[float, float] | None = EVAL_SNR_DB):
    return eval_stream(stream_builder(cfg, cats, clips, noise, snr_db), make_frontend(cfg.features),
                       minutes * 60.0, seed)


def calibrate(run_dir: Path, model: KWSModel, cfg: RunConfig, cats, clips, noise, minutes: float,
              target_fa_per_hour: float, seed: int = 1, negatives: list[NegativeFile] = (),
              negative_sources: list[str] = ()) -> tuple[DetectorConfig, bool]:
    """Lowest threshold whose false accepts per hour meet the target on a
    validation stream and, given `negatives` (files of real speech from the
    training side: never the test split), on their stream too.

    Writes the result to RUN/detector.json, which eval and export use, and
    says whether the target was met (if not: the sweep's highest threshold).
    """
    es = build_stream(cfg, cats, clips, noise, minutes, seed)
    post = stream_posteriors(model, es.features)
    fps, sr = cfg.features.frames_per_second, cfg.features.sample_rate
    curve = stream_curve(post, es.truth, cats, cfg.detector, fps, sr, es.seconds)
    if negatives:
        npost, ns = eval_negatives(model, cfg, cats, list(negatives), list(negative_sources), noise, EVAL_SNR_DB,
                                   seed)
        add_negative_rates(curve, npost, ns, cats, cfg.detector, fps, sr)
    ok = [c for c in curve if c["false_accepts_per_hour"] <= target_fa_per_hour
          and c.get("negatives_false_accepts_per_hour", 0.0) <= target_fa_per_hour]
    thr = ok[0]["threshold"] if ok else float(SWEEP[-1])
    det = dataclasses.replace(cfg.detector, threshold=thr)
    save_detector(run_dir, det)
    return det, bool(ok)


NEGATIVE_RATES = (0.5, 1.0, 2.0, 5.0)  # false accepts per hour on real speech at which recall is read


def featurize(frontend, audio: np.ndarray, chunk: int = 480_000) -> np.ndarray:
    """Features of one long recording, streamed in chunks (bounded memory)."""
    frontend.reset()
    feats = [frontend.process(audio[i : i + chunk]) for i in range(0, len(audio), chunk)]
    frontend.reset()
    return np.concatenate(feats)


def negative_counts(post: np.ndarray, ns: NegativeStream, cats, det: DetectorConfig, fps: float,
                    sr: int) -> dict:
    """Every event on the negatives stream is a false accept: counted per
    source folder (the file playing, or the gap after it) and per keyword."""
    hours = ns.samples_per_source / sr / 3600.0
    speech = ns.speech_samples_per_source / sr / 3600.0
    events = detect(post, cats, det, fps)
    src = ns.sources[ns.piece_at(np.array([int(e.time * sr) - 1 for e in events], np.int64))]
    sources = []
    for i, name in enumerate(ns.source_names):
        mine = [e for e, s in zip(events, src) if s == i]
        by_kw: dict[str, int] = {}
        for e in mine:
            by_kw[cats[e.keyword]] = by_kw.get(cats[e.keyword], 0) + 1
        # A folder with no file in this split has no rate (None, JSON null).
        sources.append({"folder": name, "files": int((ns.sources == i).sum()), "hours": float(hours[i]),
                        "speech_hours": float(speech[i]), "false_accepts": len(mine),
                        "false_accepts_per_hour": len(mine) / hours[i] if hours[i] else None,
                        "by_keyword": dict(sorted(by_kw.items(), key=lambda kv: (-kv[1], kv[0])))})
    total = float(hours.sum())
    return {"hours": total, "speech_hours": float(speech.sum()), "false_accepts": len(events),
            "false_accepts_per_hour": len(events) / total, "sources": sources}


def add_negative_rates(curve: list[dict], post: np.ndarray, ns: NegativeStream, cats, det: DetectorConfig,
                       fps: float, sr: int) -> None:
    """Each curve point gains the negatives' false accepts per hour at its
    threshold, in total and per folder."""
    for point in curve:
        n = negative_counts(post, ns, cats, dataclasses.replace(det, threshold=point["threshold"], thresholds={}),
                            fps, sr)
        point["negatives_false_accepts_per_hour"] = n["false_accepts_per_hour"]
        point["negatives_by_source"] = {s["folder"]: s["false_accepts_per_hour"] for s in n["sources"]}


def eval_negatives(model: KWSModel, cfg: RunConfig, cats, files: list[NegativeFile], sources: list[str], noise,
                   snr_db: tuple[float, float] | None, seed: int) -> tuple[np.ndarray, NegativeStream]:
    """Posteriors over the stream of these negatives files (state carried throughout)."""
    segs, aug = eval_noise(noise, snr_db)
    ns = negative_stream(files, sources, segs, cfg.features.sample_rate, aug, seed)
    return stream_posteriors(model, featurize(make_frontend(cfg.features), ns.audio)), ns


def recall_at_rates(curve: list[dict], key: str, rates=NEGATIVE_RATES) -> dict[str, float]:
    """The best keyword recall among the curve's thresholds whose `key`
    (false accepts per hour) is at most each rate."""
    return {f"{r:g}": max((c["recall"] for c in curve if c[key] <= r), default=0.0) for r in rates}


def eval_stream_run(run_dir: Path, data_dir: Path, split: str, minutes: float, seed: int,
                    threshold: float | None, cache_dir: Path | None, progress: bool,
                    frontend: str | None = None, snr_db: tuple[float, float] | None = EVAL_SNR_DB,
                    negatives: list[Path] | None = None, negatives_split: str | None = None) -> dict:
    """`negatives`: folders of real speech without keywords (kwsdk.negatives),
    scored on their `negatives_split` (default: `split`) beside the keyword
    stream: false accepts per hour per folder, and the DET curve."""
    cfg, cats, model, ds, clips = load_run_and_split(run_dir, data_dir, split, cache_dir, progress, frontend)
    sr = cfg.features.sample_rate
    if negatives:  # before the keyword stream: a bad folder or an empty split fails at once
        neg = load_negatives(negatives, cfg.data, sr, progress, cache_dir)
        nsplit = negatives_split or split
        if not neg.split(nsplit):
            raise ConfigError(f"the negatives folders ({', '.join(neg.sources)}) have no file in the {nsplit!r} "
                              "split (few speakers?); try --negatives-split all")
    es = build_stream(cfg, cats, clips, ds.noise, minutes, seed, snr_db)
    post = stream_posteriors(model, es.features)
    det = detector_config(run_dir, cfg)
    if threshold is not None:
        det = dataclasses.replace(det, threshold=threshold, thresholds={})
    fps = cfg.features.frames_per_second
    res = score_events(detect(post, cats, det, fps), es.truth, cats, sr, es.seconds)
    curve = stream_curve(post, es.truth, cats, det, fps, sr, es.seconds)
    if negatives:
        npost, ns = eval_negatives(model, cfg, cats, neg.split(nsplit), neg.sources, ds.noise, snr_db, seed)
        add_negative_rates(curve, npost, ns, cats, det, fps, sr)
        res["negatives"] = {**negative_counts(npost, ns, cats, det, fps, sr), "split": nsplit,
                            "skipped": [{"path": p, "reason": r} for p, r in neg.skipped]}
        res["recall_at_negative_fa_per_hour"] = recall_at_rates(curve, "negatives_false_accepts_per_hour")
    unknown = cats.index(UNKNOWN)
    res.update(split=split, frontend=cfg.features.frontend, snr_db=list(snr_db) if snr_db else None,
               threshold=det.threshold, smooth_frames=det.smooth_frames,
               refractory_s=det.refractory_s, curve=curve,
               # The stream repeats the split's clips: at low false-accept rates a
               # few confusable unknown-word clips, each recurring, decide the figure.
               distinct_clips=es.distinct_clips, unknown_spoken=sum(t.label == unknown for t in es.truth))
    at2 = [c for c in curve if c["false_accepts_per_hour"] <= 2.0]
    res["best_recall_at_2_fa_per_hour"] = max((c["recall"] for c in at2), default=0.0)
    png = Path(run_dir) / f"stream_{split}.png"
    save_curve_png(curve, res, png)
    res["curve_png"] = str(png)
    if negatives:
        png = Path(run_dir) / f"det_{split}.png"
        save_det_png(curve, res, png)
        res["det_png"] = str(png)
    return res


def save_curve_png(curve: list[dict], res: dict, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([c["false_accepts_per_hour"] for c in curve], [c["recall"] for c in curve], ".-")
    ax.plot([res["false_accepts_per_hour"]], [res["recall"]], "o", color="red",
            label=f"threshold {res['threshold']:g}")
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("false accepts per hour")
    ax.set_ylabel("keyword recall")
    ax.set_title(f"{res['stream_hours'] * 60:.0f} min stream, {res['keywords_spoken']} keywords, "
                 f"{noise_label(res['snr_db'])}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    _save_png(plt, fig, path)


def save_det_png(curve: list[dict], res: dict, path: Path) -> None:
    """DET curve: keyword misses on the keyword stream against false accepts
    per hour on the real-speech negatives, in total and per folder."""
    plt = _pyplot()
    neg = res["negatives"]
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    miss = [1.0 - c["recall"] for c in curve]
    ax.plot([c["negatives_false_accepts_per_hour"] for c in curve], miss, ".-", color="black",
            label=f"all negatives ({neg['hours']:.2f} h)")
    for s in (s for s in neg["sources"] if s["hours"]):
        ax.plot([c["negatives_by_source"][s["folder"]] for c in curve], miss, "--", alpha=0.7,
                label=f"{Path(s['folder']).name} ({s['hours']:.2f} h)")
    ax.plot([neg["false_accepts_per_hour"]], [1.0 - res["recall"]], "o", color="red",
            label=f"threshold {res['threshold']:g}")
    # One false accept in the hours heard is the smallest non-zero rate: below it, zero.
    ax.set_xscale("symlog", linthresh=min(0.5, 1.0 / max(neg["hours"], 1e-9)))
    ax.set_xlabel(f"false accepts per hour on real speech without keywords ({neg['split']} split)")
    ax.set_ylabel("keyword miss rate (keyword stream)")
    ax.set_ylim(0, 1)
    ax.set_title(f"DET: {res['keywords_spoken']} keywords, {noise_label(res['snr_db'])}")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save_png(plt, fig, path)
