"""The C harness of `kwsdk verify`: builds a run's exported library with
the stdio test driver for a target (host, sanitizers, Cortex-M firmware
under QEMU, Raspberry Pi builds under user-mode QEMU), feeds it clips and a
stream, and compares its per-frame records with the Python integer
reference (kwsdk.pipeline.IntPipeline)."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kwsdk.codegen.library import driver_source
from kwsdk import rpi
from kwsdk.config import ConfigError, DetectorConfig
from kwsdk.data import clip_length
from kwsdk.export import library_sources
from kwsdk.audio import clip_pcm16, to_pcm16
from kwsdk.codegen.hostbuild import build_executable, run_passing, write_sources
from kwsdk.mcu import CPUS, DRIVER_MAX_CHUNK, build_firmware, firmware_memory, get_cpu, qemu_command
from kwsdk.pipeline import FrameTrace, IntPipeline, PipelineOptions

STREAM_CHUNK = 777  # samples per call on the stream: not a multiple of any hop


@dataclass
class Target:
    """Where the driver runs: natively (host, optionally sanitized) or on an
    emulated Cortex-M core (QEMU mps2 or micro:bit board, semihosting)."""

    name: str
    sanitize: bool = False
    cpu: str | None = None  # a Cortex-M core: firmware on its QEMU board
    arch: str | None = None  # a Raspberry Pi architecture: cross build under user-mode QEMU
    timeout_s: float = 1800.0
    defines: tuple[str, ...] = ()  # e.g. ("KWS_NO_DSP",): the portable C on a DSP core

    def build(self, src: list[Path], out: Path) -> Path:
        if self.cpu:
            return build_firmware(src, out, self.cpu, defines=self.defines)
        if self.arch:
            a = rpi.get_arch(self.arch)
            return build_executable(src, out, cc=a.cc, arch_flags=a.flags)
        return build_executable(src, out, sanitize=self.sanitize)

    def command(self, exe: Path, args: list[str]) -> list[str]:
        if self.cpu:
            return qemu_command(self.cpu, exe, args)
        if self.arch:
            return rpi.qemu_command(self.arch, exe, args)
        return [str(exe), *args]


TARGETS = {t.name: t for t in [Target("host"), Target("host-sanitize", sanitize=True)]
           + [Target(name, cpu=name) for name, c in CPUS.items() if c.board]
           + [Target(f"rpi-{a}", arch=a) for a in rpi.ARCHES]}


TFLITE_TARGETS = ("litert", "tflm")


def get_target(name: str) -> Target:
    if name not in TARGETS:
        raise ConfigError(f"unknown verify target {name!r}; available: "
                          f"{', '.join(sorted([*TARGETS, *TFLITE_TARGETS]))}")
    return TARGETS[name]


def trace_dtype(n_features: int, n_classes: int, n_state: int) -> np.dtype:
    """One frame record of kws_main's output (packed, native byte order)."""
    names = ["features", "posteriors", "state", "vad", "fired", "keyword", "score", "sample"]
    formats = [(np.int16, n_features), (np.int16, n_classes), (np.int16, n_state)] + [np.int32] * 4 + [np.uint64]
    sizes = [2 * n_features, 2 * n_classes, 2 * n_state, 4, 4, 4, 4, 8]
    return np.dtype({"names": names, "formats": formats, "offsets": list(np.cumsum([0] + sizes[:-1])),
                     "itemsize": sum(sizes)})


STACK_LINE = re.compile(r"STACK peak=(\d+) reserve=(\d+) heap=(\d+)")


def run_driver(target: Target, exe: Path, records: list[np.ndarray], chunk: int,
               dtype: np.dtype) -> tuple[np.ndarray, dict | None]:
    """Feed int16 records (each from a reset state) through the driver: its
    output records, and on a Cortex-M board the firmware's memory as its
    startup code reports it at exit (peak stack, stack reserve, heap)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        with open(src, "wb") as f:
            for r in records:
                f.write(np.uint32(len(r)).tobytes())
                f.write(np.ascontiguousarray(r, "<i2").tobytes())
        proc = run_passing(target.command(exe, [str(src), str(dst), str(chunk)]), f"{target.name} driver",
                           target.timeout_s)
        m = STACK_LINE.search(proc.stdout + proc.stderr)
        memory = dict(zip(("stack_peak_bytes", "stack_reserve_bytes", "heap_bytes"), map(int, m.groups()))) if m \
            else None
        return np.fromfile(dst, dtype), memory


def reference_records(ref: FrameTrace, dtype: np.dtype) -> np.ndarray:
    """The reference's frames as the driver writes them (`dtype`: trace_dtype)."""
    r = np.zeros(len(ref.features), dtype)
    r["features"], r["posteriors"], r["state"], r["vad"] = ref.features, ref.posteriors, ref.state, ref.vad
    r["keyword"] = -1
    for e in ref.events:
        r["fired"][e.frame], r["keyword"][e.frame], r["score"][e.frame], r["sample"][e.frame] = \
            1, e.keyword, e.score_q15, e.sample
    return r


def compare(c: np.ndarray, ref: np.ndarray, record: int, source: str,
            max_values: int = 8) -> tuple[np.ndarray, dict | None]:
    """The driver's output for one record against the reference's records.
    Returns, per frame, whether the records differ (output of another length:
    every frame counts), and where they first differ (None if nowhere): the
    record (`source` names it), the frame, and per differing field its
    indices (up to `max_values`, with the count) and both values."""
    n = min(len(c), len(ref))
    differs = {name: (c[name][:n] != ref[name][:n]).any(axis=tuple(range(1, c[name].ndim)))
               for name in c.dtype.names}
    bad = np.logical_or.reduce(list(differs.values()))
    mismatches = bad if len(c) == len(ref) else np.ones(max(len(c), len(ref)), bool)
    if bad.any():
        t = int(np.argmax(bad))
        fields = {}
        for name, d in differs.items():
            if d[t]:
                a, b = np.atleast_1d(c[name][t]), np.atleast_1d(ref[name][t])
                idx = np.flatnonzero(a != b)
                fields[name] = {"count": len(idx), "index": idx[:max_values].tolist(),
                                "c": a[idx[:max_values]].tolist(), "reference": b[idx[:max_values]].tolist()}
        return mismatches, {"record": record, "source": source, "frame": t, "fields": fields}
    if len(c) != len(ref):
        return mismatches, {"record": record, "source": source, "frame": n, "fields": {},
                            "frames": {"c": len(c), "reference": len(ref)}}
    return mismatches, None


def describe_difference(d: dict) -> str:
    """One line for compare's first difference: 'record 3 (yes/a.wav), frame 7: state[124, ...] C [..] reference [..]'."""
    head = f"record {d['record']} ({d['source']}), frame {d['frame']}"
    if not d["fields"]:
        return f"{head}: the C wrote {d['frames']['c']} frames, the reference {d['frames']['reference']}"
    parts = []
    for name, f in d["fields"].items():
        if name in ("features", "posteriors", "state"):
            more = f" (+{f['count'] - len(f['index'])} more)" if f["count"] > len(f["index"]) else ""
            parts.append(f"{name}{f['index']} C {f['c']} reference {f['reference']}{more}")
        else:
            parts.append(f"{name} C {f['c'][0]} reference {f['reference'][0]}")
    return f"{head}: " + "; ".join(parts)


def record_mismatches(c: np.ndarray, pipe: IntPipeline, records: list[np.ndarray],
                      sources: list[str] | None = None) -> tuple[list[np.ndarray], dict | None]:
    """Per record (each run from a reset pipeline), the frames where the
    driver's output differs from the reference (`compare`), frames the
    driver wrote after the last record counting as one more; and the first
    difference (`sources` names the records)."""
    out, pos, first = [], 0, None
    for i, r in enumerate(records):
        pipe.reset()
        ref = reference_records(pipe.run(r), c.dtype)
        bad, diff = compare(c[pos : pos + len(ref)], ref, i, sources[i] if sources else f"record {i}")
        out.append(bad)
        first = first or diff
        pos += len(ref)
    if pos < len(c):
        bad, diff = compare(c[pos:], c[:0], len(records), "after the last record")
        out.append(bad)
        first = first or diff
    return out, first


@dataclass
class CRun:
    """The driver's records for a split's clips (each from a reset state) and
    for one continuous stream."""

    pcms: list[np.ndarray]  # the clips as fed
    clips: np.ndarray  # their records, clip after clip
    frames: int  # records per clip
    stream: np.ndarray  # the stream's PCM
    stream_records: np.ndarray
    memory: dict | None  # a Cortex-M firmware's RAM: the link's figures, and the peak stack and heap of both runs


def run_c(tgt: Target, run_dir: Path, q, cfg, cats, clips, noise, det: DetectorConfig, options: PipelineOptions,
          chunk: int, stream_minutes: float, seed: int, log, wide: bool = False) -> CRun:
    """Build the run's library with the test driver for `tgt` and feed it the
    clips (`chunk` samples per call) and the evaluation stream (STREAM_CHUNK)."""
    from kwsdk.evaluate import stream_builder
    from kwsdk.streams import stream_chunks

    max_chunk = get_cpu(tgt.cpu).max_chunk if tgt.cpu else DRIVER_MAX_CHUNK
    if not 1 <= chunk <= max_chunk:
        raise ConfigError(f"--chunk must be 1-{max_chunk} samples on {tgt.name}, not {chunk}")
    files, _ = library_sources(run_dir, options, det, tgt.cpu, wide)
    files["kws_main.c"] = driver_source(q.cell)
    n_state = q.hidden * len(q.layers) * (2 if q.cell == "lstm" else 1)  # h of every layer, then c
    dtype = trace_dtype(q.n_features, q.n_classes, n_state)
    length = clip_length(clips, cfg.features.sample_rate)
    pcms = [clip_pcm16(c.audio, length) for c in clips]
    stream = to_pcm16(np.concatenate([a for a, _ in stream_chunks(stream_builder(cfg, cats, clips, noise),
                                                                   stream_minutes * 60.0, seed)]))
    with tempfile.TemporaryDirectory() as tmp:
        exe = tgt.build(write_sources(files, Path(tmp) / "src"), Path(tmp) / "kws_main")
        log(f"[{tgt.name}] {len(clips)} clips and a {len(stream) / cfg.features.sample_rate / 60:.1f} min stream "
            "through the C pipeline")
        c_clips, mem_clips = run_driver(tgt, exe, pcms, chunk, dtype)
        c_stream, mem_stream = run_driver(tgt, exe, [stream], STREAM_CHUNK, dtype)
        link = firmware_memory(Path(f"{exe}.map")) if tgt.cpu else None
    frames = length // cfg.features.hop_size
    if len(c_clips) != frames * len(pcms):
        raise RuntimeError(f"{tgt.name}: the C produced {len(c_clips)} frames for {len(pcms)} clips, "
                           f"expected {frames * len(pcms)}")
    memory = None
    if link and mem_clips and mem_stream:
        memory = {k: max(mem_clips[k], mem_stream[k]) for k in mem_clips}
        memory.update(ram_bytes=link["ram"], static_bytes=link["static"], heap_reserve_bytes=link["heap_min"],
                      spare_bytes=link["ram"] - link["needed"])
    return CRun(pcms, c_clips, frames, stream, c_stream, memory)
