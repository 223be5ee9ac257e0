"""Streaming training of GRU/LSTM keyword spotters.

Training sequences are continuous synthetic streams (kwsdk.streams): several
utterances with noise gaps, the recurrent state carried across them, and
per-frame targets, so the model keeps working on a stream without resets.
Validation uses single clips (the clip decision of kwsdk.detector); the best
validation checkpoint is kept.

Optional distillation (train.teacher): a trained run's per-frame
posteriors on the same batch are a second target (KL at a temperature).

Resumable: the full training state (model, optimizer, schedule, history) is
written atomically after every epoch; re-running the same command continues.
Each epoch's randomness is derived from (seed, epoch, rank), so a resumed run
equals an uninterrupted one. Runs unchanged under
`torchrun --nproc_per_node=N` (DistributedDataParallel, gloo).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import io
import json
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from kwsdk.augment import Augmenter
from kwsdk.config import ConfigError, RunConfig
from kwsdk.data import Dataset, load_dataset
from kwsdk.detector import calibrate_clip_floor, save_detector
from kwsdk.evaluate import calibrate, clip_features, evaluate_clips, posteriors
from kwsdk.codegen.cfrontend import make_frontend
from kwsdk.frontend.features import Frontend
from kwsdk.models import KWSModel, build_model, load_model
from kwsdk.negatives import Negatives, load_negatives
from kwsdk.streams import StreamBuilder, noise_segments, prepare
from kwsdk.fileio import atomic_write_bytes, atomic_write_text, progress_bar

NORM_BATCHES = 4


@dataclass
class Prepared:
    dataset: Dataset
    categories: list[str]
    builder: StreamBuilder  # training streams
    extras: list[Dataset]  # the DataConfig.extra_dirs folders (training only)
    negatives: Negatives | None  # the DataConfig.negatives_dirs folders


def prepare_data(data_dir: Path, cfg: RunConfig, cache_dir: Path | None, progress: bool) -> Prepared:
    ds = load_dataset(data_dir, cfg.data, cfg.features.sample_rate, progress=progress, cache_dir=cache_dir)
    cats = ds.categories
    train_clips, extras = ds.split("train"), []
    for extra_dir in cfg.data.extra_dirs:
        extra = load_dataset(extra_dir, cfg.data, cfg.features.sample_rate, progress=progress, cache_dir=cache_dir,
                             extra=True)
        train_clips += extra.clips
        extras.append(extra)
    train_utts = prepare(train_clips, cats, cfg.features.sample_rate)
    if not train_utts:
        raise ConfigError(f"{data_dir}: the training split is empty")
    neg = None
    if cfg.data.negatives_dirs:
        neg = load_negatives(cfg.data.negatives_dirs, cfg.data, cfg.features.sample_rate, progress, cache_dir)
    augmenter = Augmenter(cfg.augment, cfg.features.sample_rate, cfg.train.seed)
    builder = StreamBuilder(train_utts, noise_segments(ds.noise, "train"), cats, cfg.features, cfg.stream,
                            cfg.augment, [f.pcm for f in neg.split("train")] if neg else [],
                            augmenter if augmenter.active else None)
    return Prepared(ds, cats, builder, extras, neg)


def make_optimizer(model: nn.Module, cfg: RunConfig):
    t = cfg.train
    params = model.parameters()
    if t.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=t.lr, weight_decay=t.weight_decay)
    if t.optimizer == "adam":
        return torch.optim.Adam(params, lr=t.lr, weight_decay=t.weight_decay)
    if t.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=t.lr, alpha=0.99, weight_decay=t.weight_decay)
    if t.optimizer == "sgd":
        return torch.optim.SGD(params, lr=t.lr, momentum=0.9, nesterov=True, weight_decay=t.weight_decay)
    raise ConfigError(f"train.optimizer: unknown {t.optimizer!r} (adamw, adam, rmsprop, sgd)")


def make_schedule(opt, cfg: RunConfig):
    t = cfg.train
    total = t.epochs * t.steps_per_epoch
    if t.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=t.lr, total_steps=total, pct_start=0.15)
    if t.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if t.schedule == "constant":
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    raise ConfigError(f"train.schedule: unknown {t.schedule!r} (onecycle, cosine, constant)")


def save_torch(path: Path, obj) -> None:
    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


class Distributed:
    """Process-group facts; a single process is world size 1."""

    def __init__(self):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def load_teacher(cfg: RunConfig, categories: list[str]) -> KWSModel | None:
    """The distillation teacher of cfg.train.teacher (None when unset), checked
    to take the same features and predict the same categories."""
    if not cfg.train.teacher:
        return None
    if not 0.0 < cfg.train.distill_weight <= 1.0 or cfg.train.distill_temperature <= 0:
        raise ConfigError("train.distill_weight must be in (0, 1] and train.distill_temperature > 0")
    t_cfg, t_cats, teacher = load_model(Path(cfg.train.teacher))
    if t_cats != categories:
        raise ConfigError(f"teacher {cfg.train.teacher}: categories {t_cats} differ from this run's {categories}")
    if t_cfg.features != cfg.features:
        raise ConfigError(f"teacher {cfg.train.teacher}: trained on other features ({t_cfg.features.preset}, "
                          f"frontend {t_cfg.features.frontend}); use the same feature config")
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher.eval()


def distill_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """Per-frame KL(teacher || student) at `temperature`, scaled by T^2 so its
    gradients keep their size across temperatures (Hinton et al.)."""
    c = student.shape[-1]
    log_p = torch.log_softmax(student.reshape(-1, c) / temperature, -1)
    q = torch.softmax(teacher.reshape(-1, c) / temperature, -1)
    return nn.functional.kl_div(log_p, q, reduction="batchmean") * temperature ** 2


def make_loss(cfg: RunConfig, categories: list[str]) -> nn.Module:
    """Per-frame cross entropy: silence frames weigh less, ignored frames not at all."""
    weight = torch.ones(len(categories))
    weight[categories.index("_silence_")] = cfg.train.silence_weight
    return nn.CrossEntropyLoss(weight=weight, ignore_index=-100, label_smoothing=cfg.train.label_smoothing)


def train_step(net: nn.Module, model: KWSModel, opt, loss_fn: nn.Module, x: np.ndarray, y: np.ndarray,
               cfg: RunConfig, teacher: KWSModel | None = None) -> float:
    """One optimizer step on a batch of sequences; returns the loss.

    `net` runs the batch (the model or its DistributedDataParallel wrapper);
    the gradient of `model`'s parameters is clipped.
    """
    xt = torch.from_numpy(x)
    logits, _ = net(xt)
    loss = loss_fn(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(y).reshape(-1))
    if teacher is not None:
        loss = (1 - cfg.train.distill_weight) * loss + cfg.train.distill_weight * \
            distill_loss(logits, teacher(xt)[0], cfg.train.distill_temperature)
    opt.zero_grad()
    loss.backward()
    if cfg.train.grad_clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), cfg.train.grad_clip)
    opt.step()
    return loss.item()


@torch.no_grad()
def update_ema(ema: KWSModel, model: KWSModel, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1.0 - decay)


def auto_threads() -> int:
    """Torch threads per process when train.threads is 0: the cores left
    after one core per process of this machine for its batch thread
    (measured on 2 cores: a 2 x 128 GRU step takes the same time on 1 thread
    as on 2, and one torch thread plus the batch thread trains 1.2x faster
    than 2 threads making the batches in turn with the steps). An
    OMP_NUM_THREADS the user set wins."""
    if os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    local = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1")))
    return max(1, cores // max(1, local) - 1)


@contextlib.contextmanager
def prefetch(make, n: int, depth: int = 2):
    """Context giving an iterator over n results of make(), each made on a
    background thread while the caller works on the previous ones (numpy and
    torch release the GIL). One thread calls make() in order, so the results
    equal n calls in a row; its exception is raised in the caller. Leaving
    the context, also early or by an exception, ends the thread."""
    q: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def work():
        try:
            for _ in range(n):
                if stop.is_set():
                    return
                q.put((True, make()))
        except BaseException as e:  # noqa: BLE001 - raised in the consumer
            q.put((False, e))

    def items():
        for _ in range(n):
            ok, item = q.get()
            if not ok:
                raise item
            yield item

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        yield items()
    finally:  # unblock the thread's put and let it end
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.05)


def compute_norm(model: KWSModel, builder: StreamBuilder, frontend: Frontend, cfg: RunConfig) -> None:
    rng = np.random.default_rng([cfg.train.seed, 0xC0FFEE])
    x = np.concatenate([builder.batch(rng, cfg.train.batch_size, frontend)[0] for _ in range(NORM_BATCHES)])
    x = x.reshape(-1, x.shape[-1]).astype(np.float64)
    model.mean.copy_(torch.from_numpy(x.mean(0)).float())
    model.std.copy_(torch.from_numpy(x.std(0) + 1e-3).float())


def train(data_dir: Path, out: Path, cfg: RunConfig, cache_dir: Path | None = None,
          progress: bool = True, log=print) -> dict:
    """Train (or resume) a run in `out`; returns the final metrics."""
    out = Path(out)
    dd = Distributed()
    torch.set_num_threads(cfg.train.threads if cfg.train.threads > 0 else auto_threads())
    progress = progress and dd.main
    ckpt_path = out / "checkpoint.pt"
    if (out / "metrics.json").exists():
        raise ConfigError(f"{out}: already holds a finished run; choose another --out")
    if ckpt_path.exists():
        # Resolved, so that a field added since the run began (at its default) does not count as a change.
        if RunConfig.load(out / "config.json").to_dict() != cfg.to_dict():
            raise ConfigError(f"{out}: holds an unfinished run with a different config; "
                              f"re-run with its config ({out / 'config.json'}) or another --out")
    prep = prepare_data(data_dir, cfg, cache_dir, progress)
    cats = prep.categories
    teacher = load_teacher(cfg, cats)  # before the run folder is written: a bad teacher leaves no trace
    val_clips, test_clips = prep.dataset.split("val"), prep.dataset.split("test")
    frontend = make_frontend(cfg.features)
    torch.manual_seed(cfg.train.seed)
    model = build_model(cfg, len(cats))
    compute_norm(model, prep.builder, frontend, cfg)
    # The weight average is what gets validated and kept (identical on every rank).
    ema = copy.deepcopy(model)
    opt = make_optimizer(model, cfg)
    sched = make_schedule(opt, cfg)
    history: list[dict] = []
    best = {"val_accuracy": -1.0, "epoch": -1}
    start_epoch = 0
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["schedule"])
        history, best, start_epoch = ck["history"], ck["best"], ck["epoch"] + 1
        log(f"resuming {out} at epoch {start_epoch + 1}/{cfg.train.epochs}")
    if dd.main:
        out.mkdir(parents=True, exist_ok=True)
        cfg.save(out / "config.json")
        atomic_write_text(out / "categories.txt", "\n".join(cats) + "\n")
        atomic_write_text(out / "data_report.json",
                          json.dumps({**prep.dataset.report(), "extra": [e.report() for e in prep.extras],
                                      **({"negatives": prep.negatives.report(cfg.features.sample_rate)}
                                         if prep.negatives else {})}, indent=2) + "\n")
        fps = cfg.features.frames_per_second
        log(f"model: {cfg.model.layers} x {cfg.model.hidden} {cfg.model.cell.upper()}, "
            f"{model.n_params():,} parameters, {model.macs_per_frame() * fps / 1e6:.2f} M MAC/s of audio")
        counts = prep.dataset.counts()
        log("clips: " + ", ".join(f"{s} {sum(counts.get(s, {}).values())}" for s in ("train", "val", "test"))
            + f"; skipped {len(prep.dataset.skipped)}")
        for e in prep.extras:
            log(f"extra training clips from {e.root}: {len(e.clips)} "
                f"({', '.join(f'{c} {n}' for c, n in e.counts()['train'].items() if n)}); skipped {len(e.skipped)}")
        if prep.negatives:
            r = prep.negatives.report(cfg.features.sample_rate)
            log(f"real speech without keywords from {len(r['folders'])} folder{'s' if len(r['folders']) != 1 else ''}: "
                + ", ".join(f"{s} {r['files'][s]} files ({r['hours'][s]:.2f} h)" for s in ("train", "val", "test"))
                + f"; skipped {len(r['skipped'])}")
            if not r["files"]["train"]:
                log("warning: the negatives' training split is empty: the training streams hold none of them")
    net = nn.parallel.DistributedDataParallel(model) if dd.world > 1 else model
    val_feats = clip_features(val_clips, cfg, cache_dir) if dd.main and val_clips else None
    loss_fn = make_loss(cfg, cats)
    # Training time accumulates across resumes (history holds the elapsed seconds so far).
    t_start = time.time() - (history[-1]["seconds"] if history else 0.0)
    for epoch in range(start_epoch, cfg.train.epochs):
        rng = np.random.default_rng([cfg.train.seed, epoch, dd.rank])
        torch.manual_seed(cfg.train.seed * 100_003 + epoch * 101 + dd.rank)
        net.train()
        losses = []
        with prefetch(functools.partial(prep.builder.batch, rng, cfg.train.batch_size, frontend),
                      cfg.train.steps_per_epoch) as batches:
            bar = progress_bar(batches, progress, total=cfg.train.steps_per_epoch,
                               desc=f"epoch {epoch + 1}/{cfg.train.epochs}", leave=False)
            for x, y in bar:
                losses.append(train_step(net, model, opt, loss_fn, x, y, cfg, teacher))
                update_ema(ema, model, cfg.train.ema_decay)
                sched.step()
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}")
        entry = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "lr": sched.get_last_lr()[0],
                 "seconds": time.time() - t_start}
        if dd.main:
            if val_feats is not None:
                entry["val_accuracy"] = evaluate_clips(ema, val_clips, val_feats, cfg, cats)["accuracy"]
            history.append(entry)
            if entry.get("val_accuracy", 0.0) >= best["val_accuracy"]:
                best = {"val_accuracy": entry.get("val_accuracy", 0.0), "epoch": epoch + 1}
                save_torch(out / "model.pt", {"state_dict": ema.state_dict(), "config": cfg.to_dict(),
                                              "categories": cats, "epoch": epoch + 1})
            save_torch(ckpt_path, {"model": model.state_dict(), "ema": ema.state_dict(), "optimizer": opt.state_dict(),
                                   "schedule": sched.state_dict(), "history": history, "best": best,
                                   "epoch": epoch})
            log(f"epoch {epoch + 1}/{cfg.train.epochs}  loss {entry['loss']:.4f}  "
                f"val acc {entry.get('val_accuracy', float('nan')):.4f}  ({entry['seconds']:.0f} s)")
        dd.barrier()
    metrics: dict = {}
    if dd.main:
        metrics = finish(out, cfg, cats, prep, test_clips, history, best, cache_dir, time.time() - t_start, log)
    dd.barrier()
    dd.close()
    return metrics


def calibration_negatives(neg: Negatives) -> list:
    """The negatives that calibrate the threshold: the training side (train
    and val splits), never the test split that `eval` scores."""
    return neg.split("train") + neg.split("val")


def finish(out: Path, cfg: RunConfig, cats, prep: Prepared, test_clips, history, best, cache_dir,
           seconds: float, log) -> dict:
    from kwsdk.onnx_export import export_onnx

    _, _, model = load_model(out)
    metrics = {"best_epoch": best["epoch"], "val_accuracy": best["val_accuracy"],
               "train_seconds": seconds, "history": history,
               "params": model.n_params(),
               "macs_per_second": model.macs_per_frame() * cfg.features.frames_per_second}
    det, val_clips = cfg.detector, prep.dataset.split("val")
    if val_clips:
        truth = np.array([cats.index(c.label) for c in val_clips])
        post = posteriors(model, clip_features(val_clips, cfg, cache_dir))
        det = dataclasses.replace(det, clip_floor=calibrate_clip_floor(post, cats, det, truth))
        metrics["clip_floor"] = det.clip_floor
        log(f"clip floor {det.clip_floor:g} (best clip accuracy on the validation split)")
    if test_clips:
        test = evaluate_clips(model, test_clips, clip_features(test_clips, cfg, cache_dir), cfg, cats, det)
        metrics["test_accuracy"] = test["accuracy"]
        metrics["test"] = test
        log(f"test accuracy {test['accuracy']:.4f} on {test['n']} clips (best epoch {best['epoch']})")
    if val_clips and cfg.train.calibrate_minutes > 0:  # writes detector.json
        neg = prep.negatives
        side = calibration_negatives(neg) if neg else []
        det, met = calibrate(out, model, dataclasses.replace(cfg, detector=det), cats, val_clips,
                             prep.dataset.noise, cfg.train.calibrate_minutes, cfg.train.target_fa_per_hour,
                             negatives=side, negative_sources=neg.sources if neg else [])
        metrics["detector_threshold"] = det.threshold
        on_neg = f" and on {sum(len(f.pcm) for f in side) / cfg.features.sample_rate / 3600:.2f} h of " \
                 "training-side real speech" if side else ""
        log(f"detector threshold {det.threshold:g} ({'' if met else 'the highest tried: not '}"
            f"<= {cfg.train.target_fa_per_hour:g} false accepts/h on a {cfg.train.calibrate_minutes:g} min "
            f"validation stream{on_neg})")
    elif val_clips:
        save_detector(out, det)
    export_onnx(model, out / "model.onnx")
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    (out / "checkpoint.pt").unlink(missing_ok=True)
    return metrics
