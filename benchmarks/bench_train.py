"""Training throughput of a kwsdk model on synthetic streams.

Builds the training StreamBuilder with kwsdk.train.prepare_data, exactly as
`kwsdk train` does, runs --steps optimizer steps (after 2 warm-up steps) of
the same loss and update as kwsdk.train.train, and reports sequences/s,
utterances/s, seconds of audio per second, and how the time splits between
making batches (stream synthesis, features, augmentation) and
forward/backward/update. Then it runs the same steps as `kwsdk train` runs
them, with the next batches made on a background thread
(kwsdk.train.prefetch) and kwsdk train's torch threads (auto_threads), and
prints the speed-up of kwsdk train's way over making the batches in turn
with the steps on torch's default threads. Both are timed over all steps,
warm-up included, from an empty queue.

    .venv/bin/python benchmarks/bench_train.py [--data DIR] [--config FILE] [--steps N] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from _common import default_data, print_table
from kwsdk.config import ConfigError, RunConfig
from kwsdk.data import DataError
from kwsdk.frontend import make_frontend
from kwsdk.fileio import default_cache_dir
from kwsdk.train import auto_threads, build_model, make_optimizer, prefetch, prepare_data

WARMUP = 2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] + " " + __doc__.split("\n\n")[1])
    p.add_argument("--data", type=Path, default=default_data(),
                   help="Speech Commands-layout folder (default: ../shared/data/speech_commands_dev, "
                        "else the sample shipped in kwsdk/sample_data)")
    p.add_argument("--config", help="JSON file with any subset of the run config (default: RunConfig())")
    p.add_argument("--steps", type=int, default=20, help="timed optimizer steps (default 20)")
    p.add_argument("--threads", type=int, help="torch threads (default: the config's train.threads; 0 means "
                                               "torch's default without the batch thread and kwsdk train's "
                                               "auto_threads with it)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = p.parse_args()
    if args.steps < 1:
        p.error("--steps must be at least 1")

    try:
        cfg = RunConfig.load(args.config) if args.config else RunConfig()
        # Decoded audio is cached where `kwsdk train` caches it, so reruns skip decoding.
        prep = prepare_data(args.data, cfg, default_cache_dir(), progress=False)
    except (ConfigError, DataError) as e:
        p.error(str(e))
    threads = cfg.train.threads if args.threads is None else args.threads
    if threads > 0:
        torch.set_num_threads(threads)

    t = cfg.train
    frontend = make_frontend(cfg.features)
    torch.manual_seed(t.seed)
    # Normalisation statistics and the LR schedule do not change a step's cost: both left out.
    model = build_model(cfg, len(prep.categories))
    model.train()
    opt = make_optimizer(model, cfg)
    weight = torch.ones(len(prep.categories))
    weight[prep.categories.index("_silence_")] = t.silence_weight
    loss_fn = nn.CrossEntropyLoss(weight=weight, ignore_index=-100, label_smoothing=t.label_smoothing)

    # Count the utterances (keyword and unknown words) in every sequence the
    # builder makes, without changing the batches.
    placed_counts: list[int] = []
    make_sequence = prep.builder.sequence

    def counting_sequence(rng, n):
        audio, placed = make_sequence(rng, n)
        placed_counts.append(len(placed))
        return audio, placed

    prep.builder.sequence = counting_sequence

    def step(x, y):
        logits, _ = model(torch.from_numpy(x))
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(y).reshape(-1))
        opt.zero_grad()
        loss.backward()
        if t.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), t.grad_clip)
        opt.step()
        loss.item()  # synchronise, as train() does when it logs the loss

    rng = np.random.default_rng([t.seed, 0])
    batch_s = step_s = 0.0
    start = time.perf_counter()
    for i in range(WARMUP + args.steps):
        if i == WARMUP:
            placed_counts.clear()
            batch_s = step_s = 0.0
        t0 = time.perf_counter()
        batch = prep.builder.batch(rng, t.batch_size, frontend)
        t1 = time.perf_counter()
        step(*batch)
        batch_s += t1 - t0
        step_s += time.perf_counter() - t1
    serial_all = time.perf_counter() - start
    total = batch_s + step_s
    serial_threads = torch.get_num_threads()
    utterances = list(placed_counts)

    # As kwsdk train runs: batches made on a thread, its torch threads.
    torch.set_num_threads(threads if threads > 0 else auto_threads())
    start = time.perf_counter()
    with prefetch(lambda: prep.builder.batch(rng, t.batch_size, frontend), WARMUP + args.steps) as batches:
        for batch in batches:
            step(*batch)
    prefetched = time.perf_counter() - start
    seqs = args.steps * t.batch_size
    all_seqs = (WARMUP + args.steps) * t.batch_size
    res = {
        "data": str(args.data), "steps": args.steps, "batch_size": t.batch_size,
        "sequence_seconds": cfg.stream.seconds, "torch_threads": torch.get_num_threads(),
        "model": f"{cfg.model.layers} x {cfg.model.hidden} {cfg.model.cell.upper()}",
        "params": model.n_params(),
        # As kwsdk train runs (batches prefetched):
        "sequences_per_s": all_seqs / prefetched,
        "utterances_per_sequence": float(np.mean(utterances)),
        "utterances_per_s": all_seqs * float(np.mean(utterances)) / prefetched,
        "audio_seconds_per_s": all_seqs * cfg.stream.seconds / prefetched,
        "total_seconds": prefetched,
        # Batches made in turn with the steps, which splits the time:
        "serial_torch_threads": serial_threads, "serial_sequences_per_s": seqs / total,
        "batch_seconds": batch_s, "step_seconds": step_s, "serial_total_seconds": total,
        "prefetch_speedup": serial_all / prefetched,
    }
    if args.json:
        print(json.dumps(res))
        return
    print(f"data: {args.data}; model {res['model']} ({res['params']:,} parameters); "
          f"{args.steps} steps of {t.batch_size} x {cfg.stream.seconds:g} s after {WARMUP} warm-up; "
          f"torch threads {res['torch_threads']} with the batch thread, {serial_threads} without")
    print_table(["figure", "value"], [
        ["sequences/s", f"{res['sequences_per_s']:.2f}"],
        ["utterance clips/s", f"{res['utterances_per_s']:.1f} "
                              f"({res['utterances_per_sequence']:.2f} per sequence)"],
        ["audio s/s", f"{res['audio_seconds_per_s']:.1f}"],
        ["without the batch thread: sequences/s", f"{res['serial_sequences_per_s']:.2f}"],
        ["without: batch creation", f"{batch_s:.2f} s ({100 * batch_s / total:.0f}%)"],
        ["without: forward/backward", f"{step_s:.2f} s ({100 * step_s / total:.0f}%)"],
        ["speed-up of kwsdk train's way (thread + its torch threads)", f"{res['prefetch_speedup']:.2f}x"],
    ])


if __name__ == "__main__":
    main()
