"""The daemon's model backends: an export folder's libkws.so through ctypes
(KwsLibrary: frontend, VAD, model and detector in C), or a .tflite in
LiteRT between kwsdk's Python frontend and detector
(kwsdk.tflite.runtime.TfliteDetector). Device side: no torch."""

from __future__ import annotations

import ctypes
import json
from pathlib import Path
from typing import Protocol

import numpy as np

from kwsdk.config import ConfigError
from kwsdk.detector import keyword_index, refractory_frames

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
        lib.kws_set_refractory.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.kws_posteriors.restype = ctypes.POINTER(ctypes.c_int16)
        lib.kws_posteriors.argtypes = [ctypes.c_void_p]
        lib.kws_frames.restype = ctypes.c_uint64
        lib.kws_frames.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.state = ctypes.create_string_buffer(lib.kws_state_size())
        self.events = (_Event * MAX_EVENTS)()
        self.categories = list(self.meta["categories"])
        self.sample_rate, self.hop = int(self.meta["sample_rate"]), int(self.meta["hop_size"])
        lib.kws_init(self.state)

    def reset(self) -> None:
        """Forget the stream (after a gap); thresholds set at run time stay."""
        self.lib.kws_reset(self.state)

    def set_threshold(self, keyword: str, threshold: float) -> None:
        self.lib.kws_set_threshold(self.state, keyword_index(self.categories, keyword), int(round(threshold * 32768)))

    def set_refractory(self, seconds: float) -> None:
        self.lib.kws_set_refractory(self.state, refractory_frames(seconds, self.sample_rate, self.hop))

    def frame_posteriors(self, pcm: np.ndarray) -> np.ndarray:
        """Every frame's posteriors (q15 int16, frames x categories) of a
        chunk, fed one hop at a time (events are dropped; the state carries on)."""
        pcm = np.ascontiguousarray(pcm, np.int16)
        out, n = [], len(self.categories)
        for i in range(0, len(pcm), self.hop):
            before = self.lib.kws_frames(self.state)
            part = pcm[i : i + self.hop]
            self.lib.kws_process(self.state, part.ctypes.data, len(part), self.events, MAX_EVENTS)
            if self.lib.kws_frames(self.state) != before:
                out.append(np.ctypeslib.as_array(self.lib.kws_posteriors(self.state), (n,)).copy())
        return np.array(out, np.int16).reshape(-1, n)

    def process(self, pcm: np.ndarray, offset: int = 0) -> list[dict]:
        """Events of a chunk; `offset` samples (fed before the last reset) keep
        the times on the stream's clock."""
        pcm = np.ascontiguousarray(pcm, np.int16)
        n = self.lib.kws_process(self.state, pcm.ctypes.data, len(pcm), self.events, MAX_EVENTS)
        return [{"keyword": self.categories[e.keyword], "index": int(e.keyword), "score": e.score_q15 / 32768,
                 "time": (e.sample + offset) / self.sample_rate} for e in self.events[:n]]


class Backend(Protocol):
    """What the daemon needs of a model backend: KwsLibrary (an export
    folder's C library) and kwsdk.tflite.runtime.TfliteDetector (a .tflite
    in LiteRT between kwsdk's Python frontend and detector) provide it."""

    categories: list[str]
    sample_rate: int

    def reset(self) -> None: ...

    def set_threshold(self, keyword: str, threshold: float) -> None: ...

    def set_refractory(self, seconds: float) -> None: ...

    def process(self, pcm: np.ndarray, offset: int = 0) -> list[dict]: ...


def load_model(path: Path) -> Backend:
    """An export folder (KwsLibrary) or a kwsdk .tflite file (TfliteDetector)."""
    path = Path(path)
    if path.suffix == ".tflite":
        from kwsdk.tflite.runtime import TfliteDetector

        return TfliteDetector(path)
    return KwsLibrary(path)
