"""Generate the whole device library: frontend + VAD + quantized model +
detector + the kws_process pipeline, plus the build files of an export
folder (Makefile, CMakeLists.txt)."""

from __future__ import annotations

from dataclasses import asdict

from kwsdk.codegen import c_array, inputs_hash, render
from kwsdk.codegen.frontend import generate_frontend
from kwsdk.codegen.model import generate_model, model_hash
from kwsdk.config import DetectorConfig, FeatureConfig, VadConfig
from kwsdk.detector import IntDetector, threshold_sums
from kwsdk.mcu import DRIVER_MAX_CHUNK, Cpu
from kwsdk.rpi import Arch
from kwsdk.pipeline import PipelineOptions
from kwsdk.qmodel.model import QuantModel

PIPELINE_SOURCES = ["kws.h", "kws.c", "kws_detector.c"]


def generate_library(fcfg: FeatureConfig, vcfg: VadConfig, q: QuantModel, dcfg: DetectorConfig,
                     options: PipelineOptions, dsp_layout: bool = True, wide: bool = False) -> dict[str, str]:
    """File name -> text of every source of the library (dsp_layout, wide:
    see kwsdk.codegen.model.weight_layout)."""
    files = {**generate_frontend(fcfg, vcfg), **generate_model(q, dsp_layout, wide)}
    det = IntDetector(q.categories, dcfg, fcfg.hop_size, fcfg.sample_rate)
    source = (f"FeatureConfig {inputs_hash(asdict(fcfg))}, QuantModel {model_hash(q)}, "
              f"DetectorConfig {inputs_hash(asdict(dcfg))}, {options}")
    ctx = dict(cell=q.cell, categories=q.categories, smooth_frames=det.k, refractory_frames=det.refractory,
               vad_reset=int(options.vad_reset), vad_gate=int(options.vad_gate),
               thresholds=c_array("int32_t", "kws_default_threshold", threshold_sums(q.categories, dcfg), 8))
    for name in PIPELINE_SOURCES:
        files[name] = render(name + ".j2", source, **ctx)
    return files


def driver_source(cell: str) -> str:
    """The pipeline's stdio test driver (kws_main.c)."""
    return render("kws_main.c.j2", "kws_main.c.j2", cell=cell, max_chunk=DRIVER_MAX_CHUNK)


def build_files(sources: list[str], cpu: Cpu | None = None, arch: Arch | None = None,
                native: bool = False) -> dict[str, str]:
    """Makefile and CMakeLists.txt for an export folder holding `sources`:
    for the host (cc); a Cortex-M core (arm-none-eabi-gcc with the core's
    flags, -Os, static library, plus a CMake toolchain file); a Raspberry Pi
    architecture (its cross compiler), or the Pi itself (`native`: cc with
    -mcpu=native, for building on the Pi)."""
    c_files = sorted(s for s in sources if s.endswith(".c"))
    if cpu:
        ctx = dict(platform=cpu.name, cc="arm-none-eabi-gcc", ar="arm-none-eabi-ar", arch_flags=" ".join(cpu.flags),
                   opt="-Os", static_only=True, cpu=cpu.name)
    elif native:
        ctx = dict(platform="the Raspberry Pi it runs on", cc="cc", ar="ar", arch_flags="-mcpu=native", opt="-O2",
                   static_only=False, cpu="")
    elif arch:
        prefix = arch.cc.removesuffix("gcc")
        ctx = dict(platform=f"Raspberry Pi ({arch.name}, cross-compiled)", cc=arch.cc, ar=prefix + "ar",
                   arch_flags=" ".join(arch.flags), opt="-O2", static_only=False, cpu="")
    else:
        ctx = dict(platform="this host", cc="cc", ar="ar", arch_flags="", opt="-O2", static_only=False, cpu="")
    ctx["c_files"] = c_files
    files = {"Makefile": render("Makefile.j2", "Makefile.j2", **ctx),
             "CMakeLists.txt": render("CMakeLists.txt.j2", "CMakeLists.txt.j2", **ctx)}
    if cpu:
        files["toolchain-arm-none-eabi.cmake"] = render("toolchain-arm-none-eabi.cmake.j2",
                                                        "toolchain-arm-none-eabi.cmake.j2", **ctx)
    return files
