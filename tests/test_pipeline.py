"""The exported device library: quantize -> export -> build -> verify on a
tiny trained run, the export folder's own Makefile, kws_process through
ctypes against the integer pipeline reference, the VAD options, saturating
inputs under the sanitizers, and the integer detector against the float rule."""

from __future__ import annotations

import ctypes
import json
import subprocess

import numpy as np
import pytest

from kwsdk.config import DetectorConfig, RunConfig
from kwsdk.detector import Detector, IntDetector
from kwsdk.export import export
from kwsdk.codegen.hostbuild import load
from kwsdk.pipeline import IntPipeline, PipelineOptions
from kwsdk.qmodel.model import QuantModel
from tests.helpers import LOW, SAMPLE, kwsdk, verify_json


def test_quantize_report(qrun):
    rep = json.loads((qrun / "quant" / "report.json").read_text())
    assert rep["weight_bits"] == 8 and rep["agreement"] >= 0.9
    assert abs(rep["accuracy_float"] - rep["accuracy_int"]) <= 0.1


@pytest.mark.parametrize("extra", [(), ("--vad-reset", "--vad-gate", "--chunk", "1")], ids=["plain", "vad"])
def test_verify_host(qrun, extra):
    r = verify_json(qrun, *extra)
    assert r["c_mismatches"] == 0 and r["events_identical"]
    assert r["n_events"] > 3  # the detector really fired
    # Accuracies can differ only on the clips where the decisions differ.
    assert r["agreement"] >= 0.9 and abs(r["accuracy_device"] - r["accuracy_float"]) <= 1 - r["agreement"] + 1e-9


def test_verify_under_sanitizers(qrun):
    r = verify_json(qrun, "--target", "host-sanitize", "--split", "val")
    assert r["c_mismatches"] == 0 and r["events_identical"]


def test_export_folder_builds_with_its_makefile(qrun, tmp_path):
    res = export(qrun, tmp_path / "exp")
    assert res["weight_bytes"] > 0 and res["state_bytes"] > 0
    out = tmp_path / "exp"
    assert json.loads((out / "kws_meta.json").read_text())["categories"][-1] == "_silence_"
    subprocess.run(["make", "-s", "-C", str(out), "CFLAGS=-O2 -Werror"], check=True, capture_output=True)
    assert (out / "libkws.a").is_file() and (out / "libkws.so").is_file()
    with pytest.raises(Exception, match="not a kwsdk export folder"):
        (tmp_path / "mine").mkdir()
        (tmp_path / "mine" / "notes.txt").write_text("keep me")
        export(qrun, tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


class _Event(ctypes.Structure):
    _fields_ = [("keyword", ctypes.c_int32), ("score_q15", ctypes.c_int32), ("sample", ctypes.c_uint64)]


def test_kws_process_matches_reference(qrun, tmp_path):
    """The public streaming call, in uneven chunks, against the pipeline reference."""
    export(qrun, tmp_path / "exp")
    subprocess.run(["make", "-s", "-C", str(tmp_path / "exp"), "libkws.so"], check=True, capture_output=True)
    lib = load(tmp_path / "exp" / "libkws.so")
    lib.kws_state_size.restype = ctypes.c_size_t
    lib.kws_process.restype = ctypes.c_size_t
    lib.kws_process.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t]
    k = ctypes.create_string_buffer(lib.kws_state_size())
    lib.kws_init(k)
    rng = np.random.default_rng(0)
    words = sorted(SAMPLE.glob("[a-z]*/*.wav"))[::5]
    import soundfile as sf

    pcm = np.concatenate([np.concatenate([sf.read(str(w), dtype="int16")[0], np.zeros(4000, np.int16)])
                          for w in words])
    events, buf, pos = [], (_Event * 8)(), 0
    while pos < len(pcm):
        n = int(rng.integers(1, 3000))
        part = np.ascontiguousarray(pcm[pos : pos + n])
        got = lib.kws_process(k, part.ctypes.data, len(part), buf, 8)
        events += [(buf[i].keyword, buf[i].score_q15, buf[i].sample) for i in range(got)]
        pos += n
    cfg = RunConfig.load(qrun / "config.json")
    q = QuantModel.load(qrun / "quant" / "model_q.npz")
    ref = IntPipeline(cfg.features, cfg.vad, q, DetectorConfig(**LOW)).run(pcm)
    assert events == [(e.keyword, e.score_q15, e.sample) for e in ref.events] and len(events) > 3
    # The reference's own streaming call, in other uneven chunks, gives the same frames.
    pipe = IntPipeline(cfg.features, cfg.vad, q, DetectorConfig(**LOW))
    cuts = np.sort(rng.choice(len(pcm), 40, replace=False))
    parts = [pipe.feed(part) for part in np.split(pcm, cuts)]
    assert np.array_equal(np.concatenate([t.features for t in parts]), ref.features)
    assert np.array_equal(np.concatenate([t.posteriors for t in parts]), ref.posteriors)
    assert [e for t in parts for e in t.events] == ref.events


def test_int_detector_matches_float_rule():
    cats = ["a", "b", "_unknown_", "_silence_"]
    cfg = DetectorConfig(smooth_frames=5, threshold=0.6, thresholds={"b": 0.7}, refractory_s=0.2)
    rng = np.random.default_rng(2)
    p = rng.dirichlet([0.3] * 4, size=3000)
    q15 = np.round(p * 32768).astype(np.int64)
    floats = Detector(cats, cfg, 50.0).process(q15 / 32768.0)
    ints = IntDetector(cats, cfg, 320, 16000)
    got = [e for e in (ints.step(x) for x in q15) if e is not None]
    assert len(floats) > 20
    assert [(e.frame, e.keyword) for e in got] == [(e.frame, e.keyword) for e in floats]
    assert all(abs(e.score_q15 / 32768 - f.score) < 1e-4 and e.sample == (e.frame + 1) * 320
               for e, f in zip(got, floats))


def test_export_thresholds_and_cmake(qrun, tmp_path):
    p = kwsdk("export", "--run", qrun, "--out", tmp_path / "e", "--threshold", "0.5", "--keyword-threshold",
              "yes=0.9", "--json")
    assert json.loads(p.stdout)["files"] > 10
    meta = json.loads((tmp_path / "e" / "kws_meta.json").read_text())
    assert meta["detector"]["threshold"] == 0.5 and meta["detector"]["thresholds"] == {"yes": 0.9}
    assert "kws_default_threshold" in (tmp_path / "e" / "kws.c").read_text()
    bad = kwsdk("export", "--run", qrun, "--out", tmp_path / "f", "--keyword-threshold", "banana=0.5", check=False)
    assert bad.returncode == 2 and "banana" in bad.stderr
    build = tmp_path / "cmake-build"
    subprocess.run(["cmake", "-S", str(tmp_path / "e"), "-B", str(build)], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build)], check=True, capture_output=True)
    assert (build / "libkws.a").is_file()


@pytest.mark.parametrize("cell,layout,where", [("gru", "dsp", "host-sanitize"), ("lstm", "dsp", "host-sanitize"),
                                               ("gru", "nodsp", "host-sanitize"), ("lstm", "wide", "host-sanitize"),
                                               ("gru", "dsp", "cortex-m4"), ("lstm", "dsp", "cortex-m4"),
                                               ("gru", "wide", "cortex-m4")],
                         ids=["gru", "lstm", "gru-nodsp", "lstm-wide", "gru-m4", "lstm-m4", "gru-m4-wide"])
def test_saturating_inputs(cell, layout, where, sample_clips, tmp_path):
    """Full-scale square waves, clipped noise and silence through a model whose
    gates and cell state saturate, against the reference: under ASan + UBSan
    on the host, with int8 weights in the layouts of cores with the DSP
    extension (int8 or, "wide", int16 storage; the host runs their arithmetic
    in portable C) and of cores without, and through the DSP path on an
    emulated M4. Five categories: the head's last block of 4 rows is padded."""
    from kwsdk.codegen.library import driver_source, generate_library
    from kwsdk.config import VadConfig, feature_preset
    from kwsdk.codegen.hostbuild import write_sources
    from kwsdk.verify.harness import describe_difference, get_target, record_mismatches, run_driver, trace_dtype
    from tests.helpers import make_quant, sample_features

    fcfg, vcfg, det = feature_preset("default"), VadConfig(), DetectorConfig(**LOW)
    _, q = make_quant(cell, 2, 8, sample_features(sample_clips), categories=["yes", "no", "up", "_unknown_", "_silence_"])
    files = generate_library(fcfg, vcfg, q, det, PipelineOptions(vad_reset=True), layout != "nodsp", layout == "wide")
    files["kws_main.c"] = driver_source(cell)
    target = get_target(where)
    exe = target.build(write_sources(files, tmp_path / "src"), tmp_path / "kws_main")
    rng = np.random.default_rng(7)
    t = np.arange(16000)
    records = [np.where((t // 40) % 2, 32767, -32768).astype(np.int16),
               np.clip(rng.normal(0, 30000, 16000), -32768, 32767).astype(np.int16),
               np.zeros(8000, np.int16)]
    pipe = IntPipeline(fcfg, vcfg, q, det, PipelineOptions(vad_reset=True))
    st = len(pipe.state_vector())
    out, _ = run_driver(target, exe, records, 123, trace_dtype(q.n_features, q.n_classes, st))
    first = record_mismatches(out, pipe, records)[1]
    assert first is None, describe_difference(first)
    if cell == "lstm":  # the cell state really saturated somewhere
        assert (np.abs(out["state"][:, st // 2 :]) == 32767).any() or (out["state"][:, st // 2 :] == -32768).any()
