"""CPU time per second of audio of `kwsdk daemon` on this machine (Python +
C), and the share spent outside the model backend (wav decoding, chunking,
the event loop); the issue's target is the daemon's own overhead below the
C library's cost. The same for the LiteRT backend when --tflite is given.

The input is a long stream of real speech clips (0.25 s gaps of quiet
noise) written to a temporary wav, run through kwsdk.daemon.run exactly as
`kwsdk daemon --source wav:PATH` does; CPU time in the backend's process
call is measured around each call (time.thread_time).

    .venv/bin/python benchmarks/bench_daemon.py --export EXPORT_DIR [--tflite FILE.tflite] [--data DIR] [--minutes M] [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import add_data_arg, load_data, print_table, speech_pcm
import kwsdk.daemon as daemon
from kwsdk.audio import write_wav


def measure(model: Path, wav: Path, audio_s: float) -> dict:
    backend = daemon.load_model(model)
    inside = [0.0]
    process = backend.process

    def timed(pcm, offset=0):
        t = time.thread_time()
        try:
            return process(pcm, offset)
        finally:
            inside[0] += time.thread_time() - t

    backend.process = timed
    load = daemon.load_model
    daemon.load_model = lambda _: backend  # run() loads its model: hand it the timed one
    try:
        t = time.process_time()
        events = daemon.run(model, f"wav:{wav}", emit=lambda e: None)
        total = time.process_time() - t
    finally:
        daemon.load_model = load
    return {"model": str(model), "events": events, "cpu_s": total, "backend_s": inside[0],
            "ms_per_audio_s": 1e3 * total / audio_s, "backend_ms_per_audio_s": 1e3 * inside[0] / audio_s,
            "outside_share": (total - inside[0]) / total, "times_realtime": audio_s / total}


def main() -> None:
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[:2]))
    p.add_argument("--export", type=Path, required=True, help="export folder (kwsdk export --target host)")
    p.add_argument("--tflite", type=Path, help="also measure this .tflite (kwsdk export --target tflite)")
    add_data_arg(p)
    p.add_argument("--minutes", type=float, default=10.0, help="minutes of audio (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    a = p.parse_args()
    sr = daemon.load_model(a.export).sample_rate
    ds = load_data(p, a.data, sr)
    pcm, clips = speech_pcm(ds, a.minutes * 60, sr, gap_s=0.25)
    audio_s = len(pcm) / sr
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "stream.wav"
        write_wav(wav, pcm / 32768.0, sr)
        rows = [measure(m, wav, audio_s) for m in [a.export, *([a.tflite] if a.tflite else [])]]
    if a.json:
        print(json.dumps({"audio_seconds": audio_s, "clips": clips, "rows": rows}))
        return
    print(f"{audio_s / 60:.1f} min of speech ({clips} clips), CPU time of the whole daemon run")
    print_table(["model", "events", "CPU ms per s of audio", "in backend", "outside backend", "x real time"],
                [[Path(r["model"]).name, r["events"], f"{r['ms_per_audio_s']:.2f}",
                  f"{r['backend_ms_per_audio_s']:.2f}", f"{100 * r['outside_share']:.1f}%",
                  f"{r['times_realtime']:.0f}"] for r in rows])


if __name__ == "__main__":
    main()
