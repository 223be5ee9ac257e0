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
from kwsdk.verify.harness import compare, describe_difference, record_mismatches, reference_records, trace_dtype

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
    bad, first = compare(c, ref, 3, "yes/a.wav")
    assert first is None and len(bad) == 12 and not bad.any()
    # What the overwritten driver record looked like: the state's last values and the VAD field.
    c["state"][7, 2:] = [8377, 0, 15912, 8192]
    c["vad"][7] = 84508
    c["vad"][9] = 7  # a later difference is counted but not the first
    bad, d = compare(c, ref, 3, "yes/a.wav")
    assert bad.nonzero()[0].tolist() == [7, 9]
    assert (d["record"], d["source"], d["frame"]) == (3, "yes/a.wav", 7) and set(d["fields"]) == {"state", "vad"}
    assert d["fields"]["state"] == {"count": 4, "index": [2, 3, 4, 5], "c": [8377, 0, 15912, 8192],
                                    "reference": ref["state"][7, 2:].tolist()}
    assert d["fields"]["vad"] == {"count": 1, "index": [0], "c": [84508], "reference": [int(ref["vad"][7])]}
    text = describe_difference(d)
    assert text.startswith("record 3 (yes/a.wav), frame 7: state[2, 3, 4, 5] C [8377, 0, 15912, 8192] reference")
    assert f"vad C 84508 reference {ref['vad'][7]}" in text
    d = compare(c, ref, 3, "yes/a.wav", max_values=2)[1]
    assert d["fields"]["state"]["index"] == [2, 3] and "(+2 more)" in describe_difference(d)


@pytest.mark.parametrize("n_c, n_ref", [(10, 12), (0, 12), (3, 0), (0, 0)])
def test_output_of_another_length(n_c, n_ref):
    ref = reference_records(_trace(12, 2), DTYPE)
    bad, d = compare(ref[:n_c], ref[:n_ref], 0, "stream")
    if n_c == n_ref:
        assert d is None and len(bad) == 0
        return
    assert bad.all() and len(bad) == max(n_c, n_ref)
    assert d["frame"] == min(n_c, n_ref) and d["frames"] == {"c": n_c, "reference": n_ref}
    assert describe_difference(d) == (f"record 0 (stream), frame {min(n_c, n_ref)}: the C wrote {n_c} frames, "
                                      f"the reference {n_ref}")


class _Pipe:
    """Stands in for IntPipeline: a record of n samples gives n frames."""

    def reset(self):
        pass

    def run(self, r):
        return _trace(len(r), len(r))


def test_record_mismatches_name_the_first_differing_record():
    records = [np.zeros(n, np.int16) for n in (5, 7, 4)]
    c = np.concatenate([reference_records(_Pipe().run(r), DTYPE) for r in records])
    bad, first = record_mismatches(c, _Pipe(), records, ["a.wav", "b.wav", "c.wav"])
    assert first is None and [len(b) for b in bad] == [5, 7, 4] and not any(b.any() for b in bad)
    clean = c.copy()
    c["posteriors"][5 + 2, 1] += 1
    c["fired"][5 + 7 + 3] = 1
    bad, first = record_mismatches(c, _Pipe(), records, ["a.wav", "b.wav", "c.wav"])
    assert [b.nonzero()[0].tolist() for b in bad] == [[], [2], [3]]
    assert (first["record"], first["source"], first["frame"], list(first["fields"])) == (1, "b.wav", 2, ["posteriors"])
    # Frames the driver wrote past the last record, and a short output.
    bad, first = record_mismatches(np.concatenate([clean[:5], clean[:5]]), _Pipe(), records[:1])
    assert (first["record"], first["source"], first["frames"]) == (1, "after the last record", {"c": 5, "reference": 0})
    assert len(bad) == 2 and bad[1].all()
    bad, first = record_mismatches(clean[:9], _Pipe(), records)
    assert (first["record"], first["frames"]) == (1, {"c": 4, "reference": 7}) and bad[2].all()


def test_semihosting_command_line_is_bounded():
    """The firmware's startup code takes CMDLINE_MAX characters; longer is
    refused here, not cut there (test_mcu runs one of exactly that length)."""
    qemu_command("cortex-m4", Path("k.elf"), ["a" * (CMDLINE_MAX - 6)])
    with pytest.raises(ConfigError, match="command line over"):
        qemu_command("cortex-m4", Path("k.elf"), ["a" * (CMDLINE_MAX - 5)])
