"""Generate the quantized model's C sources from a QuantModel.

Every table and constant comes from the integer reference (kwsdk.qmodel),
so the C and the Python share one definition.
"""

from __future__ import annotations

import hashlib

import numpy as np

from kwsdk.codegen import c_array, render
from kwsdk.qmodel.act import EXPNEG, PRE_FRAC_BITS, SEGMENTS, SIGMOID, TANH
from kwsdk.qmodel.linear import QLinear
from kwsdk.qmodel.model import QuantModel

MODEL_SOURCES = ["kws_act_q15.c", "kws_linear.c", "kws_rnn_q15.c", "kws_softmax_q15.c", "kws_model.c"]
_TABLE_CTYPES = {"sigmoid": "int16_t", "tanh": "int16_t", "expneg": "uint16_t"}


def interleaved(q: QuantModel) -> bool:
    """int8 weights of every matrix in groups of four columns are stored as
    (c, c+2, c+1, c+3): the order in which SXTB16 unpacks a 32-bit load into
    pairs that line up with (x[c], x[c+1]) and (x[c+2], x[c+3]) for SMLAD."""
    mats = [m for l in q.layers for m in (l.ih, l.hh)] + [q.head]
    return q.weight_bits == 8 and all(m.w.shape[1] % 4 == 0 for m in mats)


def interleave(w: np.ndarray) -> np.ndarray:
    """(rows, cols) -> the same weights in the interleaved storage order."""
    rows, cols = w.shape
    return w.reshape(rows, cols // 4, 2, 2).transpose(0, 1, 3, 2).reshape(rows, cols)


def _linear(name: str, q: QLinear, weight_ctype: str, inter: bool) -> dict:
    rows, cols = q.w.shape
    return dict(name=name, rows=rows, cols=cols,
                w=c_array(weight_ctype, f"{name}_w", interleave(q.w) if inter else q.w, 16),
                mult=c_array("int32_t", f"{name}_mult", q.mult, 8),
                shift=c_array("int8_t", f"{name}_shift", q.shift, 16),
                bias=c_array("int32_t", f"{name}_bias", q.bias, 8))


def model_hash(q: QuantModel) -> str:
    h = hashlib.sha1()
    for layer in q.layers:
        for lin in (layer.ih, layer.hh):
            for a in (lin.w, lin.mult, lin.shift, lin.bias):
                h.update(np.ascontiguousarray(a, np.int64).tobytes())
    h.update(np.ascontiguousarray(q.head.w, np.int64).tobytes())
    return h.hexdigest()[:12]


def model_context(q: QuantModel, dsp_layout: bool = True) -> dict:
    weight_ctype = f"int{q.weight_bits}_t"
    qmax = (1 << (q.weight_bits - 1)) - 1
    max_cols = max([l.ih.w.shape[1] for l in q.layers] + [q.hidden])
    acc_bound = qmax * 32768 * max_cols
    inter = dsp_layout and interleaved(q)
    linears = []
    for i, layer in enumerate(q.layers):
        linears += [_linear(f"kws_l{i}_ih", layer.ih, weight_ctype, inter),
                    _linear(f"kws_l{i}_hh", layer.hh, weight_ctype, inter)]
    linears.append(_linear("kws_head", q.head, weight_ctype, inter))
    tables = [dict(name=t.name, lo=t.x_lo, hi=t.x_hi, step_bits=t.step_bits, mask=(1 << t.step_bits) - 1,
                   max_error=f"{t.max_error_q15:.2f}",
                   array=c_array(_TABLE_CTYPES[t.name], f"kws_{t.name}_table", t.table, 12))
              for t in (SIGMOID, TANH, EXPNEG)]
    return dict(
        cell=q.cell, hidden=q.hidden, n_layers=len(q.layers), gates=3 if q.cell == "gru" else 4,
        n_features=q.n_features, n_classes=q.n_classes, feature_frac=q.feature_frac,
        weight_bits=q.weight_bits, weight_ctype=weight_ctype, weight_bytes=q.weight_bytes(),
        acc_ctype="int32_t" if acc_bound < 2**31 else "int64_t", acc_bits=acc_bound.bit_length() + 1,
        linears=linears, layers=q.layers, tables=tables, segments=SEGMENTS, pre_frac_bits=PRE_FRAC_BITS,
        interleaved=inter,
    )


def generate_model(q: QuantModel, dsp_layout: bool = True) -> dict[str, str]:
    """File name -> C source text for the quantized model `q`. dsp_layout
    stores int8 weights in the SXTB16 order (see `interleaved`): what cores
    with the DSP extension want; cores without it run faster on the natural
    order."""
    ctx = model_context(q, dsp_layout)
    source = f"QuantModel {model_hash(q)} ({q.cell} {len(q.layers)}x{q.hidden}, int{q.weight_bits} weights)"
    files = {"kws_fixedpoint.h": render("kws_fixedpoint.h.j2", source),
             "kws_model.h": render("kws_model.h.j2", source, **ctx)}
    for name in MODEL_SOURCES:
        files[name] = render(name + ".j2", source, **ctx)
    return files
