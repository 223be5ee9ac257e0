"""Writes the golden vectors in this folder: checked-in inputs and the
integer outputs kwsdk computed for them when they were made. The tests
compare both the Python references and the generated C against them, so a
change that alters the integers in both (a bug shared by kwsdk.fixedpoint
and the C, or an unintended numerics change) fails. Run it only to accept
a deliberate change of the numerics, and say so in the commit:

    .venv/bin/python -m tests.golden.make_golden
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

import kwsdk
from kwsdk.config import DetectorConfig, feature_preset
from kwsdk.detector import IntDetector
from kwsdk.frontend.integer import IntegerFrontend
from kwsdk.qmodel.model import IntModel

HERE = Path(__file__).parent
CLIP = "yes/0cb74144_nohash_0.wav"  # in kwsdk/sample_data/speech_commands_sample
CATEGORIES = ["yes", "no", "_unknown_", "_silence_"]
DETECTOR = DetectorConfig(smooth_frames=3, threshold=0.5, thresholds={"no": 0.7}, refractory_s=0.1)


def provenance(what: str) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    return f"{what}; written by tests/golden/make_golden.py at commit {commit} (kwsdk {kwsdk.__version__})"


def write(name: str, data: dict) -> None:
    (HERE / name).write_text(json.dumps(data, indent=1) + "\n")


def main() -> None:
    pcm, _ = sf.read(Path(kwsdk.__file__).parent / "sample_data" / "speech_commands_sample" / CLIP, dtype="int16")
    pcm = pcm[5600:10400]  # 0.3 s of the word
    feats = IntegerFrontend(feature_preset("default")).analyze(pcm).features
    write("frontend_default.json", {
        "provenance": provenance(f"default preset frontend (IntegerFrontend.analyze) on samples 5600-10400 of {CLIP}"),
        "pcm": pcm.tolist(), "features": feats.tolist()})

    # One GRU step: a small model with fixed integer weights, saved beside it.
    from tests.helpers import make_quant

    _, q = make_quant("gru", 1, 8, np.stack([feats] * 2), hidden=8, categories=CATEGORIES)
    q.save(HERE / "gru_step_model.npz")
    m = IntModel(q)
    post, state = [], []
    for f in feats[:4]:
        post.append(m.step(f[None])[0])
        state.append(m.state[0][0][0])
    write("gru_step.json", {
        "provenance": provenance("IntModel steps of gru_step_model.npz (1 x 8 GRU, int8) from zero state on "
                                 "the first 4 frames of frontend_default.json"),
        "features": feats[:4].tolist(), "state": np.array(state).tolist(), "posteriors": np.array(post).tolist()})

    rng = np.random.default_rng(7)
    p = np.zeros((120, 4), np.int64)
    p[:, 3] = 32767
    for start, c, n, level in ((5, 0, 6, 30000), (9, 1, 8, 26000), (40, 1, 12, 20000), (70, 0, 3, 32767)):
        p[start:start + n] = 0
        p[start:start + n, c], p[start:start + n, 3] = level, 32767 - level
    p[90:96] = [16384, 16383, 0, 0]  # "yes" sums to its threshold exactly at frame 92
    p[104:112] = [24000, 24000, 0, 0]  # both over their thresholds, "no" by less: a tie broken by the sum
    p[106, 1] = 24001
    gate = (rng.random(120) < 0.9).astype(int)
    gate[85:110] = 1  # the tie at 90 (both at 0.5, "yes" at its threshold exactly) is heard
    det = IntDetector(CATEGORIES, DETECTOR, 320, 16000)
    events = [[e.frame, e.keyword, e.score_q15] for e in (det.step(x, bool(g)) for x, g in zip(p, gate)) if e]
    write("detector.json", {
        "provenance": provenance(f"IntDetector {DETECTOR} on categories {CATEGORIES}, hop 320 at 16 kHz"),
        "posteriors": p.tolist(), "gate": gate.tolist(), "events": events})


if __name__ == "__main__":
    main()
