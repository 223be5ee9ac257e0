"""Activation tables, integer reference of `kws_act_q15`.

Input: a pre-activation with PRE_FRAC_BITS (Q12) fractional bits, any int64
value. It is clamped to the table's range [x_lo, x_lo + width) and looked up
in a table of SEGMENTS + 1 values with linear interpolation (round-half-up).
Output: q15 (sigmoid in [0, 1), tanh in [-1, 1), and exp(-x) for x >= 0 in
(0, 1], where 1.0 is 32768: the softmax keeps it in 32 bits).
The worst-case error against the exact function over all inputs, tails
included, is computed from the table itself (`max_error_q15`): about 2.2
q15 LSB for sigmoid, 3.8 for tanh and 4.5 for exp with 512 segments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kwsdk.fixedpoint import rshift_round, to_fixed

PRE_FRAC_BITS = 12  # pre-activations and logits: value / 2**12
SEGMENTS = 512

# name: (function, lowest input, input width, output bits); tails beyond the
# range are < 2.3e-7 away from the end values.
_FUNCS = {
    "sigmoid": (lambda x: 1 / (1 + np.exp(-x)), -16, 32, 16),
    "tanh": (np.tanh, -8, 16, 16),
    "expneg": (lambda x: np.exp(-x), 0, 16, 17),
}


@dataclass(frozen=True)
class ActTable:
    name: str
    table: np.ndarray  # int64 q15 values, SEGMENTS + 1
    x_lo: int  # range [x_lo, x_lo + SEGMENTS << step_bits) in Q12 units
    step_bits: int  # segment width = 2**step_bits input units

    @property
    def x_hi(self) -> int:
        return self.x_lo + ((len(self.table) - 1) << self.step_bits) - 1

    @property
    def max_error_q15(self) -> float:
        x = np.arange(self.x_lo - 4096, self.x_hi + 4096, 7, dtype=np.int64)
        exact = _FUNCS[self.name][0](x / float(1 << PRE_FRAC_BITS)) * 32768
        if self.name == "expneg":
            x, exact = x[x >= 0], exact[x >= 0]
        return float(np.abs(act_q15(x, self) - exact).max())


def act_table(name: str, segments: int = SEGMENTS) -> ActTable:
    func, lo, width, bits = _FUNCS[name]
    step_bits = ((width << PRE_FRAC_BITS) // segments).bit_length() - 1
    x = lo + np.arange(segments + 1) * (1 << step_bits) / float(1 << PRE_FRAC_BITS)
    return ActTable(name, to_fixed(func(x), 15, bits), lo << PRE_FRAC_BITS, step_bits)


SIGMOID, TANH, EXPNEG = ACT_TABLES = tuple(act_table(n) for n in ("sigmoid", "tanh", "expneg"))


def act_q15(x, t: ActTable):
    """int64 inputs (Q12) -> q15 outputs (int64 values)."""
    u = np.clip(np.asarray(x, np.int64), t.x_lo, t.x_hi) - t.x_lo
    i = u >> t.step_bits
    frac = u & ((1 << t.step_bits) - 1)
    tab = t.table
    return tab[i] + rshift_round((tab[i + 1] - tab[i]) * frac, t.step_bits)
