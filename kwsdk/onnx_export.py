"""Single-file ONNX of one streaming step (training side).

Inputs: `features` (1, F) raw frontend features and the recurrent state,
`state` (L, 1, H) for a GRU or `h`, `c` for an LSTM. Outputs: `scores`
(1, C) softmax posteriors and the next state (`state_out`, or `h_out`,
`c_out`). The feature normalisation is inside the graph.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch

from kwsdk.fileio import atomic_write_bytes
from kwsdk.models import KWSModel, StepModel


def io_names(model: KWSModel) -> tuple[list[str], list[str]]:
    if model.cfg.cell == "gru":
        return ["features", "state"], ["scores", "state_out"]
    return ["features", "h", "c"], ["scores", "h_out", "c_out"]


def example_inputs(model: KWSModel, rng: np.random.Generator | None = None) -> tuple[torch.Tensor, ...]:
    rng = rng or np.random.default_rng(0)
    feats = torch.from_numpy(rng.normal(size=(1, model.n_features)).astype(np.float32))
    shape = (model.cfg.layers, 1, model.cfg.hidden)
    n_state = 1 if model.cfg.cell == "gru" else 2
    states = [torch.from_numpy(rng.uniform(-0.5, 0.5, size=shape).astype(np.float32)) for _ in range(n_state)]
    return (feats, *states)


def export_onnx(model: KWSModel, path: Path) -> None:
    step = StepModel(model).eval()
    inputs, outputs = io_names(model)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation chatter
        torch.onnx.export(step, example_inputs(model), buf, input_names=inputs, output_names=outputs,
                          opset_version=17, dynamo=False)
    atomic_write_bytes(Path(path), buf.getvalue())
