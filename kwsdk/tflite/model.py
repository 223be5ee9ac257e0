"""The streaming step as a TFLite graph, quantized (16x8) or float.

One step: features (1, F) and the state in (each layer's h (1, H), then
for an LSTM each layer's c), scores (1, C) and the new state out; the
caller carries the state, as with the ONNX step. Builtin operators only,
so LiteRT and TFLite Micro both run it.

GRU layer (PyTorch's equations; one FULLY_CONNECTED per gate and input):
  r = LOGISTIC(ADD(FC(x, W_ir, b_ir), FC(h, W_hr, b_hr)))
  z = LOGISTIC(ADD(FC(x, W_iz, b_iz), FC(h, W_hz, b_hz)))
  n = TANH(ADD(FC(x, W_in, b_in), MUL(r, FC(h, W_hn, b_hn))))
  h' = ADD(n, MUL(z, SUB(h, n)))
LSTM layer: i, f, o = LOGISTIC(sums), g = TANH(sum), each sum as above;
  c' = ADD(MUL(f, c), MUL(i, g)); h' = MUL(o, TANH(c')).
Head: SOFTMAX(FC(h_last, W_o, b_o)).

Quantized variant ("16x8": int16 activations, int8 weights, int64 biases,
as both runtimes support it): kwsdk's own int8 weights with their per-row
scales (each row's requantization multiplier in kwsdk equals the one
TFLite derives from the scales), and power-of-two activation scales that
mirror kwsdk's fixed-point formats:
  features 2**-feature_frac (the integer frontend's output), h q15;
  FC outputs 2**-11 (range +-16; kwsdk keeps 32-bit Q12 sums);
  gate sums 2**-12 (TFLite's int16 LOGISTIC/TANH take Q3.12 input, so they
  saturate at +-8 where kwsdk's sigmoid table reaches +-16);
  LOGISTIC / TANH outputs q15; GRU h - n 2**-14; LSTM c 2**-c_frac
  (kwsdk's calibrated format), requantized to Q3.12 (QUANTIZE) for its
  TANH; logits 2**-11; scores q15.
Differences from kwsdk's C are therefore deliberate and bounded: the
+-8 / +-16 saturation of the FC outputs and gate sums, TFLite's own
activation and softmax approximations, and its rounding of each
intermediate to int16. `kwsdk verify --target litert|tflm` measures them.

Float variant: the same graph in float32 from the trained weights, with
the feature normalisation folded into layer 0 as in quantization.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kwsdk.fileio import atomic_write_npz
from kwsdk.tflite.builder import Graph

FC_FRAC = 11  # FC outputs and logits: 2**-11
SUM_FRAC = 12  # gate sums: TFLite's int16 LOGISTIC/TANH input format
Q15 = 15
DIFF_FRAC = 14  # h - n lies in (-2, 2)


@dataclass
class FloatLayer:
    w_ih: np.ndarray  # (3H, n_in), gate order r, z, n
    w_hh: np.ndarray  # (3H, H)
    b_ih: np.ndarray
    b_hh: np.ndarray


@dataclass
class FloatModel:
    """Float weights of a trained model, feature normalisation folded into
    layer 0 (written by `kwsdk quantize` as quant/model_float.npz)."""

    cell: str
    layers: list[FloatLayer]
    head_w: np.ndarray
    head_b: np.ndarray
    categories: list[str]

    @property
    def hidden(self) -> int:
        return self.layers[0].w_hh.shape[1]

    @property
    def n_features(self) -> int:
        return self.layers[0].w_ih.shape[1]

    def save(self, path: Path) -> None:
        meta = json.dumps({"cell": self.cell, "categories": self.categories}).encode()
        arrays = {"head_w": self.head_w, "head_b": self.head_b, "meta": np.frombuffer(meta, np.uint8)}
        for i, l in enumerate(self.layers):
            arrays.update({f"l{i}_{k}": getattr(l, k) for k in ("w_ih", "w_hh", "b_ih", "b_hh")})
        atomic_write_npz(path, arrays)

    @classmethod
    def load(cls, path: Path) -> "FloatModel":
        with np.load(Path(path)) as z:
            n = sum(1 for k in z.files if k.endswith("_w_ih"))
            layers = [FloatLayer(*(z[f"l{i}_{k}"] for k in ("w_ih", "w_hh", "b_ih", "b_hh"))) for i in range(n)]
            meta = json.loads(bytes(z["meta"]).decode())
            return cls(meta["cell"], layers, z["head_w"], z["head_b"], meta["categories"])


class _Step:
    """Emits one GRU or LSTM step into a Graph, quantized or float."""

    def __init__(self, g: Graph, quantized: bool):
        self.g, self.q = g, quantized
        self.n = 0

    def act(self, shape, frac: int, name: str) -> int:
        """An activation tensor: int16 with scale 2**-frac, or float32."""
        self.n += 1
        if self.q:
            return self.g.tensor(f"{name}_{self.n}", shape, np.int16, scale=2.0 ** -frac)
        return self.g.tensor(f"{name}_{self.n}", shape, np.float32)

    def fc(self, x: int, x_frac: int, w, w_scale, b, name: str, out_frac: int = FC_FRAC) -> int:
        """y = W x + b. Quantized: w int8 with per-row scales; b real-valued."""
        s = self.g.s
        rows = w.shape[0]
        if self.q:
            bias_scale = 2.0 ** -x_frac * np.asarray(w_scale, np.float64)
            wt = self.g.tensor(f"{name}_w", w.shape, np.int8, data=w, scale=w_scale)
            bt = self.g.tensor(f"{name}_b", (rows,), np.int64, data=np.round(np.asarray(b) / bias_scale),
                               scale=bias_scale)
        else:
            wt = self.g.tensor(f"{name}_w", w.shape, np.float32, data=w)
            bt = self.g.tensor(f"{name}_b", (rows,), np.float32, data=b)
        y = self.act((1, rows), out_frac, name)
        self.g.op("FULLY_CONNECTED", [x, wt, bt], [y], s.FullyConnectedOptionsT())
        return y

    def binary(self, kind: str, a: int, b: int, frac: int, name: str) -> int:
        s = self.g.s
        y = self.act(self.g.tensors[a].shape, frac, name)
        opts = {"ADD": s.AddOptionsT, "SUB": s.SubOptionsT, "MUL": s.MulOptionsT}[kind]()
        if kind != "MUL":
            opts.potScaleInt16 = False  # general int16 rescaling
        self.g.op(kind, [a, b], [y], opts)
        return y

    def unary(self, kind: str, x: int, frac: int, name: str) -> int:
        y = self.act(self.g.tensors[x].shape, frac, name)
        self.g.op(kind, [x], [y])
        return y

    def gates(self, x: int, x_frac: int, h: int, layer: "GraphLayer", i: int, names: str):
        """Per gate k, the pair (FC(x, W_i[k]), FC(h, W_h[k])), gates in PyTorch's order."""
        H = layer.w_hh.shape[1]
        out = []
        for k, name in enumerate(names):
            part = slice(k * H, (k + 1) * H)
            gx = self.fc(x, x_frac, layer.w_ih[part], _rows(layer.s_ih, part), layer.b_ih[part], f"l{i}_{name}_x")
            gh = self.fc(h, Q15, layer.w_hh[part], _rows(layer.s_hh, part), layer.b_hh[part], f"l{i}_{name}_h")
            out.append((gx, gh))
        return out

    def act_of_sum(self, kind: str, pair, name: str) -> int:
        return self.unary(kind, self.binary("ADD", *pair, SUM_FRAC, f"{name}_sum"), Q15, name)

    def gru(self, x: int, x_frac: int, state: list[int], layer: "GraphLayer", i: int) -> list[int]:
        (h,) = state
        rp, zp, (nx, nh) = self.gates(x, x_frac, h, layer, i, "rzn")
        r = self.act_of_sum("LOGISTIC", rp, f"l{i}_r")
        z = self.act_of_sum("LOGISTIC", zp, f"l{i}_z")
        rn = self.binary("MUL", r, nh, FC_FRAC, f"l{i}_rn")
        n = self.act_of_sum("TANH", (nx, rn), f"l{i}_n")
        d = self.binary("SUB", h, n, DIFF_FRAC, f"l{i}_h_minus_n")
        zd = self.binary("MUL", z, d, DIFF_FRAC, f"l{i}_zd")
        return [self.binary("ADD", n, zd, Q15, f"l{i}_h_next")]

    def lstm(self, x: int, x_frac: int, state: list[int], layer: "GraphLayer", i: int) -> list[int]:
        h, c = state
        ip, fp, gp, op = self.gates(x, x_frac, h, layer, i, "ifgo")
        ig, fg, og = (self.act_of_sum("LOGISTIC", p, f"l{i}_{n}") for p, n in ((ip, "i"), (fp, "f"), (op, "o")))
        gg = self.act_of_sum("TANH", gp, f"l{i}_g")
        cf = layer.c_frac
        c_new = self.binary("ADD", self.binary("MUL", fg, c, cf, f"l{i}_fc"), self.binary("MUL", ig, gg, cf, f"l{i}_ig"),
                            cf, f"l{i}_c_next")
        # TFLite's int16 TANH takes Q3.12 input: bring c' there (saturating, where tanh is flat anyway).
        tc = self.unary("TANH", self.unary("QUANTIZE", c_new, SUM_FRAC, f"l{i}_c_q12") if self.q else c_new, Q15,
                        f"l{i}_tanh_c")
        return [self.binary("MUL", og, tc, Q15, f"l{i}_h_next"), c_new]


@dataclass
class GraphLayer:
    """One recurrent layer as the graph takes it: gate-stacked weights; the
    quantized graph adds int8 weights' per-row scales and the LSTM cell
    state's fractional bits."""

    w_ih: np.ndarray
    w_hh: np.ndarray
    b_ih: np.ndarray  # real-valued biases
    b_hh: np.ndarray
    s_ih: np.ndarray | None = None
    s_hh: np.ndarray | None = None
    c_frac: int = 15


def _rows(scales, part: slice):
    return None if scales is None else np.asarray(scales)[part]


METADATA = "kwsdk"  # the model's metadata entry: JSON with categories, cell, feature_frac and the caller's keys


def _build(cell: str, layers: list[GraphLayer], head, n_features: int, feature_frac: int, categories: list[str],
           quantized: bool, description: str, meta: dict | None) -> bytes:
    g = Graph()
    st = _Step(g, quantized)
    H = layers[0].w_hh.shape[1]
    dtype = np.int16 if quantized else np.float32

    def io(name: str, n: int, frac: int) -> int:
        return g.tensor(name, (1, n), dtype, scale=2.0 ** -frac if quantized else None)

    feats = io("features", n_features, feature_frac)
    # State inputs: every layer's h, then (LSTM) every layer's c, as kwsdk's state vector orders them.
    hs = [io(f"h{i}", H, Q15) for i in range(len(layers))]
    cs = [io(f"c{i}", H, l.c_frac) for i, l in enumerate(layers)] if cell == "lstm" else []
    g.inputs = [feats, *hs, *cs]
    x, x_frac, new_h, new_c = feats, feature_frac, [], []
    for i, layer in enumerate(layers):
        state = [hs[i]] + ([cs[i]] if cs else [])
        out = (st.gru if cell == "gru" else st.lstm)(x, x_frac, state, layer, i)
        for t, name in zip(out, ("h", "c")):
            g.tensors[t].name = f"{name}{i}_next"
        x, x_frac = out[0], Q15
        new_h.append(out[0])
        new_c += out[1:]
    w, s_w, b = head
    logits = st.fc(x, Q15, w, s_w, b, "head")
    scores = io("scores", len(categories), Q15)
    opts = g.s.SoftmaxOptionsT()
    opts.beta = 1.0
    g.op("SOFTMAX", [logits], [scores], opts)
    g.outputs = [scores, *new_h, *new_c]
    info = {**(meta or {}), "categories": list(categories), "cell": cell, "feature_frac": feature_frac}
    return g.serialize(description, {METADATA: json.dumps(info).encode()})


def quantized_tflite(q, description: str = "kwsdk", meta: dict | None = None) -> bytes:
    """The 16x8 graph of a kwsdk QuantModel (int8 weights only); `meta`
    joins the kwsdk metadata entry."""
    if q.weight_bits != 8:
        raise ValueError("TFLite export needs int8 weights (quantize with --weight-bits 8)")

    def lin(ql, in_frac: int):
        # kwsdk's row scale: Q12 = acc * mult * 2**-shift, so w_real = w_int * mult * 2**(in_frac - shift - 12).
        scale = ql.mult.astype(np.float64) * np.exp2(in_frac - ql.shift.astype(np.float64) - 12)
        return ql.w.astype(np.int8), scale, ql.bias.astype(np.float64) / 4096.0

    layers = []
    for l in q.layers:
        w_ih, s_ih, b_ih = lin(l.ih, l.in_frac)
        w_hh, s_hh, b_hh = lin(l.hh, Q15)
        layers.append(GraphLayer(w_ih, w_hh, b_ih, b_hh, s_ih, s_hh, l.c_frac))
    return _build(q.cell, layers, lin(q.head, Q15), q.n_features, q.feature_frac, q.categories, True, description,
                  meta)


def float_tflite(m: FloatModel, feature_frac: int, description: str = "kwsdk", meta: dict | None = None) -> bytes:
    """The float32 graph. Its features input takes the integer frontend's
    values as real numbers (int / 2**feature_frac)."""
    layers = [GraphLayer(l.w_ih, l.w_hh, l.b_ih, l.b_hh) for l in m.layers]
    return _build(m.cell, layers, (m.head_w, None, m.head_b), m.n_features, feature_frac, m.categories, False,
                  description, meta)
