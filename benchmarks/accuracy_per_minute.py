"""Validation accuracy reached per minute of training.

Trains a run (RunConfig() defaults, or --config) on --data into --out with
kwsdk.train.train, or reads an existing finished run given with --run, and
prints validation accuracy against minutes of training from the run's
metrics.json history, then the final test accuracy and the total training
time.

    .venv/bin/python benchmarks/accuracy_per_minute.py [--data DIR] [--out RUN] [--json]
    .venv/bin/python benchmarks/accuracy_per_minute.py --run RUN [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from _common import REPO, default_data, print_table


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)  # stdout is for the table or the JSON object


def train_run(args) -> Path:
    from kwsdk.config import RunConfig
    from kwsdk.fileio import default_cache_dir
    from kwsdk.train import train

    cfg = RunConfig.load(args.config) if args.config else RunConfig()
    train(args.data, args.out, cfg, default_cache_dir(), progress=not args.quiet, log=log)
    return args.out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] + " " + __doc__.split("\n\n")[1])
    p.add_argument("--run", type=Path, help="finished run folder to read instead of training")
    p.add_argument("--data", type=Path, default=default_data(),
                   help="Speech Commands-layout folder (default: ../shared/data/speech_commands_dev, "
                        "else the sample shipped in kwsdk/sample_data)")
    p.add_argument("--out", type=Path, default=REPO / "runs" / "bench_accuracy",
                   help="run folder to train into (default: runs/bench_accuracy in the repo); "
                        "an unfinished run there is resumed")
    p.add_argument("--config", help="JSON file with any subset of the run config (default: RunConfig())")
    p.add_argument("--quiet", action="store_true", help="no progress bars while training")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = p.parse_args()

    if args.run is None:
        from kwsdk.config import ConfigError
        from kwsdk.data import DataError

        try:
            args.run = train_run(args)
        except (ConfigError, DataError) as e:
            p.error(str(e))
    path = args.run / "metrics.json"
    if not path.exists():
        p.error(f"{args.run}: no metrics.json (not a finished kwsdk run)")
    m = json.loads(path.read_text())
    history = m["history"]
    # A resumed run restarts its clock, so its history's seconds only cover the last process.
    if any(b["seconds"] < a["seconds"] for a, b in zip(history, history[1:])):
        log("warning: the run was resumed; times count from the last (re)start only")

    rows, best = [], 0.0
    for h in history:
        best = max(best, h.get("val_accuracy", 0.0))
        rows.append({"epoch": h["epoch"], "minutes": h["seconds"] / 60, "loss": h["loss"],
                     "val_accuracy": h.get("val_accuracy"), "best_val_accuracy": best})
    res = {"run": str(args.run), "history": rows, "best_epoch": m["best_epoch"],
           "val_accuracy": m["val_accuracy"], "test_accuracy": m.get("test_accuracy"),
           "train_minutes": m["train_seconds"] / 60}
    if args.json:
        print(json.dumps(res))
        return

    def pct(v):
        return "-" if v is None else f"{100 * v:.1f}%"

    print(f"run: {args.run}")
    print_table(["epoch", "minutes", "loss", "val acc", "best val acc"],
                [[r["epoch"], f"{r['minutes']:.2f}", f"{r['loss']:.4f}", pct(r["val_accuracy"]),
                  pct(r["best_val_accuracy"])] for r in rows])
    print(f"test accuracy {pct(res['test_accuracy'])} (best epoch {res['best_epoch']}, "
          f"val {pct(res['val_accuracy'])}); total training time {res['train_minutes']:.2f} min")


if __name__ == "__main__":
    main()
