"""GRU/LSTM keyword spotters with per-frame outputs (training side, torch).

The model is: fixed per-feature normalisation -> 1-3 GRU or LSTM layers ->
linear head, evaluated one frame at a time on a stream with the recurrent
state carried. Only these layer types are used, because the generated C
covers exactly these.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from kwsdk.config import ConfigError, ModelConfig, RunConfig


class KWSModel(nn.Module):
    def __init__(self, n_features: int, n_classes: int, cfg: ModelConfig):
        super().__init__()
        if cfg.cell not in ("gru", "lstm"):
            raise ValueError(f"model.cell must be 'gru' or 'lstm', not {cfg.cell!r}")
        if not 1 <= cfg.layers <= 3:
            raise ValueError(f"model.layers must be 1-3, not {cfg.layers}")
        self.cfg = cfg
        self.n_features, self.n_classes = n_features, n_classes
        self.register_buffer("mean", torch.zeros(n_features))
        self.register_buffer("std", torch.ones(n_features))
        rnn = nn.GRU if cfg.cell == "gru" else nn.LSTM
        self.rnn = rnn(n_features, cfg.hidden, num_layers=cfg.layers, batch_first=True,
                       dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.head = nn.Linear(cfg.hidden, n_classes)

    def initial_state(self, batch: int = 1):
        h = torch.zeros(self.cfg.layers, batch, self.cfg.hidden)
        return h if self.cfg.cell == "gru" else (h, h.clone())

    def forward(self, x: torch.Tensor, state=None):
        """x (B, T, F) raw features -> logits (B, T, C), final state."""
        y, state = self.rnn((x - self.mean) / self.std, state)
        return self.head(y), state

    def macs_per_frame(self) -> int:
        gates = 3 if self.cfg.cell == "gru" else 4
        h, total, n_in = self.cfg.hidden, 0, self.n_features
        for _ in range(self.cfg.layers):
            total += gates * h * (n_in + h)
            n_in = h
        return total + h * self.n_classes

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


class StepModel(nn.Module):
    """One streaming step, the unit that ONNX and devices run.

    GRU: (features (1, F), state (L, 1, H)) -> (scores (1, C), state).
    LSTM: (features, h, c) -> (scores, h, c). Scores are softmax posteriors.
    """

    def __init__(self, model: KWSModel):
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor, *state: torch.Tensor):
        s = state[0] if len(state) == 1 else (state[0], state[1])
        logits, s = self.model(features[:, None, :], s)
        scores = torch.softmax(logits[:, 0], dim=-1)
        return (scores, s) if isinstance(s, torch.Tensor) else (scores, *s)


def build_model(cfg: RunConfig, n_classes: int) -> KWSModel:
    return KWSModel(cfg.features.n_features, n_classes, cfg.model)


def load_model(run_dir: Path) -> tuple[RunConfig, list[str], KWSModel]:
    """The best model of a finished (or in-progress) run folder."""
    run_dir = Path(run_dir)
    path = run_dir / "model.pt"
    if not path.exists():
        raise ConfigError(f"{run_dir}: no model.pt (is this a kwsdk run folder?)")
    blob = torch.load(path, map_location="cpu", weights_only=False)
    cfg = RunConfig.from_dict(blob["config"])
    model = build_model(cfg, len(blob["categories"]))
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return cfg, blob["categories"], model
