"""GRU and LSTM cells, integer reference of `kws_rnn_q15`.

Formats: input x int16 with `in_frac` fractional bits (layer 0: the
frontend's features; deeper layers: the previous layer's h, q15). Hidden
state h q15; LSTM cell state c int16 with `c_frac` fractional bits (set by
calibration), saturating. The input and recurrent products are QLinear
(kwsdk.qmodel.linear): Q12 int32 pre-activations. Gate sums (within
int32: QLinear outputs have 31 bits) go through the act tables (q15 out). Products of two q15 values
are rounded back to q15; the new h (and c) saturate to int16.

GRU (PyTorch's equations, gate order r, z, n):
  r = sig(gx_r + gh_r), z = sig(gx_z + gh_z),
  n = tanh(gx_n + r * gh_n), h' = n + z * (h - n)
LSTM (gate order i, f, g, o):
  c' = f * c + i * g, h' = o * tanh(c')
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kwsdk.fixedpoint import rshift_round, saturate
from kwsdk.qmodel.act import PRE_FRAC_BITS, SIGMOID, TANH, act_q15
from kwsdk.qmodel.linear import QLinear


@dataclass
class QLayer:
    cell: str  # "gru" or "lstm"
    hidden: int
    in_frac: int
    ih: QLinear
    hh: QLinear
    c_frac: int = 15  # LSTM cell state format

    def initial_state(self, batch: int) -> tuple[np.ndarray, ...]:
        z = np.zeros((batch, self.hidden), np.int64)
        return (z,) if self.cell == "gru" else (z, z.copy())

    def step(self, x: np.ndarray, state: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
        """x (B, n_in) int, state -> new state (h first)."""
        return gru_step(self, x, *state) if self.cell == "gru" else lstm_step(self, x, *state)


def gru_step(layer: QLayer, x, h):
    n_h = layer.hidden
    gx, gh = layer.ih(x), layer.hh(h)
    r = act_q15(gx[:, :n_h] + gh[:, :n_h], SIGMOID)
    z = act_q15(gx[:, n_h : 2 * n_h] + gh[:, n_h : 2 * n_h], SIGMOID)
    n = act_q15(gx[:, 2 * n_h :] + rshift_round(r * gh[:, 2 * n_h :], 15), TANH)
    return (saturate(n + rshift_round(z * (h - n), 15), 16),)


def lstm_step(layer: QLayer, x, h, c):
    n_h = layer.hidden
    g = layer.ih(x) + layer.hh(h)
    i = act_q15(g[:, :n_h], SIGMOID)
    f = act_q15(g[:, n_h : 2 * n_h], SIGMOID)
    cand = act_q15(g[:, 2 * n_h : 3 * n_h], TANH)
    o = act_q15(g[:, 3 * n_h :], SIGMOID)
    c = saturate(rshift_round(f * c, 15) + rshift_round(i * cand, 30 - layer.c_frac), 16)
    tc = act_q15(rshift_round(c, layer.c_frac - PRE_FRAC_BITS), TANH)
    return rshift_round(o * tc, 15), c
