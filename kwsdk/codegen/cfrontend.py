"""The generated C frontend on the host: built with strict warnings into a
shared library and called through ctypes (stage by stage or streaming), or
built as the test driver executable (optionally with sanitizers) and run as
a subprocess. Outputs come back in the integer reference's types so tests
compare them with `assert_array_equal`."""

from __future__ import annotations

import ctypes
import hashlib
import tempfile
import warnings
from pathlib import Path

import numpy as np

from kwsdk.codegen import render
from kwsdk.codegen.frontend import generate_frontend
from kwsdk.config import ConfigError, FeatureConfig, VadConfig
from kwsdk.fileio import atomic_make_dir, default_cache_dir
from kwsdk.frontend.features import Frontend
from kwsdk.frontend.integer import IntegerFrontend, IntFrames
from kwsdk.codegen.hostbuild import BuildError, build_executable, build_shared, load, run_passing, write_sources

_P = np.ctypeslib.ndpointer


def _state_struct(cfg: FeatureConfig) -> type[ctypes.Structure]:
    class State(ctypes.Structure):
        _fields_ = [
            ("buf", ctypes.c_int16 * cfg.window_size),
            ("fill", ctypes.c_uint32),
            ("work", ctypes.c_int32 * cfg.nfft),
            ("spec", ctypes.c_uint64 * (cfg.nfft // 2 + 1)),
            ("mel", ctypes.c_uint64 * cfg.n_mels),
            ("mel_exp", ctypes.c_int32),
        ]

    return State


def _vad_struct() -> type[ctypes.Structure]:
    class Vad(ctypes.Structure):
        _fields_ = [("floor", ctypes.c_int64), ("state", ctypes.c_int32), ("since_on", ctypes.c_int32)]

    return Vad


def write_frontend_sources(cfg: FeatureConfig, out_dir: Path, driver: bool = False,
                           vad_cfg: VadConfig | None = None) -> list[Path]:
    files = generate_frontend(cfg, vad_cfg)
    if driver:
        files["kws_frontend_main.c"] = render("kws_frontend_main.c.j2", "kws_frontend_main.c.j2")
    return write_sources(files, out_dir)


class CFrontend:
    """ctypes binding of the generated frontend and VAD for `cfg`, built in `build_dir`."""

    LIB = "libkws_frontend.so"

    def __init__(self, cfg: FeatureConfig, build_dir: Path, vad_cfg: VadConfig | None = None,
                 build: bool = True):
        """Generate and build into build_dir (build=False: load the build
        already there, see host_frontend)."""
        self.cfg = cfg
        lib = Path(build_dir) / self.LIB
        if build:
            build_shared(write_frontend_sources(cfg, Path(build_dir) / "src", vad_cfg=vad_cfg), lib)
        self.lib = load(lib)
        L, c = self.lib, cfg
        bins = c.nfft // 2 + 1
        i16, i32, u64 = (_P(np.int16, flags="C"), _P(np.int32, flags="C"), _P(np.uint64, flags="C"))
        L.kws_fft_q31.argtypes, L.kws_fft_q31.restype = [i16, i32], None
        L.kws_spectrum_u64.argtypes, L.kws_spectrum_u64.restype = [i32, u64], ctypes.c_int32
        L.kws_mel_q15.argtypes, L.kws_mel_q15.restype = [u64, ctypes.c_int32, u64], None
        L.kws_log_s16.argtypes, L.kws_log_s16.restype = [u64, ctypes.c_int32, i16], None
        if c.n_mfcc:
            L.kws_dct_q15.argtypes, L.kws_dct_q15.restype = [i16, i16], None
        L.kws_frontend_frames.argtypes = [ctypes.c_void_p, i16, ctypes.c_size_t, i16]
        L.kws_frontend_frames.restype = None
        L.kws_frontend_state_size.restype = ctypes.c_size_t
        L.kws_frontend_feed.restype = ctypes.c_size_t
        L.kws_frontend_feed.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, i16,
                                        ctypes.POINTER(ctypes.c_int)]
        L.kws_vad_level.argtypes, L.kws_vad_level.restype = [u64, ctypes.c_int32], ctypes.c_int64
        L.kws_vad_process.argtypes, L.kws_vad_process.restype = [ctypes.c_void_p, u64, ctypes.c_int32], ctypes.c_int32
        self.vad_state = _vad_struct()()
        self.state = _state_struct(cfg)()
        if ctypes.sizeof(self.state) != L.kws_frontend_state_size():
            raise RuntimeError("kws_frontend_t layout differs from the ctypes mirror")
        self.n_bins = bins

    # Stage calls: one frame at a time, the same signatures as the references.
    def fft(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = np.zeros(self.cfg.nfft, np.int32)
        self.lib.kws_fft_q31(np.ascontiguousarray(frame, np.int16), z)
        return z[0::2].astype(np.int64), z[1::2].astype(np.int64)

    def spectrum(self, zr: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, int]:
        z = np.zeros(self.cfg.nfft, np.int32)
        z[0::2], z[1::2] = zr, zi
        s = np.zeros(self.n_bins, np.uint64)
        m = self.lib.kws_spectrum_u64(z, s)
        return s, int(m)

    def mel(self, s: np.ndarray, m: int) -> np.ndarray:
        out = np.zeros(self.cfg.n_mels, np.uint64)
        self.lib.kws_mel_q15(np.ascontiguousarray(s, np.uint64), int(m), out)
        return out

    def log(self, m: np.ndarray, e: int) -> np.ndarray:
        out = np.zeros(self.cfg.n_mels, np.int16)
        self.lib.kws_log_s16(np.ascontiguousarray(m, np.uint64), int(e), out)
        return out

    def dct(self, logmel: np.ndarray) -> np.ndarray:
        out = np.zeros(self.cfg.n_mfcc, np.int16)
        self.lib.kws_dct_q15(np.ascontiguousarray(logmel, np.int16), out)
        return out

    def vad_level(self, m: np.ndarray, e: int) -> int:
        return int(self.lib.kws_vad_level(np.ascontiguousarray(m, np.uint64), int(e)))

    def vad_run(self, mel: np.ndarray, mel_exp: np.ndarray) -> np.ndarray:
        """kws_vad_process over frames, from a reset state."""
        self.lib.kws_vad_reset(ctypes.byref(self.vad_state))
        return np.array([self.lib.kws_vad_process(ctypes.byref(self.vad_state),
                                                  np.ascontiguousarray(m, np.uint64), int(e))
                         for m, e in zip(mel, mel_exp)], np.int8)

    def frames(self, frames: np.ndarray) -> np.ndarray:
        """int16 frames (F, window_size) -> int16 features (F, n_features)."""
        frames = np.ascontiguousarray(frames, np.int16)
        out = np.zeros((len(frames), self.cfg.n_features), np.int16)
        if len(frames):
            self.lib.kws_frontend_frames(ctypes.byref(self.state), frames.reshape(-1), len(frames), out.reshape(-1))
        return out

    def run(self, pcm: np.ndarray, chunk: int | None = None) -> IntFrames:
        """Stream int16 PCM through kws_frontend_feed (and the VAD) in chunks
        of `chunk` samples (default: all at once), from freshly reset states."""
        self.lib.kws_frontend_reset(ctypes.byref(self.state))
        self.lib.kws_vad_reset(ctypes.byref(self.vad_state))
        pcm = np.ascontiguousarray(pcm, np.int16)
        chunk = chunk or max(1, len(pcm))
        feats, mels, exps, flags = [], [], [], []
        f = np.zeros(self.cfg.n_features, np.int16)
        ready = ctypes.c_int(0)
        base = pcm.ctypes.data
        for start in range(0, len(pcm), chunk):
            end = min(len(pcm), start + chunk)
            pos = start
            while pos < end:
                pos += self.lib.kws_frontend_feed(ctypes.byref(self.state), base + 2 * pos, end - pos, f,
                                                  ctypes.byref(ready))
                if ready.value:
                    feats.append(f.copy())
                    mels.append(np.frombuffer(self.state.mel, np.uint64).copy())
                    exps.append(self.state.mel_exp)
                    flags.append(self.lib.kws_vad_process(ctypes.byref(self.vad_state), mels[-1], exps[-1]))
        c = self.cfg
        return IntFrames(np.array(feats, np.int16).reshape(-1, c.n_features),
                         np.array(mels, np.uint64).reshape(-1, c.n_mels), np.array(exps, np.int64),
                         np.array(flags, np.int8))


def host_frontend(cfg: FeatureConfig, vad_cfg: VadConfig | None = None, cache_dir: Path | None = None) -> CFrontend:
    """The generated frontend built once per distinct source text and
    cached (safe when several processes build at once)."""
    files = generate_frontend(cfg, vad_cfg)
    key = hashlib.sha1("".join(f"{k}\0{v}" for k, v in sorted(files.items())).encode()).hexdigest()[:16]
    d = atomic_make_dir(Path(cache_dir or default_cache_dir()) / f"cfrontend-{key}",
                        lambda tmp: build_shared(write_sources(files, tmp / "src"), tmp / CFrontend.LIB))
    return CFrontend(cfg, d, vad_cfg, build=False)


class HostIntegerFrontend(IntegerFrontend):
    """The integer frontend whose float-facing calls (compute, compute_batch,
    process) run the generated C built for this host: bit-exact with the
    reference (tested), and fast enough for training. Without a compiler it
    warns once and uses the Python reference. frames_int and analyze are
    always the reference."""

    def __init__(self, cfg: FeatureConfig):
        super().__init__(cfg)
        self._c: CFrontend | None = None
        self._python = False

    def features_int(self, frames: np.ndarray) -> np.ndarray:
        if self._c is None and not self._python:
            try:
                self._c = host_frontend(self.cfg)
            except (BuildError, OSError) as e:
                warnings.warn(f"integer frontend: no host C build ({str(e).splitlines()[0]}); "
                              "using the slower Python reference")
                self._python = True
        return super().features_int(frames) if self._python else self._c.frames(frames)


def make_frontend(cfg: FeatureConfig) -> Frontend:
    """The frontend that training and evaluation use (cfg.frontend).

    Both offer compute_batch / compute / process / reset with the same frame
    layout and float features, so training on the device's integer features
    is a configuration choice.
    """
    if cfg.frontend == "float":
        return Frontend(cfg)
    if cfg.frontend == "integer":
        return HostIntegerFrontend(cfg)
    raise ConfigError(f"features.frontend: unknown {cfg.frontend!r} (float, integer)")


def build_driver(cfg: FeatureConfig, build_dir: Path, sanitize: bool = False,
                 vad_cfg: VadConfig | None = None) -> Path:
    srcs = write_frontend_sources(cfg, Path(build_dir) / "src", driver=True, vad_cfg=vad_cfg)
    name = "kws_frontend_main_san" if sanitize else "kws_frontend_main"
    return build_executable(srcs, Path(build_dir) / name, sanitize=sanitize)


def parse_driver_output(cfg: FeatureConfig, data: bytes) -> IntFrames:
    nf, nm = cfg.n_features, cfg.n_mels
    rec = np.dtype({"names": ["f", "m", "e", "v"],
                    "formats": [(np.int16, nf), (np.uint64, nm), np.int32, np.int32],
                    "offsets": [0, 2 * nf, 2 * nf + 8 * nm, 2 * nf + 8 * nm + 4],
                    "itemsize": 2 * nf + 8 * nm + 8})
    r = np.frombuffer(data, rec)
    return IntFrames(r["f"].copy(), r["m"].copy(), r["e"].astype(np.int64), r["v"].astype(np.int8))


def run_driver(exe: Path, cfg: FeatureConfig, pcm: np.ndarray, chunk: int, timeout: float = 120) -> IntFrames:
    """Run the driver on one PCM vector; raises on a missing PASS line or a non-zero exit."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.pcm", Path(tmp) / "out.bin"
        src.write_bytes(np.ascontiguousarray(pcm, "<i2").tobytes())
        run_passing([str(exe), str(src), str(dst), str(chunk)], str(exe), timeout)
        return parse_driver_output(cfg, dst.read_bytes())
