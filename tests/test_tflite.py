"""TFLite export: the 16x8 and float graphs load and run in LiteRT and the
TFLite Micro interpreter, agree with kwsdk's integer model and PyTorch;
export, verify and daemon use them; bad input fails clearly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from kwsdk.config import ConfigError
from kwsdk.detector import CLIP_FLOOR
from kwsdk.qmodel.model import IntModel
from kwsdk.quantize import float_weights
from kwsdk.tflite.builder import schema
from kwsdk.tflite.model import float_tflite, quantized_tflite
from kwsdk.tflite.runtime import RUNTIMES, TfliteDetector, TfliteStep, read_model
from tests.helpers import LOW, SAMPLE, kwsdk, make_quant, sample_features

BUILTINS = {"FULLY_CONNECTED", "ADD", "SUB", "MUL", "LOGISTIC", "TANH", "SOFTMAX"}


@pytest.fixture(scope="module")
def feats(sample_clips):
    return sample_features(sample_clips, 12)


@pytest.fixture(scope="module", params=[("gru", 1), ("gru", 2), ("lstm", 2)], ids=["gru-1", "gru-2", "lstm-2"])
def rnn(request, feats):
    """A model (weights scaled so gates saturate) and its int8 QuantModel."""
    return make_quant(*request.param, 8, feats)


def op_names(blob: bytes) -> set[str]:
    s = schema()
    names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    m = s.Model.GetRootAs(blob, 0)
    return {names[max(m.OperatorCodes(i).BuiltinCode(), m.OperatorCodes(i).DeprecatedBuiltinCode())]
            for i in range(m.OperatorCodesLength())}


def test_graphs_use_builtin_ops_and_carry_kwsdk_metadata(rnn):
    _, q = rnn
    blob = quantized_tflite(q, meta={"note": "x"})
    lstm = q.cell == "lstm"
    assert op_names(blob) == BUILTINS - {"SUB"} | {"QUANTIZE"} if lstm else BUILTINS
    ins, outs, meta = read_model(blob)
    states = [f"{v}{i}" for v in ("hc" if lstm else "h") for i in range(len(q.layers))]
    assert ins == ["features", *states] and outs == ["scores", *[s + "_next" for s in states]]
    assert meta["categories"] == q.categories and meta["cell"] == q.cell and meta["note"] == "x"
    assert meta["feature_frac"] == q.feature_frac


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_16x8_agrees_with_kwsdk_integer_model(rnn, feats, runtime):
    """Same weights and scales; TFLite's own activations and int16 rounding
    make the posteriors differ by a little, never the decisions much."""
    _, q = rnn
    step = TfliteStep(quantized_tflite(q), runtime)
    assert step.quantized and step.categories == q.categories
    diffs, agree = [], []
    for clip in feats:
        step.reset()
        ours = IntModel(q, 1).run(clip[None])[0]
        theirs = step.run(clip)
        diffs.append(np.abs(theirs - ours).max())
        agree.append((theirs.argmax(1) == ours.argmax(1)).mean())
    assert max(diffs) <= 0.02 * 32768, max(diffs)
    assert np.mean(agree) >= 0.97, np.mean(agree)


def test_litert_and_tflm_run_the_same_graph(rnn, feats):
    _, q = rnn
    blob = quantized_tflite(q)
    a, b = TfliteStep(blob, "litert"), TfliteStep(blob, "tflm")
    pa, pb = a.run(feats[0]), b.run(feats[0])
    assert np.abs(pa - pb).max() <= 0.005 * 32768
    per_layer = 2 if q.cell == "lstm" else 1
    assert [[x.shape for x in s] for s in a.state] == [[(1, q.hidden)] * per_layer] * len(q.layers)
    a.reset()
    assert not any(s[0].any() for s in a.state)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_float_graph_matches_pytorch(rnn, feats, runtime):
    model, q = rnn
    step = TfliteStep(float_tflite(float_weights(model, q.categories), q.feature_frac), runtime)
    assert not step.quantized
    x = feats[1]
    with torch.no_grad():
        ref = torch.softmax(model(torch.from_numpy(x[None] / 1024.0).float())[0][0], -1).numpy()
    # The runner returns q15; one q15 step is 3e-5.
    assert np.abs(step.run(x) / 32768.0 - ref).max() <= 1e-4


def test_int16_weights_are_refused(feats):
    _, wide = make_quant("gru", 1, 16, feats)
    with pytest.raises(ValueError, match="int8"):
        quantized_tflite(wide)


def test_not_a_kwsdk_model(tmp_path):
    with pytest.raises(ValueError, match="not a TFLite model"):
        TfliteStep(b"\x00" * 64)
    bad = tmp_path / "x.tflite"
    bad.write_bytes(b"garbage" * 20)
    with pytest.raises(ConfigError, match="x.tflite"):
        TfliteDetector(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        TfliteDetector(tmp_path / "missing.tflite")


def test_export_tflite_folder(qrun, tmp_path):
    out = tmp_path / "tfl"
    res = json.loads(kwsdk("export", "--run", qrun, "--target", "tflite", "--out", out, "--json").stdout)
    meta = json.loads((out / "kws_meta.json").read_text())
    assert sorted(meta["files"]) == sorted(str(p.relative_to(out)) for p in out.rglob("*")
                                           if p.is_file() and p.name != "kws_meta.json")
    assert res["tflite_bytes_16x8"] == (out / "kws_16x8.tflite").stat().st_size
    assert (out / "frontend" / "kws_frontend.c").exists()
    readme = (out / "README.md").read_text()
    assert readme.startswith("<!-- generated by kwsdk") and "kws_frontend_feed" in readme
    assert meta["detector"] == {**LOW, "clip_floor": CLIP_FLOOR}
    for name in ("kws_16x8.tflite", "kws_float.tflite"):
        for runtime in RUNTIMES:
            step = TfliteStep(out / name, runtime)
            assert step.meta["detector"] == meta["detector"]
    # The export folder is reused: the same command overwrites it.
    kwsdk("export", "--run", qrun, "--target", "tflite", "--out", out, "--json")
    p = kwsdk("export", "--run", qrun, "--target", "tflite", "--cpu", "cortex-m4", "--out", tmp_path / "x",
              check=False)
    assert p.returncode != 0 and "--target tflite takes no" in p.stderr


def test_export_tflite_needs_float_weights(qrun, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(qrun, run)
    (run / "quant" / "model_float.npz").unlink()
    p = kwsdk("export", "--run", run, "--target", "tflite", "--out", tmp_path / "o", check=False)
    assert p.returncode != 0 and "re-run kwsdk quantize" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_verify_with_tflite_runtimes(qrun, runtime):
    p = kwsdk("verify", "--run", qrun, "--data", SAMPLE, "--target", runtime, "--json", "--quiet",
              "--stream-minutes", "0.5", "--cache-dir", qrun.parent / "cache", check=False)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout)
    assert r["target"] == runtime and r["n_clips"] > 0
    assert r["agreement_c"] >= 0.98 and r["max_score_diff_c"] <= 0.02
    assert r["float_model_max_diff_pytorch"] <= 1e-4
    assert r["events_matched"] >= 0.9 * max(r["events_c"], 1) and abs(r["events_c"] - r["events_tflite"]) <= 2


def test_daemon_runs_a_tflite_model_like_the_library(qrun, tmp_path, sample_clips):
    from kwsdk.audio import write_wav

    kwsdk("export", "--run", qrun, "--target", "tflite", "--out", tmp_path / "tfl")
    kwsdk("export", "--run", qrun, "--out", tmp_path / "lib")
    words = [p for name, p in sample_clips if not name.startswith("_")][:6]
    pcm = np.concatenate([np.concatenate([w, np.zeros(8000, np.int16)]) for w in words])
    write_wav(tmp_path / "s.wav", pcm / 32768.0)
    events = {}
    for name, model in (("tfl", tmp_path / "tfl" / "kws_16x8.tflite"), ("lib", tmp_path / "lib")):
        p = kwsdk("daemon", "--model", model, "--source", f"wav:{tmp_path / 's.wav'}")
        events[name] = [json.loads(line) for line in p.stdout.splitlines()]
    assert events["lib"], "the low detector should fire on six words"
    assert [e["keyword"] for e in events["tfl"]] == [e["keyword"] for e in events["lib"]]
    for a, b in zip(events["tfl"], events["lib"]):
        assert abs(a["time"] - b["time"]) <= 0.1 and abs(a["score"] - b["score"]) <= 0.02


def test_tflite_detector_threshold_and_reset(qrun, tmp_path, sample_clips):
    kwsdk("export", "--run", qrun, "--target", "tflite", "--out", tmp_path / "tfl")
    det = TfliteDetector(tmp_path / "tfl" / "kws_16x8.tflite")
    words = np.concatenate([p for name, p in sample_clips if not name.startswith("_")][:6])
    first = det.process(words)
    det.reset()
    assert det.process(words) == first
    for k in det.categories:
        if not k.startswith("_"):
            det.set_threshold(k, 1.0)  # q15 sums never reach 32768 per frame
    det.reset()
    assert det.process(words) == []
    with pytest.raises(ConfigError, match="no keyword"):
        det.set_threshold("_silence_", 0.5)
