"""`kwsdk daemon` end to end: an exported library, a long wav stream of test
clips, events as JSON lines equal to the pipeline reference's, torch blocked
from import, and clear errors for a bad model folder or source."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from kwsdk.config import DetectorConfig, RunConfig
from kwsdk.pipeline import IntPipeline
from kwsdk.qmodel.model import QuantModel
from tests.helpers import LOW, SAMPLE, kwsdk

# Runs the CLI with torch made unimportable (an import hook that refuses it;
# a None in sys.modules would trip scipy's own torch probe): the daemon must
# not need it.
NO_TORCH = """
import sys
class BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is blocked in this test")
sys.meta_path.insert(0, BlockTorch())
from kwsdk.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def exported(qrun, tmp_path_factory):
    out = tmp_path_factory.mktemp("daemon") / "export"
    kwsdk("export", "--run", qrun, "--out", out)
    return out


def _stream(tmp_path, words: bool) -> tuple:
    rng = np.random.default_rng(3)
    parts = []
    folders = sorted(p for p in SAMPLE.iterdir() if p.is_dir() and (not p.name.startswith("_")) == words
                     and p.name != "_background_noise_")
    for f in folders:
        for w in sorted(f.glob("*.wav"))[:3]:
            parts += [sf.read(str(w), dtype="int16")[0], np.zeros(int(rng.integers(4000, 12000)), np.int16)]
    pcm = np.concatenate(parts)
    path = tmp_path / "stream.wav"
    sf.write(str(path), pcm, 16000, subtype="PCM_16")
    return path, pcm


@pytest.mark.parametrize("words", [True, False], ids=["keywords", "silence-and-noise"])
def test_events_equal_reference_without_torch(words, exported, qrun, tmp_path):
    path, pcm = _stream(tmp_path, words)
    p = subprocess.run([sys.executable, "-c", NO_TORCH, "daemon", "--model", str(exported), "--source",
                        f"wav:{path}"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    events = [json.loads(line) for line in p.stdout.splitlines()]
    cfg = RunConfig.load(qrun / "config.json")
    q = QuantModel.load(qrun / "quant" / "model_q.npz")
    ref = IntPipeline(cfg.features, cfg.vad, q, DetectorConfig(**LOW)).run(pcm)
    assert [(e["index"], e["time"]) for e in events] == [(r.keyword, r.sample / 16000) for r in ref.events]
    assert all(set(e) == {"keyword", "index", "score", "time"} for e in events)
    if words:
        assert len(events) > 3


def test_frame_posteriors_equal_reference(exported, qrun, tmp_path):
    """Every frame's posteriors read from the library (what benchmarks score)
    are the integer reference's, and the stream's events still come after."""
    from kwsdk.daemon.backends import KwsLibrary

    _, pcm = _stream(tmp_path, True)
    lib = KwsLibrary(exported)
    got = lib.frame_posteriors(pcm[:40000])
    cfg = RunConfig.load(qrun / "config.json")
    q = QuantModel.load(qrun / "quant" / "model_q.npz")
    ref = IntPipeline(cfg.features, cfg.vad, q, DetectorConfig(**LOW)).run(pcm[:40000])
    assert got.shape == ref.posteriors.shape == (40000 // 320, len(lib.categories))
    np.testing.assert_array_equal(got, ref.posteriors)


def test_stdin_source_and_errors(exported, tmp_path):
    path, pcm = _stream(tmp_path, True)
    p = subprocess.run([sys.executable, "-m", "kwsdk.cli", "daemon", "--model", str(exported), "--source", "stdin"],
                       input=pcm.astype("<i2").tobytes(), capture_output=True, timeout=300)
    by_wav = kwsdk("daemon", "--model", exported, "--source", f"wav:{path}")
    assert p.returncode == 0 and p.stdout.decode() == by_wav.stdout
    bad = kwsdk("daemon", "--model", tmp_path, "--source", "stdin", check=False)
    assert bad.returncode == 2 and "kws_meta.json" in bad.stderr
    bad = kwsdk("daemon", "--model", exported, "--source", "nosuch:x", check=False)
    assert bad.returncode == 2 and "unknown source" in bad.stderr
    # No audio device exists here: a named microphone that was never there is
    # a clear error at start, not an endless reconnect.
    bad = kwsdk("daemon", "--model", exported, "--source", "mic:nope", check=False)
    assert bad.returncode == 2 and "no input device 'nope'" in bad.stderr
    assert kwsdk("daemon", "--list-devices").returncode == 0


def test_commands_without_shell_and_socket(exported, qrun, tmp_path):
    import os
    import socket
    import stat
    import time

    _, pcm = _stream(tmp_path, True)
    cats = (qrun / "categories.txt").read_text().split()
    log, pwned = tmp_path / "heard.txt", tmp_path / "PWNED"
    script = f"import os; open({str(log)!r}, 'a').write(os.environ['KWS_KEYWORD'] + ' ' + os.environ['KWS_TIME'] + '\\n')"
    sock = tmp_path / "kws.sock"
    cfg = {"commands": {w: [sys.executable, "-c", script, f"; touch {pwned}"] for w in cats if not w.startswith("_")},
           "socket": str(sock)}
    (tmp_path / "daemon.json").write_text(json.dumps(cfg))
    p = subprocess.Popen([sys.executable, "-m", "kwsdk.cli", "daemon", "--model", str(exported), "--source", "stdin",
                          "--config", str(tmp_path / "daemon.json")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    for _ in range(200):
        if sock.exists():
            break
        time.sleep(0.05)
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(str(sock))
    out, err = p.communicate(pcm.astype("<i2").tobytes(), timeout=300)
    assert p.returncode == 0, err.decode()[-2000:]
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    events = out.decode().splitlines()
    assert len(events) > 3 and received.decode().splitlines() == events
    heard = sorted(log.read_text().splitlines())
    assert heard == sorted(f"{json.loads(e)['keyword']} {json.loads(e)['time']:.3f}" for e in events)
    assert not pwned.exists() and not sock.exists()  # no shell ran; the socket is removed


def test_bad_config_is_a_clear_error(exported, tmp_path):
    (tmp_path / "c.json").write_text(json.dumps({"commands": {"yes": "rm -rf /"}}))
    bad = kwsdk("daemon", "--model", exported, "--source", "stdin", "--config", tmp_path / "c.json", check=False)
    assert bad.returncode == 2 and "list of strings" in bad.stderr
    (tmp_path / "c.json").write_text(json.dumps({"thresholds": {"banana": 0.5}}))
    bad = kwsdk("daemon", "--model", exported, "--source", "stdin", "--config", tmp_path / "c.json", check=False)
    assert bad.returncode == 2 and "banana" in bad.stderr


def test_service_files_are_shipped():
    from kwsdk.shipped import shipped_dir

    rpi = shipped_dir("targets/rpi")
    unit = (rpi / "kwsdk-daemon.service").read_text()
    assert "Restart=always" in unit and "User=kwsdk" in unit and "Group=audio" in unit
    json.loads((rpi / "daemon.json").read_text())


def test_microphone_loss_and_overrun_with_an_injected_source(exported, qrun, tmp_path):
    """A live source that drops out, fails to reopen once, then overruns: the
    daemon reconnects (counted), resets the pipeline at each gap and keeps
    event times on the stream's clock."""
    from kwsdk.daemon import run
    from kwsdk.daemon.sources import Overrun, Reconnecting

    _, pcm = _stream(tmp_path, True)
    segments = np.array_split(pcm, 3)
    # (audio or None for a failed open, how the opened stream ends)
    script = [(segments[0], OSError("unplugged")), (None, OSError("no device")), (segments[1], Overrun()),
              (segments[2], None)]
    calls, done = [], [False]

    def opener():
        audio, end = script[len(calls)]
        calls.append(audio is not None)
        if audio is None:
            raise end

        def chunks():
            parts = [audio[i : i + 1600] for i in range(0, len(audio), 1600)]
            for i, part in enumerate(parts):
                done[0] = end is None and i == len(parts) - 1  # the last chunk of the script
                yield part
            if end is not None:
                raise end
        return chunks()

    src = Reconnecting(opener, sleep=lambda s: None, log=lambda m: None)
    src.stop = lambda: done[0]
    events = []
    run(exported, src, emit=events.append)
    assert src.reconnects == 1 and src.overruns == 1 and calls == [True, False, True, True]
    cfg = RunConfig.load(qrun / "config.json")
    q = QuantModel.load(qrun / "quant" / "model_q.npz")
    pipe = IntPipeline(cfg.features, cfg.vad, q, DetectorConfig(**LOW))
    want, offset = [], 0
    for seg in segments:
        pipe.reset()
        want += [(r.keyword, (offset + r.sample) / 16000) for r in pipe.run(seg).events]
        offset += len(seg)
    assert [(e["index"], e["time"]) for e in events] == want and len(want) > 3


def test_memory_stays_flat_over_a_long_run(exported):
    """An hour of audio through the daemon loop: resident memory after a
    warm-up minute does not grow (no per-frame or per-event accumulation)."""
    import resource

    from kwsdk.daemon import run

    rng = np.random.default_rng(0)
    noise = (rng.normal(0, 2000, 16000 * 10)).astype(np.int16)
    rss = []

    def rss_kb() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() // 1024

    def source():
        for minute in range(60):
            for i in range(0, 16000 * 60, 1600):
                yield noise[i % len(noise) : i % len(noise) + 1600]
            rss.append(rss_kb())

    run(exported, source(), emit=lambda e: None)
    assert len(rss) == 60 and rss[-1] - rss[1] < 2048, rss


def test_refractory_from_flag_and_config(exported, qrun, tmp_path):
    """The refractory period set at run time (kws_set_refractory) gives the
    reference's events for that period; the flag wins over the config."""
    path, pcm = _stream(tmp_path, True)
    cfg = RunConfig.load(qrun / "config.json")
    q = QuantModel.load(qrun / "quant" / "model_q.npz")
    counts = {}
    for seconds in (0.1, 2.0):
        p = kwsdk("daemon", "--model", exported, "--source", f"wav:{path}", "--refractory", seconds)
        events = [json.loads(line) for line in p.stdout.splitlines()]
        ref = IntPipeline(cfg.features, cfg.vad, q, DetectorConfig(**{**LOW, "refractory_s": seconds})).run(pcm)
        assert [(e["index"], e["time"]) for e in events] == [(r.keyword, r.sample / 16000) for r in ref.events]
        counts[seconds] = len(events)
    assert counts[0.1] > counts[2.0] > 0
    (tmp_path / "d.json").write_text(json.dumps({"refractory_s": 2.0}))
    by_config = kwsdk("daemon", "--model", exported, "--source", f"wav:{path}", "--config", tmp_path / "d.json")
    assert len(by_config.stdout.splitlines()) == counts[2.0]
    both = kwsdk("daemon", "--model", exported, "--source", f"wav:{path}", "--config", tmp_path / "d.json",
                 "--refractory", "0.1")
    assert len(both.stdout.splitlines()) == counts[0.1]
    (tmp_path / "d.json").write_text(json.dumps({"refractory_s": "long"}))
    bad = kwsdk("daemon", "--model", exported, "--source", "stdin", "--config", tmp_path / "d.json", check=False)
    assert bad.returncode == 2 and "refractory_s" in bad.stderr


def test_sigterm_during_detection_stops_cleanly(exported, tmp_path):
    """SIGTERM while audio is still flowing: exit status 0, events so far
    printed, the socket removed."""
    import signal
    import time

    _, pcm = _stream(tmp_path, True)
    sock = tmp_path / "kws.sock"
    (tmp_path / "d.json").write_text(json.dumps({"socket": str(sock)}))
    p = subprocess.Popen([sys.executable, "-m", "kwsdk.cli", "daemon", "--model", str(exported), "--source", "stdin",
                          "--config", str(tmp_path / "d.json")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    data = pcm.astype("<i2").tobytes()
    p.stdin.write(data[: len(data) // 2])
    p.stdin.flush()
    for _ in range(200):
        if sock.exists():
            break
        time.sleep(0.05)
    time.sleep(0.5)  # let it detect on what it has
    p.send_signal(signal.SIGTERM)
    try:  # audio keeps coming, as from a microphone: the daemon stops at its next chunk
        p.stdin.write(data[len(data) // 2 :])
        p.stdin.close()
    except BrokenPipeError:  # it already has
        pass
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err.decode()[-2000:]
    assert all(set(json.loads(line)) == {"keyword", "index", "score", "time"} for line in out.decode().splitlines())
    assert not sock.exists()
