"""The daemon's audio sources: a file, stdin, a recorder command or a
microphone (PyAudio, reopened with backoff when it disappears), as int16
chunks. Device side: no torch."""

from __future__ import annotations

import itertools
import shlex
import subprocess
import sys
import time
from typing import Callable, Iterator

import numpy as np

from kwsdk.audio import audio_blocks, to_pcm16
from kwsdk.config import ConfigError

CHUNK = 1600  # samples per kws_process call: 100 ms at 16 kHz


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
