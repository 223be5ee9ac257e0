"""The generated model C on the host: built with strict warnings into a
shared library and called through ctypes (whole steps or single kernels),
returning the integer reference's types for bit-exact comparison."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from kwsdk.codegen.model import generate_model, linear_arrays, linear_ctypes, weight_layout
from kwsdk.codegen.hostbuild import build_shared, load, write_sources
from kwsdk.qmodel.act import ACT_TABLES
from kwsdk.qmodel.linear import QLinear
from kwsdk.qmodel.model import QuantModel

_P = np.ctypeslib.ndpointer


def _linear_struct(fields: list[str]) -> type[ctypes.Structure]:
    """The ctypes mirror of kws_linear_t: its arrays (`fields`), rows, cols."""

    class Linear(ctypes.Structure):
        _fields_ = [(n, ctypes.c_void_p) for n in fields] + [("rows", ctypes.c_uint16), ("cols", ctypes.c_uint16)]

    return Linear


def _state_struct(q: QuantModel, layout: str) -> type[ctypes.Structure]:
    n, h, g = len(q.layers), q.hidden, 3 if q.cell == "gru" else 4
    fields = [("h", (ctypes.c_int16 * h) * n)]
    if q.cell == "lstm":
        fields.append(("c", (ctypes.c_int16 * h) * n))
    fields += [("gx", ctypes.c_int32 * (g * h)), ("gh", ctypes.c_int32 * (g * h)),
               ("logits", ctypes.c_int32 * q.n_classes)]
    if layout == "wide":
        fields.append(("x", ctypes.c_int16 * q.n_features))

    class State(ctypes.Structure):
        _fields_ = fields

    return State


class CModel:
    LIB = "libkws_model.so"

    def __init__(self, q: QuantModel, build_dir: Path, dsp_layout: bool = True, wide: bool = False):
        """dsp_layout: the weight layout of cores with the DSP extension (the
        host runs its portable C; with `wide`, int16 storage), else the one
        of cores without it."""
        self.q = q
        self.layout = weight_layout(q, dsp_layout, wide)
        self._linear_t = _linear_struct(list(linear_ctypes(self.layout, q.weight_bits)))
        lib = Path(build_dir) / self.LIB
        build_shared(write_sources(generate_model(q, dsp_layout, wide), Path(build_dir) / "src"), lib)
        L = self.lib = load(lib)
        i16 = _P(np.int16, flags="C")
        L.kws_model_step.argtypes, L.kws_model_step.restype = [ctypes.c_void_p, i16, i16], None
        L.kws_model_state_size.restype = ctypes.c_size_t
        L.kws_act_q15.argtypes, L.kws_act_q15.restype = [ctypes.c_int, ctypes.c_int32], ctypes.c_int32
        L.kws_softmax_q15.argtypes = [_P(np.int32, flags="C"), ctypes.c_size_t, i16]
        L.kws_softmax_q15.restype = None
        self.linear_fn = getattr(L, f"kws_linear_s{q.weight_bits}")
        self.linear_fn.argtypes = [ctypes.POINTER(self._linear_t), i16, _P(np.int32, flags="C")]
        self.linear_fn.restype = None
        self.state = _state_struct(q, self.layout)()
        if ctypes.sizeof(self.state) != L.kws_model_state_size():
            raise RuntimeError("kws_model_t layout differs from the ctypes mirror")
        self.reset()

    def reset(self) -> None:
        ctypes.memset(ctypes.byref(self.state), 0, ctypes.sizeof(self.state))

    def step(self, features: np.ndarray) -> np.ndarray:
        out = np.zeros(self.q.n_classes, np.int16)
        self.lib.kws_model_step(ctypes.byref(self.state), np.ascontiguousarray(features, np.int16), out)
        return out

    def run(self, features: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """(T, F) int16 features from the current state -> (T, C) posteriors and,
        per frame, the state (h of every layer, then c for an LSTM) as int16."""
        post, states = [], []
        for f in np.asarray(features):
            post.append(self.step(f))
            states.append(self.state_array())
        return np.array(post, np.int16).reshape(-1, self.q.n_classes), states

    def state_array(self) -> np.ndarray:
        h = np.array(self.state.h, np.int16)
        return np.concatenate([h, np.array(self.state.c, np.int16)]) if self.q.cell == "lstm" else h

    # Kernels, for tests.
    def act(self, name: str, x: np.ndarray) -> np.ndarray:
        table = [t.name for t in ACT_TABLES].index(name)
        return np.array([self.lib.kws_act_q15(table, int(v)) for v in np.ravel(x)], np.int64).reshape(np.shape(x))

    def softmax(self, logits: np.ndarray) -> np.ndarray:
        out = np.zeros(len(logits), np.int16)
        self.lib.kws_softmax_q15(np.ascontiguousarray(logits, np.int32), len(logits), out)
        return out

    def linear(self, lin: QLinear, x: np.ndarray) -> np.ndarray:
        """The kernel on `lin`, stored in this model's layout (its shape must suit the layout)."""
        ctypes_ = linear_ctypes(self.layout, self.q.weight_bits)
        keep = [None if a is None else np.ascontiguousarray(a, ctypes_[f].removesuffix("_t"))
                for f, a in linear_arrays(lin, self.layout).items()]
        s = self._linear_t(*(None if a is None else a.ctypes.data for a in keep), lin.w.shape[0], lin.w.shape[1])
        y = np.zeros(lin.w.shape[0], np.int32)
        self.linear_fn(ctypes.byref(s), np.ascontiguousarray(x, np.int16), y)
        return y.astype(np.int64)
