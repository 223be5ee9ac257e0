"""Training throughput of a kwsdk model on synthetic streams.

Builds the training StreamBuilder with kwsdk.train.prepare_data, exactly as
`kwsdk train` does, and runs --steps of kwsdk train's own optimizer step
(kwsdk.train.train_step), after 2 warm-up steps, two ways, each in a
fresh process (a torch thread pool once started changes the other way's
time). As `kwsdk train` runs them: the next batches made on a background
thread (kwsdk.train.prefetch, timed from an empty queue) and kwsdk train's
torch threads (auto_threads); this gives sequences/s, utterances/s and
seconds of audio per second. And with the batches made in turn with the
steps on torch's default threads, which splits the time between making
batches (stream synthesis, features, augmentation) and
forward/backward/update. It prints the speed-up of the first way.

    .venv/bin/python benchmarks/bench_train.py [--data DIR] [--config FILE] [--steps N] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np
import torch

from _common import add_data_arg, print_table
from kwsdk.config import ConfigError, RunConfig
from kwsdk.data import DataError
from kwsdk.codegen.cfrontend import make_frontend
from kwsdk.fileio import default_cache_dir
from kwsdk.models import build_model
from kwsdk.train import auto_threads, make_loss, make_optimizer, prefetch, prepare_data, train_step

WARMUP = 2
WAYS = ("train", "serial")


def measure(args, p: argparse.ArgumentParser) -> dict:
    """One way (args.way) of running the steps, in this process."""
    try:
        cfg = RunConfig.load(args.config) if args.config else RunConfig()
        # Decoded audio is cached where `kwsdk train` caches it, so reruns skip decoding.
        prep = prepare_data(args.data, cfg, default_cache_dir(), progress=False)
    except (ConfigError, DataError) as e:
        p.error(str(e))
    threads = cfg.train.threads if args.threads is None else args.threads
    if threads > 0:
        torch.set_num_threads(threads)
    elif args.way == "train":
        torch.set_num_threads(auto_threads())

    t = cfg.train
    frontend = make_frontend(cfg.features)
    torch.manual_seed(t.seed)
    # Normalisation statistics and the LR schedule do not change a step's cost: both left out.
    model = build_model(cfg, len(prep.categories))
    model.train()
    opt = make_optimizer(model, cfg)
    loss_fn = make_loss(cfg, prep.categories)

    # Count the utterances (keyword and unknown words) in every sequence the
    # builder makes, without changing the batches.
    placed_counts: list[int] = []
    make_sequence = prep.builder.sequence

    def counting_sequence(rng, n):
        audio, placed = make_sequence(rng, n)
        placed_counts.append(len(placed))
        return audio, placed

    prep.builder.sequence = counting_sequence
    rng = np.random.default_rng([t.seed, 0])

    def make():
        return prep.builder.batch(rng, t.batch_size, frontend)

    def step(x, y):
        train_step(model, model, opt, loss_fn, x, y, cfg)

    for _ in range(WARMUP):
        step(*make())
    placed_counts.clear()
    batch_s = step_s = 0.0
    start = time.perf_counter()
    if args.way == "train":
        with prefetch(make, args.steps) as batches:
            for batch in batches:
                step(*batch)
    else:
        for _ in range(args.steps):
            t0 = time.perf_counter()
            batch = make()
            t1 = time.perf_counter()
            step(*batch)
            batch_s += t1 - t0
            step_s += time.perf_counter() - t1
    total = time.perf_counter() - start
    seqs = args.steps * t.batch_size
    return {
        "way": args.way, "data": str(args.data), "steps": args.steps, "batch_size": t.batch_size,
        "sequence_seconds": cfg.stream.seconds, "torch_threads": torch.get_num_threads(),
        "model": f"{cfg.model.layers} x {cfg.model.hidden} {cfg.model.cell.upper()}",
        "params": model.n_params(),
        "sequences_per_s": seqs / total,
        "utterances_per_sequence": float(np.mean(placed_counts)),
        "utterances_per_s": sum(placed_counts) / total,
        "audio_seconds_per_s": seqs * cfg.stream.seconds / total,
        "total_seconds": total,
        # Only made in turn with the steps can the time be split.
        "batch_seconds": batch_s if args.way == "serial" else None,
        "step_seconds": step_s if args.way == "serial" else None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] + " " + __doc__.split("\n\n")[1])
    add_data_arg(p)
    p.add_argument("--config", help="JSON file with any subset of the run config (default: RunConfig())")
    p.add_argument("--steps", type=int, default=20, help="timed optimizer steps (default 20)")
    p.add_argument("--threads", type=int, help="torch threads (default: the config's train.threads; 0 means "
                                               "kwsdk train's auto_threads with the batch thread and torch's "
                                               "default without)")
    p.add_argument("--way", choices=WAYS, help="measure only this way, in this process (default: both, "
                                               "each in its own process)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = p.parse_args()
    if args.steps < 1:
        p.error("--steps must be at least 1")
    if args.way:
        res = measure(args, p)
        if args.json:
            print(json.dumps(res))
            return
        runs = {args.way: res}
    else:
        argv = [a for a in sys.argv[1:] if a != "--json"]
        runs = {}
        for way in WAYS:
            out = subprocess.run([sys.executable, __file__, *argv, "--way", way, "--json"],
                                 capture_output=True, text=True)
            if out.returncode:
                sys.exit(out.stderr.strip() or f"{way}: exit status {out.returncode}")
            runs[way] = json.loads(out.stdout)
        speedup = runs["train"]["sequences_per_s"] / runs["serial"]["sequences_per_s"]
        if args.json:
            print(json.dumps({**runs, "speedup": speedup}))
            return
    first = next(iter(runs.values()))
    print(f"data: {args.data}; model {first['model']} ({first['params']:,} parameters); "
          f"{args.steps} steps of {first['batch_size']} x {first['sequence_seconds']:g} s after {WARMUP} warm-up")
    rows = []
    for way, r in runs.items():
        name = "as kwsdk train (batch thread)" if way == "train" else "batches in turn with the steps"
        rows.append([f"{name}, {r['torch_threads']} torch threads: sequences/s", f"{r['sequences_per_s']:.2f}"])
        rows.append(["  utterance clips/s", f"{r['utterances_per_s']:.1f} ({r['utterances_per_sequence']:.2f} "
                                            "per sequence)"])
        rows.append(["  audio s/s", f"{r['audio_seconds_per_s']:.1f}"])
        if way == "serial":
            rows.append(["  batch creation", f"{r['batch_seconds']:.2f} s "
                                             f"({100 * r['batch_seconds'] / r['total_seconds']:.0f}%)"])
            rows.append(["  forward/backward", f"{r['step_seconds']:.2f} s "
                                               f"({100 * r['step_seconds'] / r['total_seconds']:.0f}%)"])
    if not args.way:
        rows.append(["speed-up of the batch thread (with its torch threads)", f"{speedup:.2f}x"])
    print_table(["figure", "value"], rows)


if __name__ == "__main__":
    main()
