"""`kwsdk daemon`: continuous keyword detection with an exported library.

Device side: numpy and the standard library only (no torch, no training
code). The export folder's libkws.so runs frontend, VAD, model and detector
(`kws_process`); this module feeds it audio from a source and writes one
JSON line per event to stdout: {"keyword", "index", "score", "time"} with
time in seconds of audio since the stream started.

Sources: "wav:PATH" (as fast as the CPU allows, or paced with --realtime;
the daemon exits at its end), "stdin" (raw 16-bit little-endian mono PCM at
the model's rate), "cmd:COMMAND" (a recorder's raw PCM on its stdout, e.g.
'arecord -f S16_LE -r 16000 -c 1 -t raw'; run without a shell).
SIGTERM and SIGINT stop cleanly.
"""

from __future__ import annotations

import ctypes
import json
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from kwsdk.audio import read_wav
from kwsdk.config import ConfigError
from kwsdk.frontend.integer import to_pcm16

CHUNK = 1600  # samples per kws_process call: 100 ms at 16 kHz
MAX_EVENTS = 16


class _Event(ctypes.Structure):
    _fields_ = [("keyword", ctypes.c_int32), ("score_q15", ctypes.c_int32), ("sample", ctypes.c_uint64)]


class KwsLibrary:
    """An export folder's libkws.so and kws_meta.json, with its own kws_t."""

    def __init__(self, export_dir: Path):
        export_dir = Path(export_dir)
        meta_path, lib_path = export_dir / "kws_meta.json", export_dir / "libkws.so"
        if not meta_path.exists():
            raise ConfigError(f"{export_dir}: no kws_meta.json (make it with kwsdk export)")
        if not lib_path.exists():
            raise ConfigError(f"{export_dir}: no libkws.so (run make in that folder)")
        self.meta = json.loads(meta_path.read_text())
        try:
            lib = ctypes.CDLL(str(lib_path.resolve()))
        except OSError as e:
            raise ConfigError(f"{lib_path}: cannot load ({e}); was it built for this machine?") from None
        lib.kws_state_size.restype = ctypes.c_size_t
        lib.kws_process.restype = ctypes.c_size_t
        lib.kws_process.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                    ctypes.c_size_t]
        lib.kws_set_threshold.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int32]
        self.lib = lib
        self.state = ctypes.create_string_buffer(lib.kws_state_size())
        self.events = (_Event * MAX_EVENTS)()
        self.categories = list(self.meta["categories"])
        self.sample_rate = int(self.meta["sample_rate"])
        lib.kws_init(self.state)

    def set_threshold(self, keyword: str, threshold: float) -> None:
        if keyword not in self.categories or keyword.startswith("_"):
            raise ConfigError(f"no keyword {keyword!r} in this model ({', '.join(self.categories)})")
        self.lib.kws_set_threshold(self.state, self.categories.index(keyword), int(round(threshold * 32768)))

    def process(self, pcm: np.ndarray) -> list[dict]:
        pcm = np.ascontiguousarray(pcm, np.int16)
        n = self.lib.kws_process(self.state, pcm.ctypes.data, len(pcm), self.events, MAX_EVENTS)
        return [{"keyword": self.categories[e.keyword], "index": int(e.keyword), "score": e.score_q15 / 32768,
                 "time": e.sample / self.sample_rate} for e in self.events[:n]]


def _pcm_bytes(stream, chunk: int) -> Iterator[np.ndarray]:
    pending = b""
    while True:
        data = stream.read(2 * chunk)
        if not data:
            return
        pending += data
        usable = len(pending) - len(pending) % 2
        yield np.frombuffer(pending[:usable], "<i2")
        pending = pending[usable:]


def open_source(spec: str, sample_rate: int, chunk: int = CHUNK) -> Iterator[np.ndarray]:
    """int16 chunks from a source spec (see the module docstring)."""
    kind, _, arg = spec.partition(":")
    if kind == "wav":
        pcm = to_pcm16(read_wav(arg, sample_rate))
        return (pcm[i : i + chunk] for i in range(0, len(pcm), chunk))
    if kind == "stdin":
        return _pcm_bytes(sys.stdin.buffer, chunk)
    if kind == "cmd":
        argv = shlex.split(arg)
        if not argv:
            raise ConfigError("--source cmd: needs a command, e.g. cmd:'arecord -f S16_LE -r 16000 -c 1 -t raw'")
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
        return _pcm_bytes(proc.stdout, chunk)
    raise ConfigError(f"unknown source {spec!r}: use wav:PATH, stdin or cmd:COMMAND")


def run(export_dir: Path, source: str, realtime: bool = False, thresholds: dict[str, float] | None = None,
        emit: Callable[[dict], None] = lambda e: print(json.dumps(e), flush=True)) -> int:
    """Detect until the source ends or SIGTERM/SIGINT; returns the number of events."""
    kws = KwsLibrary(export_dir)
    for word, thr in (thresholds or {}).items():
        kws.set_threshold(word, thr)
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(True))
    count, start, fed = 0, time.monotonic(), 0
    for chunk in open_source(source, kws.sample_rate):
        if stop:
            break
        for event in kws.process(chunk):
            emit(event)
            count += 1
        fed += len(chunk)
        if realtime:  # pace to the audio clock
            time.sleep(max(0.0, fed / kws.sample_rate - (time.monotonic() - start)))
    return count
