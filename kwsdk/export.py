"""`kwsdk export`: a run's quantized model, frontend, VAD and detector as one
self-contained C99 library folder with its build files and metadata.

Device-side: needs no torch (the run's config, detector.json and
quant/model_q.npz are read as files).
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from kwsdk import mcu, rpi
from kwsdk.codegen.library import build_files, generate_library
from kwsdk.codegen.model import weight_layout
from kwsdk.config import ConfigError, DetectorConfig, RunConfig
from kwsdk.detector import detector_config
from kwsdk.fileio import atomic_write, atomic_write_text
from kwsdk.codegen.hostbuild import EXPORT_META, build_shared, check_export_out, load, nm_sizes, write_sources
from kwsdk.pipeline import PipelineOptions
from kwsdk.qmodel.model import QuantModel

def load_quantized(run_dir: Path) -> tuple[RunConfig, QuantModel]:
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise ConfigError(f"{run_dir}: no config.json (is this a kwsdk run folder?)")
    path = run_dir / "quant" / "model_q.npz"
    if not path.exists():
        raise ConfigError(f"{run_dir}: not quantized yet; run kwsdk quantize --run {run_dir} --data DIR first")
    return RunConfig.load(run_dir / "config.json"), QuantModel.load(path)


def device_detector(run_dir: Path, cfg: RunConfig, threshold: float | None = None,
                    thresholds: dict[str, float] | None = None) -> DetectorConfig:
    """The run's calibrated detector, with export-time threshold overrides."""
    det = detector_config(run_dir, cfg)
    if threshold is not None:
        det = dataclasses.replace(det, threshold=threshold, thresholds={})
    if thresholds:
        unknown = sorted(set(thresholds) - set(cfg.data.keywords))
        if unknown:
            raise ConfigError(f"thresholds for words that are not keywords of {run_dir}: {', '.join(unknown)}")
        det = dataclasses.replace(det, thresholds={**det.thresholds, **thresholds})
    return det


def device_layout(q: QuantModel, cpu: str | None, wide: bool = False) -> str:
    """The weight layout of the library for `cpu` (None: any core, the DSP
    cores' layout, which every core's portable C also runs)."""
    return weight_layout(q, mcu.get_cpu(cpu).dsp if cpu else True, wide)


def library_sources(run_dir: Path, options: PipelineOptions, det: DetectorConfig | None = None,
                    cpu: str | None = None, wide: bool = False) -> tuple[dict[str, str], dict]:
    """(file name -> text, metadata) of the run's device library, laid out
    for `cpu` (None: any core; weights in the DSP-friendly order); `wide`:
    DSP cores' int8 weights stored as int16 (see weight_layout)."""
    cfg, q = load_quantized(run_dir)
    det = det or device_detector(run_dir, cfg)
    files = generate_library(cfg.features, cfg.vad, q, det, options, mcu.get_cpu(cpu).dsp if cpu else True, wide)
    meta = {
        "categories": q.categories, "sample_rate": cfg.features.sample_rate, "hop_size": cfg.features.hop_size,
        "n_features": q.n_features, "feature_frac_bits": q.feature_frac, "features": asdict(cfg.features),
        "vad": asdict(cfg.vad), "detector": asdict(det), "options": asdict(options),
        "model": {"cell": q.cell, "layers": len(q.layers), "hidden": q.hidden, "weight_bits": q.weight_bits},
        "weight_layout": device_layout(q, cpu, wide),
    }
    return files, meta


def footprint(files: dict[str, str]) -> dict:
    """Sizes of the library built for the host (see library_footprint)."""
    with tempfile.TemporaryDirectory() as tmp:
        return library_footprint(build_shared(write_sources(files, Path(tmp) / "src"), Path(tmp) / "libkws.so"))


def library_footprint(lib: Path) -> dict:
    """Sizes of a host-built libkws.so: weights, other constant tables, code,
    and sizeof(kws_t) (state and scratch; on a 32-bit MCU pointer-free
    structs keep the same size)."""
    binding = load(lib)
    binding.kws_state_size.restype = ctypes.c_size_t
    state = int(binding.kws_state_size())
    syms = {k: v for k, v in nm_sizes(lib).items() if k.startswith("kws_")}
    weights = sum(n for k, (t, n) in syms.items()
                  if t in "rR" and k.endswith(("_w", "_mult", "_shift", "_bias", "_mult_offset")))
    rodata = sum(n for t, n in syms.values() if t in "rR")
    code = sum(n for t, n in syms.values() if t in "tT")
    return {"weight_bytes": weights, "table_bytes": rodata - weights, "code_bytes_host": code, "state_bytes": state}


def export(run_dir: Path, out: Path, target: str = "host", options: PipelineOptions | None = None,
           det: DetectorConfig | None = None, cpu: str | None = None, arch: str | None = None,
           native: bool = False, wide: bool = False) -> dict:
    """target "host" (cc, static and shared library); "mcu" (arm-none-eabi-gcc
    for `cpu`, static library, CMake toolchain file; sizes for -Os and -O2);
    "rpi" (cross-compiled for `arch` into the folder's libkws.so, or with
    `native` a Makefile for building on the Pi itself); "tflite" (.tflite
    files, see kwsdk.tflite.export). `wide`: see library_sources."""
    if target not in ("host", "mcu", "rpi", "tflite"):
        raise ConfigError(f"unknown export target {target!r} (host, mcu, rpi, tflite)")
    if target == "tflite":
        if cpu or arch or native or wide or (options and options != PipelineOptions()):
            raise ConfigError("--target tflite takes no --cpu, --arch, --native, --wide-weights or VAD options")
        from kwsdk.tflite.export import export_tflite

        cfg, q = load_quantized(run_dir)
        return export_tflite(run_dir, out, cfg, q, det or device_detector(run_dir, cfg))
    if (target == "mcu") != (cpu is not None):
        raise ConfigError("--cpu goes with --target mcu (and is required there)")
    if target == "rpi" and (arch is None) == (not native):
        raise ConfigError("--target rpi needs --arch aarch64|armhf (cross-compiled here) or --native")
    options = options or PipelineOptions()
    out = Path(out)
    check_export_out(out)
    files, meta = library_sources(run_dir, options, det, cpu, wide)
    core = mcu.get_cpu(cpu) if cpu else None
    pi = rpi.get_arch(arch) if arch else None
    files.update(build_files(list(files), core, pi, native))
    with tempfile.TemporaryDirectory() as tmp:
        src = write_sources(files, Path(tmp) / "src")
        host_lib = build_shared(src, Path(tmp) / "libkws.so")
        sizes = library_footprint(host_lib)
        if core:
            sizes["mcu"] = [mcu.footprint(src, cpu, Path(tmp), opt) for opt in ("-Os", "-O2")]
            meta["cpu"] = cpu
        if pi:
            meta["arch"] = arch
        meta.update(target=target, sizes=sizes, files=sorted(files))
        write_sources(files, out)
        # The shared library the daemon loads: the one just measured, or cross-compiled for a Pi.
        if target == "host":
            atomic_write(out / "libkws.so", lambda tmp_lib: shutil.copy2(host_lib, tmp_lib))  # keeps its mode
        elif pi:
            build_shared([out / n for n in files if n.endswith(".c")], out / "libkws.so", cc=pi.cc,
                         arch_flags=pi.flags)
    atomic_write_text(out / EXPORT_META, json.dumps(meta, indent=2) + "\n")
    return {"out": str(out), "target": target, **sizes, "files": len(files)}
