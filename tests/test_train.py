"""Tiny end-to-end training, evaluation, resume, DDP and ONNX parity on the shipped sample."""

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from kwsdk.config import RunConfig
from kwsdk.detector import CLIP_FLOORS
from tests.helpers import SAMPLE, kwsdk, tiny_config

# Every test here trains a model: the full tier only.
pytestmark = pytest.mark.slow


def accuracy_of(metrics: dict) -> float:
    """Accuracy from the confusion matrix: a second account of the same clips."""
    c = np.array(metrics["confusion"])
    return float(np.trace(c) / c.sum())


def test_run_folder_contents(tiny_run):
    for name in ("config.json", "categories.txt", "model.pt", "metrics.json", "model.onnx",
                 "detector.json", "data_report.json"):
        assert (tiny_run / name).is_file(), name
    assert not (tiny_run / "checkpoint.pt").exists()
    cats = (tiny_run / "categories.txt").read_text().split()
    assert cats == ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "_unknown_", "_silence_"]
    m = json.loads((tiny_run / "metrics.json").read_text())
    assert m["test_accuracy"] == pytest.approx(accuracy_of(m["test"])) and m["test"]["n"] > 10
    assert len(m["history"]) == 2
    det = json.loads((tiny_run / "detector.json").read_text())
    assert det["clip_floor"] == m["clip_floor"] and m["clip_floor"] in CLIP_FLOORS  # calibrated on val clips
    cfg = RunConfig.load(tiny_run / "config.json")  # the resolved config round-trips
    assert cfg.model.hidden == 16 and cfg.features.n_mels == 40


def test_eval_json_is_one_object(tiny_run, tmp_path):
    p = kwsdk("eval", "--run", tiny_run, "--data", SAMPLE, "--split", "test", "--json", "--quiet",
              "--cache-dir", tmp_path)
    res = json.loads(p.stdout)  # exactly one JSON object on stdout
    assert set(res) >= {"accuracy", "per_class", "n", "confusion"}
    assert res["accuracy"] == pytest.approx(accuracy_of(res)) and res["n"] == sum(res["counts"].values())
    assert Path(res["confusion_png"]).read_bytes()[:4] == b"\x89PNG"
    everything = json.loads(kwsdk("eval", "--run", tiny_run, "--data", SAMPLE, "--split", "all", "--json",
                                  "--quiet", "--cache-dir", tmp_path).stdout)
    assert everything["n"] > res["n"]


def test_eval_stream_json(tiny_run, tmp_path):
    p = kwsdk("eval", "--run", tiny_run, "--data", SAMPLE, "--split", "test", "--stream", "--minutes", "1",
              "--json", "--quiet", "--cache-dir", tmp_path)
    res = json.loads(p.stdout)
    assert res["keywords_spoken"] > 5 and res["recall"] == pytest.approx(res["hits"] / res["keywords_spoken"])
    assert res["false_accepts_per_hour"] == pytest.approx(res["false_accepts"] / res["stream_hours"])
    assert len(res["curve"]) > 10
    assert sum(res["false_accepts_by_cause"].values()) == res["false_accepts"]
    assert all(sum(c["false_accepts_by_cause"].values()) == round(c["false_accepts_per_hour"] * res["stream_hours"])
               for c in res["curve"])
    # The stream is built from every keyword and unknown-word clip of the split.
    counts = json.loads(kwsdk("eval", "--run", tiny_run, "--data", SAMPLE, "--split", "test", "--json", "--quiet",
                              "--cache-dir", tmp_path).stdout)["counts"]
    assert res["distinct_clips"] == {"keyword": sum(n for c, n in counts.items() if not c.startswith("_")),
                                     "unknown": counts["_unknown_"]}
    assert 0 < res["unknown_spoken"] < res["keywords_spoken"]
    assert res["snr_db"] == [5.0, 20.0]
    quiet = json.loads(kwsdk("eval", "--run", tiny_run, "--data", SAMPLE, "--stream", "--minutes", "1", "--snr", "none",
                             "--json", "--quiet", "--cache-dir", tmp_path).stdout)
    assert quiet["snr_db"] is None and quiet["keywords_spoken"] > 5
    for snr, why in (("20:5", "LO must not exceed HI"), ("inf:inf", "must be finite"), ("5", "expected LO:HI")):
        bad = kwsdk("eval", "--run", tiny_run, "--data", SAMPLE, "--stream", "--snr", snr, check=False)
        assert bad.returncode == 2 and why in bad.stderr


def test_stream_snr_range(tmp_path):
    from kwsdk.cli import STREAM_SNR, snr_range
    from kwsdk.data import load_dataset
    from kwsdk.evaluate import EVAL_AUGMENT, EVAL_SNR_DB, stream_builder
    from kwsdk.streams import stream_chunks

    assert snr_range(STREAM_SNR) == EVAL_SNR_DB and snr_range("none") is None
    cfg = RunConfig()
    ds = load_dataset(SAMPLE, cfg.data, progress=False, cache_dir=tmp_path)
    clips = ds.split("test")
    cats = cfg.data.keywords + ["_unknown_", "_silence_"]
    assert stream_builder(cfg, cats, clips, ds.noise).aug == EVAL_AUGMENT

    def stream(snr):
        return list(stream_chunks(stream_builder(cfg, cats, clips, ds.noise, snr), 120.0, seed=0))

    def gaps(chunks):
        """Mean power between the utterances' clips (where only noise can be)."""
        quiet = []
        for audio, placed in chunks:
            mask = np.ones(len(audio), bool)
            for p in placed:
                mask[max(0, p.onset - 16000) : p.offset + 16000] = False
            quiet.append(audio[mask].astype(np.float64) ** 2)
        return np.mean(np.concatenate(quiet))

    loud, quieter, silent = stream((0.0, 0.0)), stream((30.0, 30.0)), stream(None)
    # The same words at the same times whatever the noise, ...
    for a, b, c in zip(loud, quieter, silent):
        assert a[1] == b[1] == c[1]
    # ... with less noise between them at a higher SNR (not 30 dB less: each stream is
    # scaled to its peak, and _silence_ clips lie between the words too), and none
    # without noise: digital silence wherever no clip lies.
    assert gaps(loud) > 2 * gaps(quieter) > gaps(silent)
    assert np.mean(np.concatenate([a for a, _ in silent]) == 0) > 0.3
    assert np.mean(np.concatenate([a for a, _ in quieter]) == 0) < 0.01


def test_onnx_step_matches_pytorch(tiny_run):
    import onnxruntime as ort

    from kwsdk.onnx_export import io_names
    from kwsdk.models import load_model

    _, _, model = load_model(tiny_run)
    sess = ort.InferenceSession(str(tiny_run / "model.onnx"))
    names_in, _ = io_names(model)
    assert [i.name for i in sess.get_inputs()] == names_in
    rng = np.random.default_rng(0)
    feats = rng.normal(-5, 3, size=(60, model.n_features)).astype(np.float32)
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(feats[None]))
        want = torch.softmax(logits[0], -1).numpy()
    state = np.zeros((model.cfg.layers, 1, model.cfg.hidden), np.float32)
    for t in range(len(feats)):  # stream one frame at a time, carrying the state
        scores, state = sess.run(None, {"features": feats[t : t + 1], "state": state})
        assert np.abs(scores[0] - want[t]).max() <= 1e-4


def test_lstm_onnx_parity(tmp_path):
    import onnxruntime as ort

    from kwsdk.config import ModelConfig
    from kwsdk.models import KWSModel, StepModel
    from kwsdk.onnx_export import example_inputs, export_onnx, io_names

    model = KWSModel(40, 12, ModelConfig(cell="lstm", hidden=24, layers=3)).eval()
    export_onnx(model, tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(tmp_path / "m.onnx"))
    inputs = example_inputs(model, np.random.default_rng(1))
    with torch.no_grad():
        want = StepModel(model)(*inputs)
    got = sess.run(None, {n: t.numpy() for n, t in zip(io_names(model)[0], inputs)})
    for w, g in zip(want, got):
        assert np.abs(w.numpy() - g).max() <= 1e-4


def test_resume_after_kill_equals_uninterrupted(tiny_run, tmp_path):
    cfg = tiny_config(tmp_path, epochs=3, steps_per_epoch=12, calibrate_minutes=0.0)
    common = ["--data", SAMPLE, "--config", cfg, "--quiet", "--cache-dir", tmp_path / "cache"]
    kwsdk("train", "--out", tmp_path / "straight", *common)
    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "kwsdk.cli", "train", "--out", str(run), *map(str, common)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (run / "checkpoint.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (run / "checkpoint.pt").exists() and not (run / "metrics.json").exists()
    # Another config is refused; a saved config without a field that a later
    # kwsdk added (at its default) is the same config.
    changed = json.loads(Path(cfg).read_text())
    changed["train"]["seed"] = 5
    (tmp_path / "changed.json").write_text(json.dumps(changed))
    other = kwsdk("train", "--out", run, *common[:2], "--config", tmp_path / "changed.json", *common[4:], check=False)
    assert other.returncode == 2 and "different config" in other.stderr
    saved = json.loads((run / "config.json").read_text())
    del saved["stream"]["digital_silence_prob"]
    (run / "config.json").write_text(json.dumps(saved))
    p = kwsdk("train", "--out", run, *common)
    assert "resuming" in p.stderr
    a = torch.load(tmp_path / "straight" / "model.pt", weights_only=False)["state_dict"]
    b = torch.load(run / "model.pt", weights_only=False)["state_dict"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    # A finished run is never overwritten.
    again = kwsdk("train", "--out", run, *common, check=False)
    assert again.returncode == 2 and "already holds a finished run" in again.stderr


def test_ddp_two_processes(tmp_path):
    run = tmp_path / "ddp"
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29533",
                        "-m", "kwsdk.cli", "train", "--data", str(SAMPLE), "--out", str(run),
                        "--config", str(tiny_config(tmp_path, calibrate_minutes=0.0)), "--quiet",
                        "--cache-dir", str(tmp_path / "cache")],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    m = json.loads((run / "metrics.json").read_text())
    assert len(m["history"]) == 2 and (run / "model.onnx").exists()


def test_bad_config_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"model": {"hiden": 3}}))
    p = kwsdk("train", "--data", SAMPLE, "--out", tmp_path / "r", "--config", bad, check=False)
    assert p.returncode == 2
    assert p.stderr.strip().splitlines()[-1] == f"kwsdk: error: {bad}: model: unknown field 'hiden'"
    p = kwsdk("train", "--data", tmp_path / "nowhere", "--out", tmp_path / "r", check=False)
    assert p.returncode == 2 and "kwsdk: error:" in p.stderr and "Traceback" not in p.stderr


def test_eval_on_integer_frontend(tiny_run, tmp_path):
    """A float-trained model fed the device's integer features decides (almost) the same."""
    res = {}
    for fe in ("float", "integer"):
        p = kwsdk("eval", "--run", tiny_run, "--data", SAMPLE, "--split", "all", "--json", "--quiet",
                  "--frontend", fe, "--cache-dir", tmp_path)
        res[fe] = json.loads(p.stdout)
        assert res[fe]["frontend"] == fe
    n = res["float"]["n"]
    assert abs(res["float"]["accuracy"] - res["integer"]["accuracy"]) <= 2 / n


def test_train_on_integer_frontend(tmp_path):
    run = tmp_path / "run"
    kwsdk("train", "--data", SAMPLE, "--out", run, "--config", tiny_config(tmp_path, epochs=1), "--quiet",
          "--frontend", "integer", "--cache-dir", tmp_path / "cache")
    assert RunConfig.load(run / "config.json").features.frontend == "integer"
    # eval featurizes with the run's (integer) frontend and scores what training scored
    res = json.loads(kwsdk("eval", "--run", run, "--data", SAMPLE, "--split", "test", "--json", "--quiet",
                           "--cache-dir", tmp_path / "cache").stdout)
    assert res["accuracy"] == pytest.approx(json.loads((run / "metrics.json").read_text())["test_accuracy"])


def test_distillation_from_a_teacher(tiny_run, tmp_path):
    """A student distils from a trained run: the teacher is recorded as an
    absolute path; the loss is zero when the student equals the teacher at
    temperature 1 and grows when they differ; a teacher with other keywords
    or features is a one-line error."""
    from kwsdk.train import distill_loss

    run = tmp_path / "student"
    kwsdk("train", "--data", SAMPLE, "--out", run, "--config", tiny_config(tmp_path, epochs=1), "--quiet",
          "--hidden", "8", "--teacher", tiny_run, "--cache-dir", tmp_path / "cache")
    assert RunConfig.load(run / "config.json").train.teacher == str(Path(tiny_run).resolve())
    m = json.loads((run / "metrics.json").read_text())
    assert m["params"] < json.loads((tiny_run / "metrics.json").read_text())["params"]  # the student, 8 wide
    x = torch.randn(2, 5, 4)
    assert float(distill_loss(x, x, 1.0)) < 1e-6 < float(distill_loss(x, x.flip(-1), 1.0))
    p = kwsdk("train", "--data", SAMPLE, "--out", tmp_path / "other", "--config", tiny_config(tmp_path, epochs=1),
              "--keywords", "yes,left", "--teacher", tiny_run, "--quiet", "--cache-dir", tmp_path / "cache",
              check=False)
    assert p.returncode == 2 and "categories" in p.stderr.splitlines()[-1] and "Traceback" not in p.stderr
    p = kwsdk("train", "--data", SAMPLE, "--out", tmp_path / "ell", "--config", tiny_config(tmp_path, epochs=1),
              "--preset", "ell", "--teacher", tiny_run, "--quiet", "--cache-dir", tmp_path / "cache", check=False)
    assert p.returncode == 2 and "other features" in p.stderr and "Traceback" not in p.stderr


def test_prefetch_equals_calls_in_a_row():
    """The batch thread of kwsdk train: same items in the same order as calling
    in turn (so runs stay reproducible), its error raised in the caller, and
    the thread ends when the caller leaves early or raises."""
    from kwsdk.train import prefetch

    def draws(seed):
        rng = np.random.default_rng(seed)
        return lambda: rng.integers(0, 1000, 8)

    make = draws(3)
    want = [make() for _ in range(20)]
    with prefetch(draws(3), 20) as it:
        got = list(it)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(w, g)

    calls = []

    def failing():
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("bad batch")
        return len(calls)

    with prefetch(failing, 10) as it:
        assert [next(it), next(it)] == [1, 2]
        with pytest.raises(ValueError, match="bad batch"):
            next(it)

    before = threading.active_count()
    with pytest.raises(RuntimeError, match="step failed"):
        with prefetch(lambda: np.zeros(4), 1000, depth=2) as it:
            next(it)
            raise RuntimeError("step failed")
    assert threading.active_count() == before
    with prefetch(lambda: np.zeros(4), 1000, depth=2) as it:
        next(it)  # leaves after one of 1000
    assert threading.active_count() == before
