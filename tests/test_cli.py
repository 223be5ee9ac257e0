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


def test_choice_lists_come_from_the_definitions_and_need_no_torch():
    """--target, --cpu, --arch and the like are built from the cores, Pi
    builds, runtimes and presets kwsdk defines; the parser needs no torch."""
    import subprocess
    import sys

    from kwsdk.cli import build_parser
    from kwsdk.config import FEATURE_PRESETS, MODEL_PRESETS
    from kwsdk.mcu import CPUS
    from kwsdk.rpi import ARCHES

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices

    def choices(command, dest):
        return next(a.choices for a in sub[command]._actions if a.dest == dest)

    assert choices("export", "cpu") == list(CPUS) and choices("export", "arch") == list(ARCHES)
    assert set(choices("verify", "target")) >= {c for c in CPUS if CPUS[c].board} | {f"rpi-{a}" for a in ARCHES}
    assert "cortex-m33" not in choices("verify", "target")  # no QEMU board: report only
    assert set(choices("report", "target")) >= set(CPUS)
    assert choices("train", "preset") == sorted(FEATURE_PRESETS)
    assert choices("train", "model_preset") == sorted(MODEL_PRESETS)
    code = ("import sys\nclass B:\n    def find_spec(self, n, p=None, t=None):\n"
            "        if n.split('.')[0] == 'torch': raise ImportError(n)\nsys.meta_path.insert(0, B())\n"
            "from kwsdk.cli import build_parser\nbuild_parser()\nprint('PASS')")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "PASS" in p.stdout, p.stderr[-1000:]
