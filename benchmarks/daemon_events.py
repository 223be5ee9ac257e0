"""End-to-end event accuracy of `kwsdk daemon`: the evaluation stream of
`kwsdk eval --stream` (test-split clips 0.5-3 s apart over held-out
background noise at 5-20 dB SNR) written to a wav, run through the daemon
as a subprocess with an export folder, its JSON events scored against the
known keyword times (kwsdk.metrics.score_events: the right keyword between
its onset and 1 s after its offset). Prints recall and false accepts per
hour at the export's threshold, next to the same rule run on PyTorch's
posteriors for the same stream.

    .venv/bin/python benchmarks/daemon_events.py --run RUN --export EXPORT_DIR [--data DIR] [--minutes M] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from _common import add_data_arg
from kwsdk.audio import write_wav
from kwsdk.detector import Event, detect
from kwsdk.evaluate import load_run_and_split, stream_builder, stream_posteriors
from kwsdk.export import device_detector
from kwsdk.codegen.cfrontend import make_frontend
from kwsdk.metrics import score_events
from kwsdk.streams import stream_chunks


def main() -> None:
    p = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[:2]))
    p.add_argument("--run", type=Path, required=True, help="trained, quantized run folder")
    p.add_argument("--export", type=Path, required=True, help="its export folder (kwsdk export --run RUN)")
    add_data_arg(p)
    p.add_argument("--minutes", type=float, default=60.0, help="stream length (default 60)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    a = p.parse_args()
    cfg, cats, model, ds, clips = load_run_and_split(a.run, a.data, "test", None, False)
    sr = cfg.features.sample_rate
    parts, truth = [], []
    for audio, placed in stream_chunks(stream_builder(cfg, cats, clips, ds.noise), a.minutes * 60, seed=0):
        parts.append(audio)
        truth += placed
    audio = np.concatenate(parts)
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "stream.wav"
        write_wav(wav, audio, sr)
        out = subprocess.run([sys.executable, "-m", "kwsdk.cli", "daemon", "--model", str(a.export), "--source",
                              f"wav:{wav}"], capture_output=True, text=True, check=True).stdout
    events = [json.loads(line) for line in out.splitlines()]
    seconds = len(audio) / sr
    daemon = score_events([Event(0, e["index"], e["score"], e["time"]) for e in events], truth, cats, sr, seconds)
    det = device_detector(a.run, cfg)
    frontend = make_frontend(cfg.features)  # the same stream's float features, chunk by chunk as eval --stream
    feats = np.concatenate([frontend.process(part) for part in parts])
    ref = score_events(detect(stream_posteriors(model, feats), cats, det, cfg.features.frames_per_second),
                       truth, cats, sr, seconds)
    res = {"minutes": seconds / 60, "threshold": det.threshold, "keywords_spoken": daemon["keywords_spoken"],
           "daemon": {k: daemon[k] for k in ("recall", "false_accepts_per_hour", "hits", "false_accepts")},
           "pytorch": {k: ref[k] for k in ("recall", "false_accepts_per_hour", "hits", "false_accepts")}}
    if a.json:
        print(json.dumps(res))
        return
    print(f"{res['minutes']:.0f} min stream, {res['keywords_spoken']} keywords, threshold {det.threshold:g}")
    for name in ("daemon", "pytorch"):
        r = res[name]
        print(f"{name:>8}: recall {r['recall']:.3f} ({r['hits']} hits), {r['false_accepts_per_hour']:.1f} "
              f"false accepts/h ({r['false_accepts']})")


if __name__ == "__main__":
    main()
