"""`kwsdk daemon`: continuous keyword detection with an exported library.

Device side: numpy and the standard library only (no torch, no training
code). The export folder's libkws.so runs frontend, VAD, model and detector
(`kws_process`); or, given a .tflite of `kwsdk export --target tflite`,
LiteRT runs the model between kwsdk's Python frontend and detector
(kwsdk.tflite.runtime.TfliteDetector). This module feeds audio from a
source and writes one JSON line per event to stdout: {"keyword", "index",
"score", "time"} with time in seconds of audio since the stream started.

Sources: "wav:PATH" (a .wav, .flac or .ogg file, decoded block by block; as fast as the CPU allows, or
paced with --realtime; the daemon exits at its end), "stdin" (raw 16-bit little-endian mono PCM at
the model's rate), "cmd:COMMAND" (a recorder's raw PCM on its stdout, e.g.
'arecord -f S16_LE -r 16000 -c 1 -t raw'; run without a shell), "mic" or
"mic:NAME" (PyAudio, by index or part of the name; a device that
disappears is reopened with backoff, an overrun resets the pipeline, both
counted and logged). `run` also accepts any iterable of int16 chunks, the
injectable source the tests use.
SIGTERM and SIGINT stop cleanly (the socket file is removed); SIGHUP
re-reads the config file.

Config (JSON, --config): {"thresholds": {"yes": 0.9}, "commands": {"yes":
["/usr/bin/logger", "heard yes"]}, "socket": "/run/kwsdk/kws.sock",
"refractory_s": 1.5}; --keyword-threshold and --refractory override it.
- A keyword's command is an argument list run without a shell, so neither
  a keyword nor a config value can inject shell code; the event reaches it
  in KWS_KEYWORD, KWS_SCORE and KWS_TIME.
- The socket is a Unix stream socket created with owner/group-only
  permissions (0660); every connected client receives the JSON lines.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import shlex
import signal
import socket as socket_mod
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

import numpy as np

from kwsdk.audio import audio_blocks
from kwsdk.config import ConfigError
from kwsdk.detector import check_refractory, keyword_index, refractory_frames
from kwsdk.audio import to_pcm16

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
        return (to_pcm16(b) for b in audio_blocks(arg, sample_rate, chunk))
    if kind == "stdin":
        return _pcm_bytes(sys.stdin.buffer, chunk)
    if kind == "cmd":
        argv = shlex.split(arg)
        if not argv:
            raise ConfigError("--source cmd: needs a command, e.g. cmd:'arecord -f S16_LE -r 16000 -c 1 -t raw'")
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
        return _pcm_bytes(proc.stdout, chunk)
    if kind == "mic":
        return Reconnecting(lambda: mic_chunks(arg or None, sample_rate, chunk))
    raise ConfigError(f"unknown source {spec!r}: use wav:PATH, stdin, cmd:COMMAND, mic or mic:NAME")


class Overrun(Exception):
    """The input dropped samples: the stream has a gap."""


GAP = None  # what a reconnecting source yields where audio was lost


class Reconnecting:
    """A live source that can disappear (a microphone unplugged) or overrun.
    It reopens with exponential backoff (0.5 s doubling to 8 s), counting
    reconnects and overruns, and yields GAP wherever audio was lost so the
    pipeline can restart from a clean state. It ends only when `stop()`."""

    def __init__(self, opener: Callable[[], Iterator[np.ndarray]], sleep: Callable[[float], None] = time.sleep,
                 log: Callable[[str], None] = lambda m: print(m, file=sys.stderr, flush=True),
                 max_backoff: float = 8.0):
        self.opener, self.sleep, self.log, self.max_backoff = opener, sleep, log, max_backoff
        self.reconnects = self.overruns = 0
        self.stop: Callable[[], bool] = lambda: False

    def __iter__(self) -> Iterator[np.ndarray | None]:
        backoff, lost, opened = 0.5, False, False
        while not self.stop():
            try:
                try:
                    stream = self.opener()
                    first = next(stream, None)
                except OSError as e:
                    if not opened:  # never worked: a wrong device, not a lost one
                        raise ConfigError(f"cannot open the input: {e}") from None
                    raise
                opened = True
                for chunk in itertools.chain([] if first is None else [first], stream):
                    if lost:
                        self.log(f"kwsdk daemon: input back (reconnect {self.reconnects})")
                        lost, backoff = False, 0.5
                    yield chunk
                    if self.stop():
                        return
                raise OSError("the input stream ended")
            except Overrun:
                self.overruns += 1
                self.log(f"kwsdk daemon: input overrun {self.overruns}: samples dropped, state reset")
                yield GAP
            except OSError as e:
                if not lost:
                    self.reconnects += 1
                    self.log(f"kwsdk daemon: input lost ({e}); reconnecting")
                    lost = True
                    yield GAP
                self.sleep(backoff)
                backoff = min(2 * backoff, self.max_backoff)


def _pyaudio():
    try:
        import pyaudio
    except ImportError:
        raise ConfigError("the microphone source needs PyAudio: pip install pyaudio (needs portaudio19-dev)") from None
    return pyaudio


def list_devices() -> list[dict]:
    pa = _pyaudio().PyAudio()
    try:
        return [{"index": i, "name": d["name"], "inputs": int(d["maxInputChannels"])}
                for i in range(pa.get_device_count()) if (d := pa.get_device_info_by_index(i))["maxInputChannels"]]
    finally:
        pa.terminate()


def mic_chunks(device: str | None, sample_rate: int, chunk: int) -> Iterator[np.ndarray]:
    """int16 mono chunks from a PyAudio input device (by index or name part);
    raises Overrun when the device dropped samples, OSError when it is gone."""
    pyaudio = _pyaudio()
    pa = pyaudio.PyAudio()
    try:
        index = None
        if device is not None:
            devs = list_devices()
            match = [d for d in devs if str(d["index"]) == device or device.lower() in d["name"].lower()]
            if not match:
                raise OSError(f"no input device {device!r} (see --list-devices)")
            index = match[0]["index"]
        stream = pa.open(format=pyaudio.paInt16, channels=1, rate=sample_rate, input=True,
                         input_device_index=index, frames_per_buffer=chunk)
        while True:
            try:
                data = stream.read(chunk, exception_on_overflow=True)
            except OSError as e:
                if getattr(e, "errno", None) == pyaudio.paInputOverflowed:
                    raise Overrun() from None
                raise
            yield np.frombuffer(data, "<i2")
    finally:
        pa.terminate()


@dataclass
class DaemonConfig:
    thresholds: dict[str, float] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)
    socket: str = ""
    refractory_s: float | None = None  # None: the export's

    @classmethod
    def load(cls, path: Path | None, categories: list[str]) -> "DaemonConfig":
        if path is None:
            return cls()
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"{path}: cannot read the daemon config ({e})") from None
        if not isinstance(d, dict) or set(d) - {"thresholds", "commands", "socket", "refractory_s"}:
            raise ConfigError(f"{path}: expected an object with thresholds, commands, socket and/or refractory_s")
        refractory = d.get("refractory_s")
        if refractory is not None:
            check_refractory(refractory, f"{path}: refractory_s")
        cfg = cls(dict(d.get("thresholds", {})), dict(d.get("commands", {})), str(d.get("socket", "")),
                  refractory)
        for word in [*cfg.thresholds, *cfg.commands]:
            if word not in categories or word.startswith("_"):
                raise ConfigError(f"{path}: {word!r} is not a keyword of this model")
        for word, argv in cfg.commands.items():
            if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
                raise ConfigError(f"{path}: command for {word!r} must be a non-empty list of strings (no shell)")
        return cfg


class Subscribers:
    """A Unix stream socket (mode 0660) whose clients each get every event line."""

    def __init__(self, path: str):
        self.path, self.clients = Path(path), []
        self.path.unlink(missing_ok=True)
        old = os.umask(0o117)
        try:
            self.server = socket_mod.socket(socket_mod.AF_UNIX, socket_mod.SOCK_STREAM)
            self.server.bind(str(self.path))
        finally:
            os.umask(old)
        self.server.listen()
        self.server.setblocking(False)

    def send(self, line: str) -> None:
        while True:
            try:
                self.clients.append(self.server.accept()[0])
            except BlockingIOError:
                break
        for c in list(self.clients):
            try:
                c.sendall(line.encode() + b"\n")
            except OSError:  # the client went away
                self.clients.remove(c)
                c.close()

    def close(self) -> None:
        for c in self.clients:
            c.close()
        self.server.close()
        self.path.unlink(missing_ok=True)


def run_command(argv: list[str], event: dict) -> subprocess.Popen:
    env = {**os.environ, "KWS_KEYWORD": event["keyword"], "KWS_SCORE": f"{event['score']:.4f}",
           "KWS_TIME": f"{event['time']:.3f}"}
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)


def run(export_dir: Path, source: "str | Iterable", realtime: bool = False,
        thresholds: dict[str, float] | None = None,
        config: Path | None = None,
        emit: Callable[[dict], None] = lambda e: print(json.dumps(e), flush=True),
        refractory_s: float | None = None) -> int:
    """Detect until the source ends or SIGTERM/SIGINT; returns the number of
    events. Flags (thresholds, refractory_s) win over the config file."""
    kws = load_model(export_dir)
    cfg = DaemonConfig.load(config, kws.categories)

    def apply(c: DaemonConfig) -> None:
        for word, thr in {**c.thresholds, **(thresholds or {})}.items():
            kws.set_threshold(word, thr)
        refractory = refractory_s if refractory_s is not None else c.refractory_s
        if refractory is not None:
            kws.set_refractory(refractory)

    apply(cfg)
    subs = Subscribers(cfg.socket) if cfg.socket else None
    stop, reload, children = [], [], []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.append(True))
    signal.signal(signal.SIGHUP, lambda *_: reload.append(True))
    count, start, fed = 0, time.monotonic(), 0
    try:
        chunks = open_source(source, kws.sample_rate) if isinstance(source, str) else source
        if isinstance(chunks, Reconnecting):
            also = chunks.stop
            chunks.stop = lambda: bool(stop) or also()
        offset = 0  # samples fed before the last reset: times stay on the stream's clock
        for chunk in chunks:
            if stop:
                break
            if chunk is GAP:  # audio was lost: start the pipeline afresh
                kws.reset()
                offset = fed
                continue
            if reload:
                reload.clear()
                try:
                    cfg = DaemonConfig.load(config, kws.categories)
                    apply(cfg)
                except ConfigError as e:  # keep running on the old config
                    print(f"kwsdk daemon: reload failed, config kept: {e}", file=sys.stderr, flush=True)
            for event in kws.process(chunk, offset):
                emit(event)
                if subs:
                    subs.send(json.dumps(event))
                if event["keyword"] in cfg.commands:
                    children.append(run_command(cfg.commands[event["keyword"]], event))
                count += 1
            children = [c for c in children if c.poll() is None]  # reap finished commands
            fed += len(chunk)
            if realtime:  # pace to the audio clock
                time.sleep(max(0.0, fed / kws.sample_rate - (time.monotonic() - start)))
    finally:
        if subs:
            subs.close()
        for c in children:
            c.wait()
    return count
