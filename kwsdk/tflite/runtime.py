"""Runs an exported streaming-step .tflite frame by frame, with LiteRT
(`ai_edge_litert`, or `tflite_runtime` where only that is installed) or the
TFLite Micro Python interpreter (`tflite_micro`).

The caller feeds the integer frontend's int16 features; the runner carries
the recurrent state between calls and returns q15 posteriors (int) for
both model variants, so the detector and every comparison see one format.
Device-safe: numpy and the runtime only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kwsdk.detector import keyword_index, refractory_frames

RUNTIMES = ("litert", "tflm")


def _litert_interpreter(model: bytes):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError as e:
            raise ImportError("the litert runtime needs ai-edge-litert (or tflite-runtime): "
                              "pip install 'kwsdk[tflite]'") from e
    return Interpreter(model_content=model, num_threads=1)


def read_model(model: bytes) -> tuple[list[str], list[str], dict]:
    """Names of the main subgraph's input and output tensors, and the kwsdk
    metadata entry ({} when absent)."""
    from kwsdk.tflite.builder import schema
    from kwsdk.tflite.model import METADATA

    try:
        m = schema().Model.GetRootAs(model, 0)
        sg = m.Subgraphs(0)
        ins = [sg.Tensors(sg.Inputs(i)).Name().decode() for i in range(sg.InputsLength())]
        outs = [sg.Tensors(sg.Outputs(i)).Name().decode() for i in range(sg.OutputsLength())]
        meta = {}
        for i in range(m.MetadataLength()):
            if m.Metadata(i).Name().decode() == METADATA:
                meta = json.loads(m.Buffers(m.Metadata(i).Buffer()).DataAsNumpy().tobytes())
    except Exception as e:  # a flatbuffer that does not parse fails anywhere inside
        raise ValueError("not a TFLite model (its flatbuffer does not parse)") from e
    return ins, outs, meta


class TfliteStep:
    """A kwsdk .tflite streaming step (inputs features, h0.. (and c0.. for an
    LSTM); outputs scores, h0_next.. (c0_next..); kwsdk metadata), with
    IntModel's interface: categories, cell, reset(), step(), state."""

    def __init__(self, model: bytes | Path, runtime: str = "litert"):
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown TFLite runtime {runtime!r} ({', '.join(RUNTIMES)})")
        self.model = Path(model).read_bytes() if isinstance(model, (str, Path)) else bytes(model)
        self.runtime = runtime
        in_names, out_names, self.meta = read_model(self.model)
        if "categories" not in self.meta:
            raise ValueError("not a kwsdk model (no kwsdk metadata; export it with kwsdk export --target tflite)")
        self.categories, self.cell = list(self.meta["categories"]), self.meta["cell"]
        self.feature_frac = int(self.meta["feature_frac"])
        if runtime == "litert":
            it = self.it = _litert_interpreter(self.model)
            it.allocate_tensors()
            by_name = {d["name"]: d for d in it.get_input_details() + it.get_output_details()}
            self.inputs = {n: by_name[n] for n in in_names}
            self.outputs = {n: by_name[n] for n in out_names}
        else:
            try:
                from tflite_micro.python.tflite_micro import runtime as tflm
            except ImportError as e:
                raise ImportError("the tflm runtime needs tflite-micro: pip install 'kwsdk[tflite]'") from e
            it = self.it = tflm.Interpreter.from_bytes(self.model)
            # TFLM's details carry no names: inputs and outputs go by position.
            self.inputs = {n: {**it.get_input_details(i), "index": i} for i, n in enumerate(in_names)}
            self.outputs = {n: {**it.get_output_details(i), "index": i} for i, n in enumerate(out_names)}
        names = in_names[1:]
        if in_names[:1] != ["features"] or out_names != ["scores"] + [f"{n}_next" for n in names]:
            raise ValueError("not a kwsdk streaming step: expected inputs features, h0.. and outputs scores, "
                             "h0_next..")
        self.state_names = names
        feat = self.inputs["features"]
        self.quantized = np.dtype(feat["dtype"]) == np.int16
        self.n_features = int(feat["shape"][-1])
        self.reset()

    def reset(self, batch: int = 1) -> None:
        if batch != 1:
            raise ValueError("a TFLite streaming step runs one stream (batch 1)")
        dtype = np.int16 if self.quantized else np.float32
        self._state = {n: np.zeros(self.inputs[n]["shape"], dtype) for n in self.state_names}

    @property
    def state(self) -> list[tuple[np.ndarray, ...]]:
        """Each layer's (h,) or (h, c), as IntModel.state has it."""
        layers = sum(1 for n in self.state_names if n.startswith("h"))
        return [tuple(self._state[f"{v}{i}"] for v in ("h", "c") if f"{v}{i}" in self._state) for i in range(layers)]

    def _set(self, name: str, value: np.ndarray) -> None:
        d = self.inputs[name]
        if self.runtime == "litert":
            self.it.set_tensor(d["index"], value)
        else:
            self.it.set_input(value, d["index"])

    def _get(self, name: str) -> np.ndarray:
        d = self.outputs[name]
        if self.runtime == "litert":
            return self.it.get_tensor(d["index"]).copy()
        return np.array(self.it.get_output(d["index"]), copy=True)

    def step(self, features: np.ndarray) -> np.ndarray:
        """int16 features (1, F) -> q15 posteriors (1, C) int64; the state advances."""
        x = np.asarray(features).reshape(1, -1)
        if x.shape[1] != self.n_features:
            raise ValueError(f"the model takes {self.n_features} features per frame, got {x.shape[1]}")
        self._set("features", x.astype(np.int16) if self.quantized
                  else (x / float(1 << self.feature_frac)).astype(np.float32))
        for n, v in self._state.items():
            self._set(n, v)
        self.it.invoke()
        self._state = {n: self._get(f"{n}_next") for n in self.state_names}
        scores = self._get("scores").reshape(1, -1)
        if self.quantized:
            return scores.astype(np.int64)
        return np.minimum(np.round(scores.astype(np.float64) * 32768), 32767).astype(np.int64)

    def run(self, features: np.ndarray) -> np.ndarray:
        """(T, F) int16 features -> (T, C) q15 posteriors, continuing from the current state."""
        out = [self.step(f[None])[0] for f in np.asarray(features)]
        return np.array(out, np.int64).reshape(len(out), -1)


class TfliteDetector:
    """The daemon's backend for a .tflite model: kwsdk's integer frontend,
    VAD and detector (Python reference) around the model in a TFLite runtime,
    with the interface of kwsdk.daemon.backends.KwsLibrary."""

    def __init__(self, path: Path, runtime: str = "litert"):
        from kwsdk.config import ConfigError, DetectorConfig, FeatureConfig, VadConfig
        from kwsdk.pipeline import IntPipeline

        path = Path(path)
        try:
            step = TfliteStep(path, runtime)
            meta = step.meta
            fcfg, vcfg = FeatureConfig(**meta["features"]), VadConfig(**meta["vad"])
            det = DetectorConfig(**meta["detector"])
        except OSError as e:
            raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
        except ImportError as e:  # no runtime installed: say which package to install
            raise ConfigError(f"{path}: {e}") from None
        except (ValueError, KeyError, TypeError) as e:
            raise ConfigError(f"{path}: {e}") from None
        self.categories, self.sample_rate = step.categories, fcfg.sample_rate
        self.pipe = IntPipeline(fcfg, vcfg, step, det)
        self.k = det.smooth_frames

    def reset(self) -> None:
        self.pipe.reset()

    def set_threshold(self, keyword: str, threshold: float) -> None:
        # As kws_set_threshold: a q15 threshold times the smoothing window.
        self.pipe.detector.thr[keyword_index(self.categories, keyword)] = int(round(threshold * 32768)) * self.k

    def set_refractory(self, seconds: float) -> None:
        self.pipe.detector.refractory = refractory_frames(seconds, self.sample_rate, self.pipe.fcfg.hop_size)

    def process(self, pcm: np.ndarray, offset: int = 0) -> list[dict]:
        return [{"keyword": self.categories[e.keyword], "index": int(e.keyword), "score": e.score_q15 / 32768,
                 "time": (e.sample + offset) / self.sample_rate} for e in self.pipe.feed(pcm).events]
