"""`kwsdk export --target tflite`: a quantized run as .tflite files (16x8 and
float), the generated frontend C that feeds them, a README and
kws_meta.json.

Device-side: no torch (reads quant/model_q.npz and quant/model_float.npz,
which `kwsdk quantize` writes).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from kwsdk.codegen import render
from kwsdk.codegen.frontend import generate_frontend
from kwsdk.config import ConfigError, DetectorConfig, RunConfig
from kwsdk.fileio import atomic_write_bytes, atomic_write_text
from kwsdk.codegen.hostbuild import EXPORT_META, check_export_out, write_sources
from kwsdk.qmodel.model import QuantModel
from kwsdk.tflite.model import FloatModel, float_tflite, quantized_tflite

QUANT_FILE, FLOAT_FILE = "kws_16x8.tflite", "kws_float.tflite"


def model_meta(cfg, det: DetectorConfig) -> dict:
    """What a runner needs besides the graph: the frontend, VAD and detector
    configs (stored in each .tflite's kwsdk metadata and in kws_meta.json)."""
    f = cfg.features
    return {"sample_rate": f.sample_rate, "hop_size": f.hop_size, "features": asdict(f), "vad": asdict(cfg.vad),
            "detector": asdict(det)}


def tflite_models(run_dir: Path, cfg: RunConfig, q: QuantModel, det: DetectorConfig) -> dict[str, bytes]:
    """File name -> flatbuffer of both variants of RUN's model (its config and
    quantized model as load_quantized gives them)."""
    run_dir = Path(run_dir)
    meta = model_meta(cfg, det)
    fpath = run_dir / "quant" / "model_float.npz"
    if not fpath.exists():
        raise ConfigError(f"{run_dir}: no quant/model_float.npz (quantized by an older kwsdk); "
                          f"re-run kwsdk quantize --run {run_dir} --data DIR")
    try:
        desc = f"kwsdk streaming step of {run_dir.name}"
        return {QUANT_FILE: quantized_tflite(q, desc + " (16x8)", meta),
                FLOAT_FILE: float_tflite(FloatModel.load(fpath), q.feature_frac, desc + " (float)", meta)}
    except ValueError as e:
        raise ConfigError(f"{run_dir}: {e}") from None


def state_inputs(q) -> list[dict]:
    """The state inputs after `features` (position counted from 1), described for the README."""
    cell = q.cell.upper()
    rows = [(f"h{i}", f"layer {i}'s {cell} output h (int16 q15 / float32)") for i in range(len(q.layers))]
    if q.cell == "lstm":
        rows += [(f"c{i}", f"layer {i}'s LSTM cell state c (int16 with scale 2^-{l.c_frac} / float32)")
                 for i, l in enumerate(q.layers)]
    return [{"position": i + 2, "name": n, "what": w} for i, (n, w) in enumerate(rows)]


def export_tflite(run_dir: Path, out: Path, cfg: RunConfig, q: QuantModel, det: DetectorConfig) -> dict:
    from kwsdk.tflite.runtime import TfliteStep

    run_dir, out = Path(run_dir), Path(out)
    check_export_out(out)
    models = tflite_models(run_dir, cfg, q, det)
    for blob in models.values():  # every file must load in the runtime before it is written
        TfliteStep(blob, "litert")
    f = cfg.features
    readme = render("README_tflite.md.j2", f"run {run_dir.name}", quant_file=QUANT_FILE, float_file=FLOAT_FILE,
                    quant_bytes=f"{len(models[QUANT_FILE]):,}", float_bytes=f"{len(models[FLOAT_FILE]):,}",
                    categories=q.categories, n_classes=q.n_classes, n_features=q.n_features, hidden=q.hidden,
                    feature_frac=q.feature_frac, feature_divisor=1 << q.feature_frac,
                    states=state_inputs(q),
                    sample_rate=f.sample_rate, hop_size=f.hop_size, window_size=f.window_size,
                    smooth_frames=det.smooth_frames, threshold=det.threshold, refractory_s=det.refractory_s)
    frontend = {f"frontend/{n}": text for n, text in generate_frontend(f, cfg.vad).items()}
    sizes = {"tflite_bytes_16x8": len(models[QUANT_FILE]), "tflite_bytes_float": len(models[FLOAT_FILE]),
             "kwsdk_weight_bytes": q.weight_bytes()}
    meta = {"target": "tflite", "categories": q.categories, **model_meta(cfg, det),
            "n_features": q.n_features, "feature_frac_bits": q.feature_frac,
            "model": {"cell": q.cell, "layers": len(q.layers), "hidden": q.hidden, "weight_bits": q.weight_bits},
            "models": {"16x8": QUANT_FILE, "float": FLOAT_FILE}, "sizes": sizes,
            "files": sorted([*models, "README.md", *frontend])}
    out.mkdir(parents=True, exist_ok=True)
    for name, blob in models.items():
        atomic_write_bytes(out / name, blob)
    write_sources({"README.md": readme, **frontend}, out)
    atomic_write_text(out / EXPORT_META, json.dumps(meta, indent=2) + "\n")
    return {"out": str(out), "target": "tflite", **sizes, "files": len(meta["files"])}
