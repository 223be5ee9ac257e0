"""Generate the quantized model's C sources from a QuantModel.

Every table and constant comes from the integer reference (kwsdk.qmodel),
so the C and the Python share one definition.
"""

from __future__ import annotations

import hashlib

import numpy as np

from kwsdk.codegen import c_array, render
from kwsdk.qmodel.act import ACT_TABLES, PRE_FRAC_BITS, SEGMENTS, ActTable
from kwsdk.qmodel.linear import QLinear
from kwsdk.qmodel.model import QuantModel

MODEL_SOURCES = ["kws_act_q15.c", "kws_linear.c", "kws_rnn_q15.c", "kws_softmax_q15.c", "kws_model.c"]
_TABLE_CTYPES = {"sigmoid": "int16_t", "tanh": "int16_t", "expneg": "uint16_t"}


def acc_bound(q: QuantModel) -> int:
    """Largest |sum| of a matrix row: qmax * 32768 * the widest matrix's columns."""
    qmax = (1 << (q.weight_bits - 1)) - 1
    return qmax * 32768 * max([l.ih.w.shape[1] for l in q.layers] + [q.hidden])


def acc_ctype(q: QuantModel) -> str:
    """The matrix kernel's accumulator: int32 where every sum is exact in it, else int64."""
    return "int32_t" if acc_bound(q) < 2**31 else "int64_t"


def weight_layout(q: QuantModel, dsp: bool, wide: bool = False) -> str:
    """How every matrix of `q` stores its weights (kws_linear.c.j2 explains each):

    - "pairs": int8, blocks of 8 rows; per pair of columns four 32-bit words,
      each holding two rows x two columns for SXTB16 + SMLAD (cores with the
      DSP extension; every matrix's columns a multiple of 8, the kernel's step).
    - "wide" (DSP cores when `wide`): int8 values stored as int16, blocks of 4
      rows; per pair of columns one word per row, which SMLAD takes as it is:
      twice the weights' flash of "pairs" for about a quarter fewer
      instructions (columns a multiple of 8).
    - "col8": int8 + 128 as uint8, blocks of 8 rows stored column by column,
      for LDRB + MLA (the kernel subtracts 128 sum(x)); at most
      COL8_MAX_COLS columns, so that the int32 sums of (w + 128) x are exact.
    - "rows": row-major as they are (int16 weights, sums that need int64, or
      int8 with more columns).
    """
    if q.weight_bits != 8 or acc_ctype(q) != "int32_t":
        return "rows"
    mats = [m for l in q.layers for m in (l.ih, l.hh)] + [q.head]
    if dsp and all(m.w.shape[1] % PAIRS_COLS == 0 for m in mats):
        return "wide" if wide else "pairs"
    return "col8" if all(m.w.shape[1] <= COL8_MAX_COLS for m in mats) else "rows"


BLOCK_ROWS = {"pairs": 8, "col8": 8, "wide": 4}  # rows per block of each blocked layout; the last block is padded with zero rows
PAIRS_COLS = 8  # columns per pass of the "pairs" and "wide" kernels: their count must be a multiple
COL8_MAX_COLS = 256  # 255 * 2^15 * 256 < 2^31: the "col8" kernel's sums of (w + 128) x fit int32


def storage_ctype(layout: str, weight_bits: int) -> str:
    """The C type of a weight array in `layout`."""
    return {"pairs": "uint32_t", "wide": "uint32_t", "col8": "uint8_t"}.get(layout, f"int{weight_bits}_t")


def pack_weights(w: np.ndarray, layout: str) -> np.ndarray:
    """(rows, cols) int weights -> the flat array the kernel reads, in
    `layout`'s order: uint8 bytes w + 128 ("col8"), uint32 words ("pairs",
    "wide") or as they are ("rows")."""
    if layout == "rows":
        return np.asarray(w)
    rows, cols = w.shape
    if w.min() < -128 or w.max() > 127:
        raise ValueError(f"weights outside int8 cannot be stored as {layout!r}")
    if layout in ("pairs", "wide") and cols % PAIRS_COLS:
        raise ValueError(f"{cols} columns cannot be stored as {layout!r} (a multiple of {PAIRS_COLS} can)")
    n = BLOCK_ROWS[layout]
    blocks = -(-rows // n)
    padded = np.zeros((blocks * n, cols), np.int64)
    padded[:rows] = w
    b = padded.reshape(blocks, n, cols)
    if layout == "wide":  # [block][column pair][row] -> one word: halfword k = w[row][2 pair + k] as int16
        h = b.reshape(blocks, n, cols // 2, 2).transpose(0, 2, 1, 3) & 0xFFFF
        return (h[..., 0] | (h[..., 1] << 16)).ravel().astype(np.uint64)
    if layout == "col8":  # [block][column][row in block], + 128 (padding rows too: the kernel subtracts it)
        return b.transpose(0, 2, 1).ravel() + 128
    # "pairs": [block][column pair][row pair] -> one word. Byte 1 (3) holds
    # the even row's weight at the pair's first (second) column, as int8; byte
    # 0 (2) the odd row's weight + 128, as uint8. The halfwords are then
    # 256 * w_even + (w_odd + 128), and SXTB16 ROR 8 recovers (w_even, w_even').
    pairs = b.reshape(blocks, n // 2, 2, cols // 2, 2).transpose(0, 3, 1, 4, 2)  # blk, cpair, rpair, col, row
    even, odd = pairs[..., 0] & 0xFF, pairs[..., 1] + 128
    half = (even << 8) | odd  # (blk, cpair, rpair, col)
    return (half[..., 0] | (half[..., 1] << 16)).ravel().astype(np.uint64)


def requant_offsets(q: QLinear) -> np.ndarray | None:
    """Per-row offsets that fold rounding and bias into one add, or None
    when a row does not allow it. For an int32 acc and mult and a shift
    s = 32 + j, 1 <= j <= 31, the reference's sat32(round(acc * mult / 2^s) + bias)
    equals (floor(acc * mult / 2^32) + offset) >> j with
    offset = 2^(j-1) + bias * 2^j: the low word cannot carry into the
    rounding, and with -2^30 <= offset < 2^30 the int32 sum (|high word| <=
    2^30) is exact, so nothing saturates."""
    j = np.asarray(q.shift, np.int64) - 32
    if not ((j >= 1) & (j <= 31)).all():
        return None
    offset = [(1 << (int(k) - 1)) + (int(b) << int(k)) for k, b in zip(j, q.bias)]
    return np.array(offset, np.int64) if all(-2**30 <= o < 2**30 for o in offset) else None


def linear_arrays(q: QLinear, layout: str) -> dict[str, np.ndarray | None]:
    """kws_linear_t's arrays for `q` stored in `layout`, in the struct's
    order (None: NULL). With requant offsets (packed layouts whose rows all
    allow them) the multipliers and offsets are interleaved in mult_offset
    (the kernel loads them together), mult and bias are NULL and shift holds
    shift - 32; "wide" interleaves that too, as a third int32 per row (one
    LDM loads a row's three), and shift is NULL. Otherwise mult_offset is
    NULL."""
    offset = requant_offsets(q) if layout != "rows" else None
    fast = offset is not None
    shift = np.asarray(q.shift, np.int64) - (32 if fast else 0)
    arrays = {"w": pack_weights(q.w, layout), "mult": None if fast else q.mult,
              "shift": None if fast and layout == "wide" else shift, "bias": None if fast else q.bias}
    if layout != "rows":
        per_row = [q.mult, offset] + ([shift] if layout == "wide" else [])
        arrays["mult_offset"] = np.stack(per_row, 1) if fast else None
    return arrays


def linear_ctypes(layout: str, weight_bits: int) -> dict[str, str]:
    """kws_linear_t's arrays in `layout`, in the struct's order: their C element types."""
    fields = {"w": storage_ctype(layout, weight_bits), "mult": "int32_t", "shift": "int8_t", "bias": "int32_t"}
    return fields if layout == "rows" else {**fields, "mult_offset": "int32_t"}


def _linear(name: str, q: QLinear, weight_bits: int, layout: str) -> dict:
    """The C arrays and the initializer of one kws_linear_t."""
    ctypes = linear_ctypes(layout, weight_bits)
    arrays, refs = [], []
    for field, a in linear_arrays(q, layout).items():
        if a is None:
            refs.append("NULL")
        else:
            arrays.append(c_array(ctypes[field], f"{name}_{field}", a, 16 if ctypes[field] in ("int8_t", "uint8_t") else 8))
            refs.append(f"{name}_{field}")
    rows, cols = q.w.shape
    return dict(name=name, arrays=arrays, init=", ".join(refs + [str(rows), str(cols)]))


def model_hash(q: QuantModel) -> str:
    h = hashlib.sha1()
    for layer in q.layers:
        for lin in (layer.ih, layer.hh):
            for a in (lin.w, lin.mult, lin.shift, lin.bias):
                h.update(np.ascontiguousarray(a, np.int64).tobytes())
    h.update(np.ascontiguousarray(q.head.w, np.int64).tobytes())
    return h.hexdigest()[:12]


def _sat_clamp(lo: int, hi: int) -> dict:
    """The saturation (kws_fixedpoint.h's macro, `sat`, and its bit count,
    `sat_bits`) that clamps an int32 to [lo, hi]; sat "" when none does."""
    n = (hi + 1).bit_length() - 1
    if hi + 1 == 1 << n and lo == -(hi + 1):
        return dict(sat="KWS_SSAT", sat_bits=n + 1)
    return dict(sat="KWS_USAT" if hi + 1 == 1 << n and lo == 0 else "", sat_bits=n)


def _lo_index(t: ActTable) -> int:
    """The table index of input 0: kws_act_q15.h indexes from there with
    x >> step_bits, which needs x_lo to be a multiple of the step."""
    if t.x_lo % (1 << t.step_bits):
        raise ValueError(f"{t.name} table: x_lo {t.x_lo} is not a multiple of 2^{t.step_bits}")
    return -t.x_lo >> t.step_bits


MAX_CLASSES = 1 << 16  # kws_softmax_q15's 32-bit sums are exact below this


def model_context(q: QuantModel, dsp_layout: bool = True, wide: bool = False) -> dict:
    if q.n_classes >= MAX_CLASSES:
        raise ValueError(f"{q.n_classes} categories: the generated softmax supports fewer than {MAX_CLASSES}")
    weight_ctype = f"int{q.weight_bits}_t"
    layout = weight_layout(q, dsp_layout, wide)
    linears = []
    for i, layer in enumerate(q.layers):
        linears += [_linear(f"kws_l{i}_ih", layer.ih, q.weight_bits, layout),
                    _linear(f"kws_l{i}_hh", layer.hh, q.weight_bits, layout)]
    linears.append(_linear("kws_head", q.head, q.weight_bits, layout))
    tables = [dict(name=t.name, lo=t.x_lo, hi=t.x_hi, step_bits=t.step_bits, mask=(1 << t.step_bits) - 1,
                   half=1 << (t.step_bits - 1),
                   max_error=f"{t.max_error_q15:.2f}",
                   ctype=_TABLE_CTYPES[t.name], size=len(t.table), **_sat_clamp(t.x_lo, t.x_hi),
                   lo_index=_lo_index(t), pair_load=_TABLE_CTYPES[t.name] == "int16_t" and t.step_bits < 15,
                   array=c_array(_TABLE_CTYPES[t.name], f"kws_{t.name}_table", t.table, 12, static=False))
              for t in ACT_TABLES]
    return dict(
        cell=q.cell, hidden=q.hidden, n_layers=len(q.layers), gates=3 if q.cell == "gru" else 4,
        n_features=q.n_features, n_classes=q.n_classes, feature_frac=q.feature_frac,
        weight_bits=q.weight_bits, weight_ctype=weight_ctype, weight_bytes=q.weight_bytes(),
        acc_ctype=acc_ctype(q), acc_bits=acc_bound(q).bit_length() + 1, linears=linears, layers=q.layers,
        tables=tables, segments=SEGMENTS, pre_frac_bits=PRE_FRAC_BITS, layout=layout, col8_max_cols=COL8_MAX_COLS,
        block_rows=BLOCK_ROWS.get(layout),
        w_ctype=storage_ctype(layout, q.weight_bits),
    )


def generate_model(q: QuantModel, dsp_layout: bool = True, wide: bool = False) -> dict[str, str]:
    """File name -> C source text for the quantized model `q`. dsp_layout
    stores int8 weights for SXTB16 + SMLAD, or with `wide` as int16 for SMLAD
    (see `weight_layout`): what cores with the DSP extension want; cores
    without it get the LDRB + MLA order."""
    ctx = model_context(q, dsp_layout, wide)
    source = f"QuantModel {model_hash(q)} ({q.cell} {len(q.layers)}x{q.hidden}, int{q.weight_bits} weights)"
    files = {"kws_fixedpoint.h": render("kws_fixedpoint.h.j2", source),
             "kws_model.h": render("kws_model.h.j2", source, **ctx),
             "kws_act_q15.h": render("kws_act_q15.h.j2", source, **ctx)}
    for name in MODEL_SOURCES:
        files[name] = render(name + ".j2", source, **ctx)
    return files
