import json
from pathlib import Path

import numpy as np
import pytest

from kwsdk.config import DetectorConfig
from kwsdk.detector import Detector, IntDetector, calibrate_clip_floor, clip_decision, detect, smooth
from tests.conftest import C_DIR

CATS = ["yes", "no", "_unknown_", "_silence_"]


def posteriors_with_bumps(n, bumps):
    """Silence everywhere except `bumps`: (start, stop, category) set to 1."""
    p = np.zeros((n, len(CATS)))
    p[:, 3] = 1.0
    for a, b, c in bumps:
        p[a:b] = 0
        p[a:b, c] = 1.0
    return p


def test_smoothing_is_trailing_mean_with_zero_history():
    p = np.arange(10, dtype=float)[:, None]
    np.testing.assert_allclose(smooth(p, 3)[:, 0], [0, 1 / 3, 1, 2, 3, 4, 5, 6, 7, 8])


def test_events_threshold_refractory_and_time():
    p = posteriors_with_bumps(300, [(10, 30, 0), (40, 60, 1), (150, 170, 1), (200, 220, 2)])
    cfg = DetectorConfig(smooth_frames=5, threshold=0.7, refractory_s=1.0)
    ev = detect(p, CATS, cfg, frames_per_second=50)
    # The "no" at frame 40 falls within 1 s (50 frames) of the "yes": suppressed.
    # Unknown words never fire.
    assert [(e.keyword, e.frame) for e in ev] == [(0, 13), (1, 153)]
    assert ev[0].time == pytest.approx(14 / 50)
    assert ev[0].score == pytest.approx(0.8)


def test_per_keyword_threshold_and_unknown_keyword_error():
    p = posteriors_with_bumps(100, [(10, 13, 0)])
    assert detect(p, CATS, DetectorConfig(smooth_frames=5, threshold=0.7), 50) == []
    ev = detect(p, CATS, DetectorConfig(smooth_frames=5, threshold=0.7, thresholds={"yes": 0.5}), 50)
    assert [e.keyword for e in ev] == [0]
    with pytest.raises(ValueError, match="maybe"):
        detect(p, CATS, DetectorConfig(thresholds={"maybe": 0.5}), 50)


def test_streaming_in_chunks_is_identical():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4) * 0.3, size=3000)
    cfg = DetectorConfig(smooth_frames=4, threshold=0.5, refractory_s=0.3)
    whole = detect(p, CATS, cfg, 50)
    det, got, i = Detector(CATS, cfg, 50), [], 0
    while i < len(p):
        n = int(rng.integers(1, 40))
        got += det.process(p[i : i + n])
        i += n
    assert got == whole and len(whole) > 20


def test_clip_decision():
    assert clip_decision(posteriors_with_bumps(60, [(20, 40, 1)]), CATS, 5) == 1
    assert clip_decision(posteriors_with_bumps(60, [(20, 40, 2)]), CATS, 5) == 2
    assert clip_decision(posteriors_with_bumps(60, [(20, 21, 0)]), CATS, 5) == 3  # too brief: silence
    assert clip_decision(posteriors_with_bumps(60, []), CATS, 5) == 3
    brief = posteriors_with_bumps(60, [(20, 22, 0)])  # smoothed peak 0.4
    assert clip_decision(brief, CATS, 5, floor=0.4) == 0 and clip_decision(brief, CATS, 5, floor=0.45) == 3


def test_clip_floor_calibration():
    """The floor with the best accuracy wins; ties go to the one nearest the default."""
    det = DetectorConfig(smooth_frames=5)
    clips = np.stack([posteriors_with_bumps(60, [(20, 20 + n, 0)]) for n in (1, 2, 3, 5)])  # peaks .2 .4 .6 1
    assert calibrate_clip_floor(clips, CATS, det, np.array([3, 3, 0, 0])) == 0.45  # 0.45-0.6 tie
    assert calibrate_clip_floor(clips, CATS, det, np.array([3, 0, 0, 0])) == 0.4  # 0.25-0.4 tie
    assert calibrate_clip_floor(clips, CATS, det, np.array([0, 0, 0, 0])) == 0.2


C_DRIVER = C_DIR / "kws_detector_test.c"


def run_c_detector(cats, det: DetectorConfig, post, gate, tmp_path, sanitize=False) -> list[tuple]:
    """The generated detector (in a library with a small random model) fed
    (T, C) q15 posteriors and T gates: its events (frame, keyword, score)."""
    from kwsdk.codegen.library import generate_library
    from kwsdk.config import VadConfig, feature_preset
    from kwsdk.codegen.hostbuild import build_executable, run_passing, write_sources
    from kwsdk.pipeline import PipelineOptions
    from tests.helpers import make_quant

    feats = np.random.default_rng(0).integers(-3000, 3000, (4, 20, 40)).astype(np.int16)
    _, q = make_quant("gru", 1, 8, feats, hidden=8, categories=cats)
    files = generate_library(feature_preset("default"), VadConfig(), q, det, PipelineOptions())
    exe = build_executable(write_sources(files, tmp_path / "src") + [C_DRIVER], tmp_path / "det", sanitize=sanitize)
    (tmp_path / "in.bin").write_bytes(np.column_stack([post, gate]).astype("<i2").tobytes())
    out = run_passing([str(exe), str(tmp_path / "in.bin")], "detector", 60).stdout.split("\n")
    return [tuple(int(v) for v in line.split()) for line in out if line and line != "PASS"]


@pytest.mark.parametrize("sanitize", [False, True], ids=["O2", "asan-ubsan"])
@pytest.mark.parametrize("det", [DetectorConfig(smooth_frames=3, threshold=0.5, thresholds={"no": 0.7},
                                                refractory_s=0.1),
                                 DetectorConfig(smooth_frames=1, threshold=0.3, refractory_s=0.0),
                                 DetectorConfig(smooth_frames=20, threshold=0.9, refractory_s=1.0)],
                         ids=["k3-per-keyword", "k1-no-refractory", "k20"])
def test_c_detector_equals_int_detector(det, sanitize, tmp_path):
    """The generated detector, fed q15 posteriors directly, fires on the same
    frames, keywords and scores as IntDetector: bursts, sums exactly at a
    threshold, two keywords tied, gating, and events inside the refractory
    period."""
    cats = ["yes", "no", "up", "_unknown_", "_silence_"]
    rng = np.random.default_rng(det.smooth_frames)
    ints = IntDetector(cats, det, 320, 16000)
    n = 3000
    post = np.zeros((n, len(cats)), np.int64)
    post[:, 4] = 32767
    for start in rng.integers(0, n - 40, 120):  # bursts of one keyword, some overlapping
        c, length, level = rng.integers(0, 4), rng.integers(1, 40), rng.integers(8000, 32768)
        post[start : start + length] = 0
        post[start : start + length, c] = level
        post[start : start + length, 4] = 32767 - level
    # A keyword held exactly at its threshold sum, and two keywords tied.
    t = ints.thr[0] // det.smooth_frames
    post[2000:2000 + det.smooth_frames] = [t, 0, 0, 0, 32767 - t]
    post[2000 + det.smooth_frames - 1, 0] += ints.thr[0] - t * det.smooth_frames
    post[2500:2540] = [16000, 16000, 0, 0, 767]
    gate = (rng.random(n) < 0.8).astype(np.int64)
    gate[2000:2600] = 1
    want = [(e.frame, e.keyword, e.score_q15) for e in
            (ints.step(p, bool(g)) for p, g in zip(post, gate)) if e is not None]
    got = run_c_detector(cats, det, post, gate, tmp_path, sanitize)
    assert len(want) >= 3 and len({k for _, k, _ in want}) >= 2
    if det.refractory_s == 0:  # nothing holds it back: the sum exactly at the threshold fires
        assert (2000 + det.smooth_frames - 1, 0) in [(f, k) for f, k, _ in want]
    assert got == want


def test_golden_vector(tmp_path):
    """Checked-in posteriors, gates and events (tests/golden): the reference
    and the C both still give them."""
    g = json.loads((Path(__file__).parent / "golden" / "detector.json").read_text())
    cats = ["yes", "no", "_unknown_", "_silence_"]
    det = DetectorConfig(smooth_frames=3, threshold=0.5, thresholds={"no": 0.7}, refractory_s=0.1)
    assert repr(det) in g["provenance"]
    ints = IntDetector(cats, det, 320, 16000)
    want = [tuple(e) for e in g["events"]]
    assert [(e.frame, e.keyword, e.score_q15) for e in
            (ints.step(np.array(p), bool(x)) for p, x in zip(g["posteriors"], g["gate"])) if e] == want
    assert run_c_detector(cats, det, np.array(g["posteriors"]), np.array(g["gate"]), tmp_path) == want
