"""The benchmark scripts that compare kwsdk with other engines run end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import SAMPLE

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
WAKE = Path(__file__).resolve().parents[2] / "shared" / "data" / "wake_phrases_dev"


def test_wakeword_peers_on_kwsdk_alone(qrun, tmp_path):
    png = tmp_path / "det.png"
    p = subprocess.run([sys.executable, str(BENCH / "wakeword_peers.py"), "--run", str(qrun), "--data", str(SAMPLE),
                        "--keyword", "yes", "--negatives", str(SAMPLE / "_background_noise_"), "--no-peers",
                        "--no-report", "--png", str(png), "--json"],
                       capture_output=True, text=True, timeout=600, cwd=BENCH)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout)
    assert r["positives"] > 0 and r["negative_hours"] > 0 and png.stat().st_size > 0
    fl, c = r["engines"]
    assert (fl["engine"], c["engine"]) == ("kwsdk float", "kwsdk device C")
    for e in (fl, c):
        lowest, highest = e["curve"][0], e["curve"][-1]
        assert lowest["recall"] > 0 and lowest["false_accepts"] > 0  # at T = 0.02 the tiny model fires
        assert highest["recall"] <= lowest["recall"] and highest["false_accepts"] <= lowest["false_accepts"]
    # The float model and the device C (8-bit) find the same positives at low thresholds.
    assert fl["curve"][0]["recall"] == c["curve"][0]["recall"]


@pytest.mark.skipif(not WAKE.is_dir(), reason="needs ../shared/data/wake_phrases_dev")
def test_peer_engines_hear_alexa_and_not_computer():
    pytest.importorskip("pymicro_wakeword")
    pytest.importorskip("pyopen_wakeword")
    sys.path.insert(0, str(BENCH))
    try:
        from wakeword_peers import MicroWakeWord, OpenWakeWord
    finally:
        sys.path.remove(str(BENCH))
    import soundfile as sf

    def pcm(word):
        files = sorted((WAKE / word).glob("*.flac"))[1:4]
        return np.concatenate([np.concatenate([sf.read(f, dtype="int16")[0], np.zeros(16000, np.int16)])
                               for f in files])

    for engine in (MicroWakeWord("alexa"), OpenWakeWord("alexa")):
        t, p, own, cpu = engine.run(pcm("alexa"))
        assert len(t) == len(p) and cpu > 0
        assert len(own) == 3 and p.max() > 0.9, engine.name
        t, p, own, _ = engine.run(pcm("computer"))
        assert len(own) == 0 and p.max() < 0.5, engine.name


@pytest.mark.slow
@pytest.mark.extended
def test_bench_scale_small(dev_data):
    p = subprocess.run([sys.executable, str(BENCH / "bench_scale.py"), "--small", "--steps", "2", "--json"],
                       capture_output=True, text=True, timeout=1200, cwd=BENCH)
    assert p.returncode == 0, p.stderr[-3000:]
    r = json.loads(p.stdout)
    assert r["clips"] == r["cold_load"]["clips"] == 3500 and r["cold_load"]["skipped"] == 0
    assert r["warm_load"]["clips"] == r["cold_load"]["clips"] and r["cache_bytes"] > 0
    assert r["warm_load"]["seconds"] < r["cold_load"]["seconds"]
    assert 0 < r["utterances_per_second_ratio"] < 10
