"""Two worlds, one boundary: what runs on a device (the daemon with both
backends, detector, pipeline, frontend, integer model, export loading,
audio, data fetching) imports neither torch nor a training module."""

from __future__ import annotations

import subprocess
import sys

RUNTIME = ["kwsdk.daemon", "kwsdk.detector", "kwsdk.pipeline", "kwsdk.audio", "kwsdk.audiocache", "kwsdk.streams",
           "kwsdk.shipped", "kwsdk.fixedpoint", "kwsdk.config",
           "kwsdk.fetch", "kwsdk.negatives", "kwsdk.data", "kwsdk.tflite.runtime", "kwsdk.frontend.integer",
           "kwsdk.frontend.features", "kwsdk.frontend.vad", "kwsdk.qmodel.model", "kwsdk.qmodel.rnn",
           "kwsdk.qmodel.linear", "kwsdk.qmodel.act", "kwsdk.qmodel.softmax"]
TRAINING = ["torch", "kwsdk.train", "kwsdk.evaluate", "kwsdk.models", "kwsdk.quantize", "kwsdk.onnx_export",
            "kwsdk.augment", "kwsdk.synth"]

BLOCK = """
import importlib, sys
BLOCKED = {blocked!r}
class Block:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"{{name}} is blocked: a runtime module may not import it")
sys.meta_path.insert(0, Block())
for m in {modules!r}:
    importlib.import_module(m)
from kwsdk.daemon import load_model  # both backends: the library and the .tflite one
print("PASS")
"""


def test_runtime_modules_import_without_torch_or_training_code():
    p = subprocess.run([sys.executable, "-c", BLOCK.format(blocked=TRAINING, modules=RUNTIME)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "PASS" in p.stdout, p.stderr[-2000:]


def test_the_block_catches_a_training_import():
    """The check fails when a runtime module does pull training code in."""
    p = subprocess.run([sys.executable, "-c", BLOCK.format(blocked=TRAINING, modules=["kwsdk.train"])],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode != 0 and "is blocked" in p.stderr
