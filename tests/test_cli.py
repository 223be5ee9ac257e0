import json
import subprocess
import sys

import pytest

from kwsdk.cli import build_parser


@pytest.mark.parametrize("command", ["train", "eval", "synth", "demo", "frontend-check", "quantize", "export",
                                     "verify", "report", "daemon"])
def test_every_command_explains_itself(command):
    p = subprocess.run([sys.executable, "-m", "kwsdk.cli", command, "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    assert "usage: kwsdk " + command in p.stdout
    actions = build_parser()._subparsers._group_actions[0].choices[command]._actions
    for a in actions:  # every option has a help text or is self-explanatory by its choices
        assert a.help or a.choices, a.dest


@pytest.mark.slow
def test_synth_json_then_train_on_it(tmp_path):
    pytest.importorskip("shutil").which("espeak-ng") or pytest.skip("espeak-ng not installed")
    out = tmp_path / "words"
    p = subprocess.run([sys.executable, "-m", "kwsdk.cli", "synth", "--words", "hey kiwi,lights on", "--count", "4",
                        "--out", str(out), "--json", "--quiet"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["clips_per_word"] == {"hey_kiwi": 4, "lights_on": 4}
    assert len(list((out / "hey_kiwi").glob("*.wav"))) == 4


def test_version():
    p = subprocess.run([sys.executable, "-m", "kwsdk.cli", "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("kwsdk ")


def test_progress_bars_only_for_work_that_takes_seconds(capsys, monkeypatch):
    import time

    from kwsdk import fileio

    for _ in fileio.progress_bar(range(256), desc="hashing"):
        pass
    assert capsys.readouterr().err == ""  # sub-second work: no bar
    monkeypatch.setattr(fileio, "PROGRESS_DELAY_S", 0.05)
    for _ in fileio.progress_bar(range(3), desc="slow"):
        time.sleep(0.05)
    assert "slow" in capsys.readouterr().err
