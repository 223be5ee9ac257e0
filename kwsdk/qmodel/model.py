"""The quantized model and its integer reference run (`IntModel`).

features int16 (feature_frac bits) -> 1-3 GRU/LSTM layers (QLayer) ->
head (QLinear, Q12 logits) -> softmax_q15 -> q15 posteriors per frame.
Saved as one .npz (integers and a JSON header) that the device-side
export loader reads without torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kwsdk.fileio import atomic_write_npz
from kwsdk.qmodel.linear import QLinear
from kwsdk.qmodel.rnn import QLayer
from kwsdk.qmodel.softmax import softmax_q15

FORMAT_VERSION = 1


@dataclass
class QuantModel:
    cell: str
    hidden: int
    n_features: int
    feature_frac: int
    weight_bits: int  # 8 or 16
    layers: list[QLayer]
    head: QLinear
    categories: list[str]

    @property
    def n_classes(self) -> int:
        return len(self.categories)

    def macs_per_frame(self) -> int:
        """Multiply-accumulates of one step: every weight is used once."""
        return int(sum(l.ih.w.size + l.hh.w.size for l in self.layers) + self.head.w.size)

    def weight_bytes(self) -> int:
        return self.macs_per_frame() * (self.weight_bits // 8)

    def save(self, path: Path) -> None:
        arrays, meta = {}, dict(version=FORMAT_VERSION, cell=self.cell, hidden=self.hidden,
                                n_features=self.n_features, feature_frac=self.feature_frac,
                                weight_bits=self.weight_bits, categories=self.categories,
                                layers=[dict(in_frac=l.in_frac, c_frac=l.c_frac) for l in self.layers])
        for i, l in enumerate(self.layers):
            for part in ("ih", "hh"):
                _put(arrays, f"l{i}_{part}", getattr(l, part))
        _put(arrays, "head", self.head)
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        atomic_write_npz(path, arrays)

    @classmethod
    def load(cls, path: Path) -> "QuantModel":
        with np.load(Path(path)) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            if meta.get("version") != FORMAT_VERSION:
                raise ValueError(f"{path}: quantized model format {meta.get('version')}, expected {FORMAT_VERSION}")
            layers = [QLayer(meta["cell"], meta["hidden"], lm["in_frac"], _get(z, f"l{i}_ih"), _get(z, f"l{i}_hh"),
                             lm["c_frac"]) for i, lm in enumerate(meta["layers"])]
            return cls(meta["cell"], meta["hidden"], meta["n_features"], meta["feature_frac"],
                       meta["weight_bits"], layers, _get(z, "head"), list(meta["categories"]))


def _put(arrays: dict, name: str, q: QLinear) -> None:
    for f in ("w", "mult", "shift", "bias"):
        arrays[f"{name}_{f}"] = np.asarray(getattr(q, f), np.int64)


def _get(z, name: str) -> QLinear:
    return QLinear(*(z[f"{name}_{f}"] for f in ("w", "mult", "shift", "bias")))


class IntModel:
    """Frame-by-frame integer run of a QuantModel over a batch of streams."""

    def __init__(self, q: QuantModel, batch: int = 1):
        self.q = q
        self.reset(batch)

    def reset(self, batch: int | None = None) -> None:
        self.batch = batch or self.batch
        self.state = [l.initial_state(self.batch) for l in self.q.layers]

    def step(self, features: np.ndarray) -> np.ndarray:
        """features int (B, F) -> q15 posteriors (B, C); the state advances."""
        x = np.asarray(features, np.int64)
        for i, layer in enumerate(self.q.layers):
            self.state[i] = layer.step(x, self.state[i])
            x = self.state[i][0]
        return softmax_q15(self.q.head(x))

    def run(self, features: np.ndarray) -> np.ndarray:
        """(B, T, F) -> (B, T, C) q15 posteriors, continuing from the current state."""
        features = np.asarray(features)
        return np.stack([self.step(features[:, t]) for t in range(features.shape[1])], axis=1) \
            if features.shape[1] else np.zeros((features.shape[0], 0, self.q.n_classes), np.int64)
