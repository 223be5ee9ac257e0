"""`kwsdk frontend-check` on the shipped sample and (extended) the dev set."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from kwsdk.config import feature_preset
from kwsdk.verify.frontend_check import frontend_check
from kwsdk.demo import sample_data_dir

SAMPLE_DIR = sample_data_dir()


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["default", "ell"])
def test_sample_meets_targets(preset, tmp_path):
    r = frontend_check(SAMPLE_DIR, feature_preset(preset), progress=False, build_dir=tmp_path)
    assert r["n_clips"] > 200 and r["skipped"] == []
    assert r["snr_db"] >= 50.0
    assert r["c_mismatches"] == 0
    assert r["vad_agreement"] >= 0.99
    assert r["worst_clip"]["file"] and r["worst_clip"]["snr_db"] <= r["snr_db"]


def test_cli_json_and_bad_files(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SAMPLE_DIR / "yes", data / "yes")
    (data / "yes" / "broken.wav").write_bytes(b"RIFF\x00\x00")
    p = subprocess.run([sys.executable, "-m", "kwsdk.cli", "frontend-check", "--data", str(data), "--json",
                        "--quiet"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["c_mismatches"] == 0 and r["noise_files"] == 0
    assert [s["file"] for s in r["skipped"]] == ["yes/broken.wav"]
    empty = subprocess.run([sys.executable, "-m", "kwsdk.cli", "frontend-check", "--data", str(tmp_path / "none")],
                           capture_output=True, text=True)
    assert empty.returncode == 2 and "no .wav clips" in empty.stderr


@pytest.mark.slow
@pytest.mark.extended
def test_dev_set_meets_targets(dev_data, tmp_path):
    r = frontend_check(dev_data, feature_preset("default"), progress=False, build_dir=tmp_path)
    assert r["n_clips"] > 2000
    assert r["snr_db"] >= 50.0 and r["c_mismatches"] == 0 and r["vad_agreement"] >= 0.99
