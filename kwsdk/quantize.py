"""`kwsdk quantize`: post-training quantization of a run's model (training
side, torch) into a QuantModel (kwsdk.qmodel), and its accuracy report.

- Weights: int8 (default) or int16, one scale per output row
  (max |row| / 127 or 32767). Layer 0 absorbs the feature normalisation
  ((x - mean) / std) and the integer features' scale.
- Per row, an integer multiplier and shift take the exact 64-bit
  accumulator to Q12 pre-activations; biases are Q12.
- Activations and state: 16-bit. GRU h and LSTM h are q15 (they lie in
  [-1, 1]); the LSTM cell state's format comes from calibration: the
  largest |c| on training streams, with 25% headroom.
- The folded float weights go to quant/model_float.npz (the float TFLite
  variant is built from them).
- No float at run time; the accuracy of float and integer are reported on
  the test split (the integer model fed by the integer frontend, as on a
  device).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from kwsdk.config import ConfigError
from kwsdk.data import clip_length
from kwsdk.detector import clip_decisions, detector_config
from kwsdk.fileio import atomic_write_text
from kwsdk.fixedpoint import quantize_multipliers, to_fixed
from kwsdk.frontend.integer import IntegerFrontend
from kwsdk.audio import clip_pcm16
from kwsdk.metrics import clip_metrics
from kwsdk.models import KWSModel
from kwsdk.qmodel.act import PRE_FRAC_BITS
from kwsdk.qmodel.model import IntModel, QuantModel
from kwsdk.qmodel.linear import QLinear
from kwsdk.qmodel.rnn import QLayer
from kwsdk.tflite.model import FloatLayer, FloatModel

CALIB_BATCHES = 4


def quantize_linear(w: np.ndarray, b: np.ndarray, in_frac: int, weight_bits: int) -> QLinear:
    """Per-row quantization of y = W x + b for inputs with in_frac fractional bits."""
    qmax = (1 << (weight_bits - 1)) - 1
    peak = np.abs(w).max(axis=1)
    scale = np.where(peak > 0, peak / qmax, 1.0)
    wq = np.clip(np.round(w / scale[:, None]), -qmax, qmax).astype(np.int64)
    acc_bits = (weight_bits - 1) + 15 + math.ceil(math.log2(max(2, w.shape[1])))
    mult, shift = quantize_multipliers(scale * 2.0 ** (PRE_FRAC_BITS - in_frac), min(31, 62 - acc_bits))
    return QLinear(wq, mult, shift, to_fixed(b, PRE_FRAC_BITS, 48))


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().double().cpu().numpy()


@torch.no_grad()
def max_cell_state(model: KWSModel, features: np.ndarray) -> list[float]:
    """Largest |c| per LSTM layer over (B, T, F) float features, stepped frame by frame."""
    x = (torch.from_numpy(features).float() - model.mean) / model.std
    peaks = np.zeros(model.cfg.layers)
    state = None
    for t in range(x.shape[1]):
        _, state = model.rnn(x[:, t : t + 1], state)
        peaks = np.maximum(peaks, state[1].abs().amax(dim=(1, 2)).numpy())
    return peaks.tolist()


def float_weights(model: KWSModel, categories: list[str]) -> FloatModel:
    """The model's float weights with (x - mean) / std folded into layer 0."""
    mean, std = _np(model.mean), _np(model.std)
    layers = []
    for i in range(model.cfg.layers):
        w_ih, w_hh, b_ih, b_hh = (_np(getattr(model.rnn, f"{k}_l{i}"))
                                  for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        if i == 0:
            b_ih = b_ih - w_ih @ (mean / std)
            w_ih = w_ih / std[None, :]
        layers.append(FloatLayer(w_ih, w_hh, b_ih, b_hh))
    return FloatModel(model.cfg.cell, layers, _np(model.head.weight), _np(model.head.bias), list(categories))


def quantize_model(model: KWSModel, categories: list[str], feature_frac: int, weight_bits: int = 8,
                   calib_features: np.ndarray | None = None) -> QuantModel:
    if weight_bits not in (8, 16):
        raise ConfigError(f"weight bits must be 8 or 16, not {weight_bits}")
    cfg = model.cfg
    c_peaks = [1.0] * cfg.layers
    if cfg.cell == "lstm":
        if calib_features is None:
            raise ConfigError("an LSTM needs calibration features for its cell state format")
        c_peaks = max_cell_state(model, calib_features)
    fm = float_weights(model, categories)
    layers = []
    for i, fl in enumerate(fm.layers):
        in_frac = feature_frac if i == 0 else 15
        c_frac = max(4, min(15, 15 - math.ceil(math.log2(max(c_peaks[i] * 1.25, 1e-6)))))
        layers.append(QLayer(cfg.cell, cfg.hidden, in_frac, quantize_linear(fl.w_ih, fl.b_ih, in_frac, weight_bits),
                             quantize_linear(fl.w_hh, fl.b_hh, 15, weight_bits), c_frac))
    head = quantize_linear(fm.head_w, fm.head_b, 15, weight_bits)
    return QuantModel(cfg.cell, cfg.hidden, model.n_features, feature_frac, weight_bits, layers, head,
                      list(categories))


def int_posteriors(q: QuantModel, features_int: np.ndarray, batch: int = 256) -> np.ndarray:
    """(N, T, F) int16 features -> (N, T, C) float posteriors of the integer model, zero state per clip."""
    out = []
    for i in range(0, len(features_int), batch):
        part = features_int[i : i + batch]
        out.append(IntModel(q, len(part)).run(part) / 32768.0)
    return np.concatenate(out) if out else np.zeros((0, features_int.shape[1], q.n_classes))


def quantize_run(run_dir: Path, data_dir: Path, weight_bits: int = 8, cache_dir: Path | None = None,
                 progress: bool = True, log=print) -> dict:
    """Quantize RUN's model, write RUN/quant/, report float vs integer accuracy on the test split."""
    from kwsdk.evaluate import load_run_and_split
    from kwsdk.evaluate import clip_features, posteriors
    from kwsdk.train import prepare_data

    run_dir = Path(run_dir)
    cfg, cats, model, ds, clips = load_run_and_split(run_dir, data_dir, "test", cache_dir, progress)
    ife = IntegerFrontend(cfg.features)
    calib = None
    if cfg.model.cell == "lstm":
        prep = prepare_data(data_dir, cfg, cache_dir, progress)
        rng = np.random.default_rng([cfg.train.seed, 0xCA1])
        calib = np.concatenate([prep.builder.batch(rng, cfg.train.batch_size, ife)[0]
                                for _ in range(CALIB_BATCHES)])
    q = quantize_model(model, cats, ife.frac_bits, weight_bits, calib)
    out = run_dir / "quant"
    out.mkdir(exist_ok=True)
    q.save(out / "model_q.npz")
    float_weights(model, cats).save(out / "model_float.npz")  # for the float TFLite variant

    true = np.array([cats.index(c.label) for c in clips])
    p_float = posteriors(model, clip_features(clips, cfg, cache_dir))  # PyTorch on the run's own features
    length = clip_length(clips, cfg.features.sample_rate)
    feats_int = np.stack([ife.analyze(clip_pcm16(c.audio, length)).features for c in clips])
    p_int = int_posteriors(q, feats_int)
    det = detector_config(run_dir, cfg)
    pred_float = clip_decisions(p_float, cats, det)
    pred_int = clip_decisions(p_int, cats, det)
    m_float, m_int = clip_metrics(true, pred_float, cats), clip_metrics(true, pred_int, cats)
    report = {
        "run": str(run_dir), "weight_bits": weight_bits, "n": len(clips),
        "accuracy_float": m_float["accuracy"], "accuracy_int": m_int["accuracy"],
        "agreement": float((pred_float == pred_int).mean()),
        "max_posterior_diff": float(np.abs(p_float - p_int).max()),
        "weight_bytes": q.weight_bytes(), "c_frac": [l.c_frac for l in q.layers] if q.cell == "lstm" else None,
        "model": str(out / "model_q.npz"),
    }
    atomic_write_text(out / "report.json", json.dumps(report, indent=2) + "\n")
    log(f"quantized ({weight_bits}-bit weights): accuracy float {report['accuracy_float']:.4f}, "
        f"integer {report['accuracy_int']:.4f}, agreement {report['agreement']:.4f}")
    return report


