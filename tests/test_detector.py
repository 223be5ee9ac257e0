import numpy as np
import pytest

from kwsdk.config import DetectorConfig
from kwsdk.detector import Detector, calibrate_clip_floor, clip_decision, detect, smooth

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
