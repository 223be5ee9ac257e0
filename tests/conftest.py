"""Shared fixtures of the integer frontend tests: the frontend configurations,
their C builds (once per session), the shipped speech sample, the test
signals every stage is checked on, and the reference's per-stage values."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import kwsdk
from kwsdk.config import feature_preset
from kwsdk.codegen.cfrontend import CFrontend, HostIntegerFrontend, build_driver
from kwsdk.frontend.integer import IntegerFrontend

C_DIR = Path(__file__).parent / "c"  # C test drivers
SAMPLE_DIR = Path(kwsdk.__file__).parent / "sample_data" / "speech_commands_sample"
DEV_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "speech_commands_dev"

# "mfcc" is the only one with the DCT stage.
FRONTEND_CONFIGS = {
    "default": feature_preset("default"),
    "ell": feature_preset("ell"),
    "mfcc": dataclasses.replace(feature_preset("default"), n_mfcc=13),
}

SIGNAL_KINDS = ["random", "silence", "square", "clipped", "tiny", "speech"]


@pytest.fixture(params=sorted(FRONTEND_CONFIGS))
def fe_name(request) -> str:
    """Runs a test once per frontend configuration; a test narrows it with
    @pytest.mark.parametrize("fe_name", [...])."""
    return request.param


@pytest.fixture
def frontend_cfg(fe_name):
    return FRONTEND_CONFIGS[fe_name]


@pytest.fixture(scope="session")
def frontend_configs() -> dict:
    return FRONTEND_CONFIGS


@pytest.fixture(params=SIGNAL_KINDS)
def signal_kind(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def int_frontends() -> dict[str, HostIntegerFrontend]:
    return {name: HostIntegerFrontend(cfg) for name, cfg in FRONTEND_CONFIGS.items()}


@pytest.fixture(scope="session")
def c_frontends(tmp_path_factory) -> dict[str, CFrontend]:
    return {name: CFrontend(cfg, tmp_path_factory.mktemp(f"cfrontend-{name}"))
            for name, cfg in FRONTEND_CONFIGS.items()}


@pytest.fixture(scope="session")
def sanitizer_drivers(tmp_path_factory) -> dict[str, Path]:
    """The stdio test driver under ASan + UBSan, per configuration."""
    return {name: build_driver(cfg, tmp_path_factory.mktemp(f"driver-san-{name}"), sanitize=True)
            for name, cfg in FRONTEND_CONFIGS.items()}


def read_pcm16(path: Path) -> np.ndarray:
    pcm, sr = sf.read(str(path), dtype="int16")
    assert sr == 16000 and pcm.ndim == 1, path
    return pcm


@lru_cache(maxsize=1)
def _sample_clips() -> tuple[tuple[str, np.ndarray], ...]:
    files = sorted(SAMPLE_DIR.glob("*/*.wav"))
    assert len(files) > 200, f"shipped sample incomplete: {len(files)} wavs in {SAMPLE_DIR}"
    return tuple((f"{f.parent.name}/{f.name}", read_pcm16(f)) for f in files)


@pytest.fixture(scope="session")
def sample_clips() -> tuple[tuple[str, np.ndarray], ...]:
    """(folder/name, int16 PCM) of every wav of the shipped sample, sorted."""
    return _sample_clips()


@pytest.fixture(scope="session")
def dev_data() -> Path:
    """../shared/data/speech_commands_dev; skips the test when absent."""
    if not DEV_DATA.is_dir():
        pytest.skip(f"{DEV_DATA} not present")
    return DEV_DATA


@pytest.fixture(scope="session")
def dev_clips(dev_data) -> list[tuple[str, np.ndarray]]:
    """(dev/folder/name, int16 PCM) of every 9th wav of the dev set: about
    300 clips from every folder, deterministic."""
    files = sorted(dev_data.glob("*/*.wav"))[::9]
    assert len(files) > 250, f"{dev_data}: only {len(files)} clips sampled"
    return [(f"dev/{f.parent.name}/{f.name}", read_pcm16(f)) for f in files]


def _square(n: int, period: int, phase: int = 0) -> np.ndarray:
    return np.where(((np.arange(n) + phase) // (period // 2 or 1)) % 2 == 0, 32767, -32768).astype(np.int16)


@lru_cache(maxsize=1)
def _signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(20240611)
    n = 12000  # not a multiple of either hop
    words = [pcm for name, pcm in _sample_clips() if not name.startswith("_")]
    speech = np.concatenate([words[i] for i in range(0, len(words), 9)])
    sq = np.concatenate([_square(1000, p, p // 3) for p in (2, 6, 16, 50, 334, 1000)]
                        + [np.full(1000, 32767, np.int16), np.full(1000, -32768, np.int16)])
    tiny = rng.integers(-2, 3, n).astype(np.int16)
    tiny[: n // 2] *= rng.random(n // 2) < 0.01  # sparse: a lone +-1 or +-2 in a near-silent frame
    return {
        "random": rng.integers(-32768, 32768, n).astype(np.int16),
        "silence": np.zeros(n, np.int16),
        "square": sq,
        # speech driven 30x into the rails: 28% of samples in runs of +32767 / -32768
        "clipped": np.clip(speech[:n].astype(np.int64) * 30, -32768, 32767).astype(np.int16),
        "tiny": tiny,
        "speech": speech,
    }


@pytest.fixture(scope="session")
def signals() -> dict[str, np.ndarray]:
    """kind -> int16 PCM; every stage and the streaming frontend see all kinds."""
    return _signals()


def _frames(pcm: np.ndarray, win: int, hop: int) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(pcm, win)[::hop].copy()


@lru_cache(maxsize=None)
def _reference_stages(name: str, kind: str) -> dict[str, np.ndarray]:
    cfg = FRONTEND_CONFIGS[name]
    frames = _frames(_signals()[kind], cfg.window_size, cfg.hop_size)
    if kind == "silence":
        frames = frames[:4]  # all identical
    return IntegerFrontend(cfg).stages(frames)


@pytest.fixture
def ref_stages(fe_name, signal_kind) -> dict[str, np.ndarray]:
    """The integer reference's input and output of every stage, per frame,
    for the frames of one signal kind under one configuration."""
    return _reference_stages(fe_name, signal_kind)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A tiny model trained for a few steps on the shipped sample (a run folder)."""
    from tests.helpers import SAMPLE, kwsdk, tiny_config

    tmp = tmp_path_factory.mktemp("run")
    run = tmp / "run"
    kwsdk("train", "--data", SAMPLE, "--out", run, "--config", tiny_config(tmp), "--quiet",
          "--cache-dir", tmp / "cache")
    return run


@pytest.fixture(scope="session")
def qrun(tiny_run, tmp_path_factory):
    """The tiny run, quantized (int8), with a detector that fires often."""
    import json
    import shutil

    from tests.helpers import LOW, SAMPLE, kwsdk

    run = tmp_path_factory.mktemp("qrun") / "run"
    shutil.copytree(tiny_run, run)
    (run / "detector.json").write_text(json.dumps(LOW))
    kwsdk("quantize", "--run", run, "--data", SAMPLE, "--quiet", "--cache-dir", run.parent / "cache")
    return run


# The fast tier (`pytest -m "not slow"`) leaves out every test that needs a
# trained run (the session's training and quantization) besides those marked
# slow by hand (emulators, wheel builds, training runs of their own).
RUN_FIXTURES = {"tiny_run", "qrun"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if RUN_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
