"""Helpers shared by test modules: running the kwsdk command, the tiny
training config, and quantized models for the model-kernel tests (freshly
initialised GRU and LSTM spotters with their normalisation set from real
integer features of the shipped sample, quantized with int8 and int16
weights: bit-exactness does not depend on accuracy)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from kwsdk.config import ModelConfig, feature_preset
from kwsdk.demo import sample_data_dir
from kwsdk.frontend.integer import IntegerFrontend
from kwsdk.models import KWSModel
from kwsdk.quantize import quantize_model

SAMPLE = sample_data_dir()
TINY = {
    "data": {"val_percent": 20.0, "test_percent": 20.0, "max_per_class": 8},
    "model": {"hidden": 16, "layers": 2},
    "train": {"epochs": 2, "steps_per_epoch": 4, "batch_size": 4, "threads": 1, "calibrate_minutes": 0.5},
    "stream": {"seconds": 3.0},
}
CATEGORIES = ["yes", "no", "_unknown_", "_silence_"]
# A detector low enough that a tiny model fires: the event paths must be exercised.
LOW = {"smooth_frames": 4, "threshold": 0.07, "thresholds": {}, "refractory_s": 0.3}
VARIANTS = [(cell, layers, bits) for cell in ("gru", "lstm") for layers in (1, 2) for bits in (8, 16)]


def kwsdk(*args, env=None, check=True, **kw):
    p = subprocess.run([sys.executable, "-m", "kwsdk.cli", *map(str, args)], capture_output=True, text=True,
                       env={**os.environ, **(env or {})}, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"kwsdk {args} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return p


def verify_json(run: Path, *extra) -> dict:
    """`kwsdk verify --json` on the shipped sample with a 1 minute stream."""
    p = kwsdk("verify", "--run", run, "--data", SAMPLE, "--json", "--quiet", "--stream-minutes", "1",
              "--cache-dir", run.parent / "cache", *extra, check=False)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout)


def tiny_config(tmp_path, **train) -> Path:
    cfg = json.loads(json.dumps(TINY))
    cfg["train"].update(train)
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(cfg))
    return path


def sample_features(sample_clips, n_clips: int = 24) -> np.ndarray:
    """(n_clips, 50, 40) int16 integer features of real speech clips."""
    fe = IntegerFrontend(feature_preset("default"))
    words = [p for name, p in sample_clips if not name.startswith("_")][:: 3][:n_clips]
    return np.stack([fe.analyze(np.resize(p, 16000)).features for p in words])


def make_quant(cell: str, layers: int, bits: int, feats: np.ndarray, hidden: int = 32,
               categories: list[str] = CATEGORIES):
    torch.manual_seed(layers * 10 + bits)
    model = KWSModel(40, len(categories), ModelConfig(cell=cell, hidden=hidden, layers=layers)).eval()
    x = feats.reshape(-1, 40) / 1024.0
    model.mean.copy_(torch.from_numpy(x.mean(0)).float())
    model.std.copy_(torch.from_numpy(x.std(0) + 1e-3).float())
    with torch.no_grad():  # larger weights than the default init: gates leave their linear range
        for p in model.rnn.parameters():
            p.mul_(3.0)
    return model, quantize_model(model, categories, 10, bits, feats[:8] / 1024.0)


def linear_cases(layout: str, bits: int):
    """(label, QLinear, x) for a matrix kernel in `layout`: shapes with a
    padded last block of rows, every count of columns before the DSP cores'
    32-column passes, several 32-column passes with and without those (and
    for "col8" columns past the last group of 8), with shifts that take the
    fast requantization (33..63, j = 1 and 31 included) and the 64-bit one (a
    left shift (negative) drives outputs into 31-bit saturation), on random
    and full-scale inputs."""
    from kwsdk.qmodel.linear import QLinear

    rng = np.random.default_rng(bits)
    qmax = (1 << (bits - 1)) - 1
    shapes = [(24, 40), (13, 48), (5, 8), (6, 32), (7, 88), (4, 64), (5, 128)] + ([(11, 45), (9, 3)] if layout not in ("pairs", "wide") else [])
    for rows, cols in shapes:
        # (shift, bias range): fast for 33, 40 and 63 (bias -1: offset -2^30), 64-bit for the others
        for shift, lo, hi in ((20, -2**20, 2**20), (-8, -2**20, 2**20), (33, -2**20, 2**20), (40, -2**20, 2**20),
                              (63, -1, 0), (40, -2**25, 2**25)):
            lin = QLinear(rng.integers(-qmax, qmax + 1, (rows, cols)), rng.integers(1 << 14, 1 << 31, rows),
                          np.full(rows, shift), rng.integers(lo, hi, rows))
            for x in (rng.integers(-32768, 32768, cols), np.where(rng.random(cols) < 0.5, 32767, -32768)):
                yield f"{rows}x{cols} shift {shift}", lin, x
