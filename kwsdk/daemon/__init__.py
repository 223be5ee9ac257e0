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

import json
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from kwsdk.config import ConfigError
from kwsdk.daemon.backends import load_model
from kwsdk.daemon.sources import GAP, Reconnecting, open_source
from kwsdk.daemon.subscribers import Subscribers, run_command
from kwsdk.detector import check_refractory


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
