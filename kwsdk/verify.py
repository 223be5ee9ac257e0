"""`kwsdk verify`: the parity harness. Runs a run's exported library (built
for a target, driven by the stdio test driver kws_main.c) and checks it
three ways:

1. C vs the Python integer reference (kwsdk.pipeline.IntPipeline), every
   frame of every clip of the split: features, posteriors, model state, VAD
   output and detector events must be identical (`c_mismatches`: frames that
   differ; target 0).
2. C vs PyTorch float: top-1 clip decisions (`agreement`, target >= 0.99)
   and the accuracy of each (`accuracy_float`, `accuracy_device`).
3. Streaming: the C pipeline fed a long continuous stream in odd-sized
   chunks, against the reference on the same samples: identical event lists
   (`events_identical`).

Targets: "host" (native build), "host-sanitize" (the same under
AddressSanitizer + UBSan), and "cortex-m3", "cortex-m4", "cortex-m7": the
test firmware for the core, run on QEMU's mps2 board with semihosting
("cortex-m0plus": on its micro:bit, a Cortex-M0 with the same instruction set);
"rpi-aarch64" and "rpi-armhf": the driver cross-compiled for the Raspberry
Pi's 64- and 32-bit OS, run under user-mode QEMU. "litert" and "tflm" run
the exported .tflite instead, as referees (kwsdk.tflite.verify).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kwsdk.codegen.library import driver_source
from kwsdk import rpi
from kwsdk.config import ConfigError, DetectorConfig
from kwsdk.detector import clip_decisions
from kwsdk.export import device_detector, device_layout, library_sources, load_quantized
from kwsdk.frontend.integer import clip_pcm16, to_pcm16
from kwsdk.hostbuild import build_executable, run_passing, write_sources
from kwsdk.mcu import CPUS, DRIVER_MAX_CHUNK, build_firmware, get_cpu, qemu_command
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


def run_driver(target: Target, exe: Path, records: list[np.ndarray], chunk: int, dtype: np.dtype) -> np.ndarray:
    """Feed int16 records (each from a reset state) through the driver."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
        with open(src, "wb") as f:
            for r in records:
                f.write(np.uint32(len(r)).tobytes())
                f.write(np.ascontiguousarray(r, "<i2").tobytes())
        run_passing(target.command(exe, [str(src), str(dst), str(chunk)]), f"{target.name} driver",
                    target.timeout_s)
        return np.fromfile(dst, dtype)


def frame_mismatches(c: np.ndarray, ref: FrameTrace) -> np.ndarray:
    """Boolean per frame: does the C record differ from the reference?"""
    n = len(ref.features)
    if len(c) != n:
        return np.ones(max(n, len(c)), bool)
    fired = np.zeros(n, np.int32)
    keyword = np.full(n, -1, np.int32)
    score = np.zeros(n, np.int32)
    sample = np.zeros(n, np.uint64)
    for e in ref.events:
        fired[e.frame], keyword[e.frame], score[e.frame], sample[e.frame] = 1, e.keyword, e.score_q15, e.sample
    bad = (c["features"] != ref.features).any(1) | (c["posteriors"] != ref.posteriors).any(1)
    bad |= (c["state"] != ref.state).any(1) | (c["vad"] != ref.vad) | (c["fired"] != fired)
    return bad | (c["keyword"] != keyword) | (c["score"] != score) | (c["sample"] != sample)


def record_mismatches(c: np.ndarray, pipe: IntPipeline, records: list[np.ndarray]) -> list[np.ndarray]:
    """Per record (each run from a reset pipeline), the frames where the
    driver's output differs from the reference; a short output counts the
    missing frames as mismatches."""
    out, pos = [], 0
    for r in records:
        pipe.reset()
        ref = pipe.run(r)
        out.append(frame_mismatches(c[pos : pos + len(ref.features)], ref))
        pos += len(ref.features)
    if pos != len(c):
        out.append(np.ones(abs(len(c) - pos), bool))
    return out


@dataclass
class CRun:
    """The driver's records for a split's clips (each from a reset state) and
    for one continuous stream."""

    pcms: list[np.ndarray]  # the clips as fed
    clips: np.ndarray  # their records, clip after clip
    frames: int  # records per clip
    stream: np.ndarray  # the stream's PCM
    stream_records: np.ndarray


def run_c(tgt: Target, run_dir: Path, q, cfg, cats, clips, noise, det: DetectorConfig, options: PipelineOptions,
          chunk: int, stream_minutes: float, seed: int, log, wide: bool = False) -> CRun:
    """Build the run's library with the test driver for `tgt` and feed it the
    clips (`chunk` samples per call) and the evaluation stream (STREAM_CHUNK)."""
    from kwsdk.evaluate import stream_builder
    from kwsdk.streams import stream_chunks
    from kwsdk.train import clip_length

    max_chunk = get_cpu(tgt.cpu).max_chunk if tgt.cpu else DRIVER_MAX_CHUNK
    if not 1 <= chunk <= max_chunk:
        raise ConfigError(f"--chunk must be 1-{max_chunk} samples on {tgt.name}, not {chunk}")
    files, _ = library_sources(run_dir, options, det, tgt.cpu, wide)
    files["kws_main.c"] = driver_source(q.cell)
    n_state = q.hidden * len(q.layers) * (2 if q.cell == "lstm" else 1)  # h of every layer, then c
    dtype = trace_dtype(q.n_features, q.n_classes, n_state)
    length = clip_length(cfg)
    pcms = [clip_pcm16(c.audio, length) for c in clips]
    stream = to_pcm16(np.concatenate([a for a, _ in stream_chunks(stream_builder(cfg, cats, clips, noise),
                                                                   stream_minutes * 60.0, seed)]))
    with tempfile.TemporaryDirectory() as tmp:
        exe = tgt.build(write_sources(files, Path(tmp) / "src"), Path(tmp) / "kws_main")
        log(f"[{tgt.name}] {len(clips)} clips and a {len(stream) / cfg.features.sample_rate / 60:.1f} min stream "
            "through the C pipeline")
        c_clips = run_driver(tgt, exe, pcms, chunk, dtype)
        c_stream = run_driver(tgt, exe, [stream], STREAM_CHUNK, dtype)
    frames = length // cfg.features.hop_size
    if len(c_clips) != frames * len(pcms):
        raise RuntimeError(f"{tgt.name}: the C produced {len(c_clips)} frames for {len(pcms)} clips, "
                           f"expected {frames * len(pcms)}")
    return CRun(pcms, c_clips, frames, stream, c_stream)


def verify(run_dir: Path, data_dir: Path, target: str = "host", split: str = "test", stream_minutes: float = 10.0,
           chunk: int = 333, seed: int = 0, cache_dir: Path | None = None, progress: bool = True,
           options: PipelineOptions | None = None, det: DetectorConfig | None = None, log=print,
           wide: bool = False) -> dict:
    """`wide`: DSP cores' int8 weights stored as int16 (kwsdk.codegen.model.weight_layout)."""
    from kwsdk.evaluate import load_run_and_split
    from kwsdk.train import clip_features, posteriors

    if target in TFLITE_TARGETS:
        from kwsdk.tflite.verify import verify_tflite

        if wide:
            raise ConfigError("--wide-weights is for kwsdk's C targets, not the TFLite runtimes")
        return verify_tflite(run_dir, data_dir, target, split, stream_minutes, chunk, seed, cache_dir, progress,
                             det, log)
    tgt = get_target(target)
    options = options or PipelineOptions()
    run_dir = Path(run_dir)
    _, q = load_quantized(run_dir)
    cfg, cats, model, ds, clips = load_run_and_split(run_dir, data_dir, split, cache_dir, progress)
    det = det or device_detector(run_dir, cfg)
    c = run_c(tgt, run_dir, q, cfg, cats, clips, ds.noise, det, options, chunk, stream_minutes, seed, log, wide)
    c_clips, c_stream, stream, frames = c.clips, c.stream_records, c.stream, c.frames
    pipe = IntPipeline(cfg.features, cfg.vad, q, det, options)
    per_clip = record_mismatches(c_clips, pipe, c.pcms)
    bad_frames = sum(int(b.sum()) for b in per_clip)
    bad_clips = [str(c.path) for c, b in zip(clips, per_clip) if b.any()]
    pipe.reset()
    ref_stream = pipe.run(stream)
    stream_bad = frame_mismatches(c_stream, ref_stream)
    c_events = [(int(t), int(r["keyword"]), int(r["score"]), int(r["sample"]))
                for t, r in enumerate(c_stream) if r["fired"]]
    ref_events = [(e.frame, e.keyword, e.score_q15, e.sample) for e in ref_stream.events]

    true = np.array([cats.index(c.label) for c in clips])
    p_float = posteriors(model, clip_features(clips, cfg, cache_dir))
    p_dev = c_clips["posteriors"].reshape(len(clips), frames, -1) / 32768.0
    pred_float = clip_decisions(p_float, cats, det)
    pred_dev = clip_decisions(p_dev, cats, det)
    return {
        "target": tgt.name, "split": split, "n_clips": len(clips), "n_frames": len(c_clips) + len(c_stream),
        "c_mismatches": bad_frames + int(stream_bad.sum()), "c_mismatch_clips": bad_clips[:20],
        "agreement": float((pred_float == pred_dev).mean()),
        "accuracy_float": float((pred_float == true).mean()), "accuracy_device": float((pred_dev == true).mean()),
        "events_identical": c_events == ref_events, "n_events": len(c_events),
        "stream_seconds": len(stream) / cfg.features.sample_rate, "chunk": chunk, "stream_chunk": STREAM_CHUNK,
        "clip_floor": det.clip_floor, "options": {"vad_reset": options.vad_reset, "vad_gate": options.vad_gate},
        "weight_layout": device_layout(q, tgt.cpu, wide),
    }
