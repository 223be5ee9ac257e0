"""The parity harness's own logic (kwsdk.verify): comparing the driver's
records with the reference's and naming the first difference, so that a
failed verify shows its cause at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kwsdk.config import ConfigError
from kwsdk.detector import IntEvent
from kwsdk.mcu import CMDLINE_MAX, qemu_command
from kwsdk.pipeline import FrameTrace
from kwsdk.verify import describe_difference, first_difference, frame_mismatches, reference_records, trace_dtype

DTYPE = trace_dtype(4, 3, 6)


def _trace(frames: int, seed: int) -> FrameTrace:
    rng = np.random.default_rng(seed)
    return FrameTrace(features=rng.integers(-999, 999, (frames, 4)).astype(np.int16),
                      posteriors=rng.integers(0, 32767, (frames, 3)).astype(np.int16),
                      state=rng.integers(-32768, 32767, (frames, 6)).astype(np.int16),
                      vad=(rng.random(frames) < 0.5).astype(np.int8),
                      events=[IntEvent(frame=2, keyword=1, score_q15=30000, sample=480)])


def test_reference_records_hold_the_events():
    ref = reference_records(_trace(5, 0), DTYPE)
    assert ref["fired"].tolist() == [0, 0, 1, 0, 0] and ref["keyword"].tolist() == [-1, -1, 1, -1, -1]
    assert ref["score"][2] == 30000 and ref["sample"][2] == 480 and ref["sample"][[0, 1, 3, 4]].sum() == 0


def test_first_difference_names_frame_fields_and_values():
    ref = reference_records(_trace(12, 1), DTYPE)
    c = ref.copy()
    assert first_difference(c, ref, 3, "yes/a.wav") is None and not frame_mismatches(c, ref).any()
    # What the overwritten driver record looked like: the state's last values and the VAD field.
    c["state"][7, 2:] = [8377, 0, 15912, 8192]
    c["vad"][7] = 84508
    c["vad"][9] = 7  # a later difference is counted but not the first
    d = first_difference(c, ref, 3, "yes/a.wav")
    assert (d["record"], d["source"], d["frame"]) == (3, "yes/a.wav", 7) and set(d["fields"]) == {"state", "vad"}
    assert d["fields"]["state"] == {"count": 4, "index": [2, 3, 4, 5], "c": [8377, 0, 15912, 8192],
                                    "reference": ref["state"][7, 2:].tolist()}
    assert d["fields"]["vad"] == {"count": 1, "index": [0], "c": [84508], "reference": [int(ref["vad"][7])]}
    assert frame_mismatches(c, ref).nonzero()[0].tolist() == [7, 9]
    text = describe_difference(d)
    assert text.startswith("record 3 (yes/a.wav), frame 7: state[2, 3, 4, 5] C [8377, 0, 15912, 8192] reference")
    assert f"vad C 84508 reference {ref['vad'][7]}" in text
    d = first_difference(c, ref, 3, "yes/a.wav", max_values=2)
    assert d["fields"]["state"]["index"] == [2, 3] and "(+2 more)" in describe_difference(d)


def test_first_difference_of_a_short_output():
    ref = reference_records(_trace(12, 2), DTYPE)
    d = first_difference(ref[:10], ref, 0, "stream")
    assert d["frame"] == 10 and d["frames"] == {"c": 10, "reference": 12}
    assert describe_difference(d) == "record 0 (stream), frame 10: the C wrote 10 frames, the reference 12"
    assert frame_mismatches(ref[:10], ref).all()


def test_semihosting_command_line_is_bounded():
    """The firmware's startup code takes CMDLINE_MAX characters; longer is refused here, not cut there."""
    qemu_command("cortex-m4", Path("k.elf"), ["a" * (CMDLINE_MAX - 6)])
    with pytest.raises(ConfigError, match="command line over"):
        qemu_command("cortex-m4", Path("k.elf"), ["a" * (CMDLINE_MAX - 5)])
