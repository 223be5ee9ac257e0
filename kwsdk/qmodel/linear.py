"""Quantized matrix-vector product, integer reference of `kws_linear_s8`
(int8 weights) and `kws_linear_s16` (int16 weights).

y = sat32(requant(W x) + b): W int8/int16 (rows, cols) with one scale per
row, x int16. The accumulator is exact (int32 for int8 weights and up to
256 columns, else int64); each row's integer multiplier and shift
(`mul_by_multiplier`, multiplier width chosen so that the product stays
below 2**62) bring it to Q12, the Q12 bias is added, and the result
saturates to Q12_BITS = 31 bits, so that two outputs (a GRU's gx + gh, a
logit difference) add without overflow in int32.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kwsdk.fixedpoint import mul_by_multiplier, saturate

Q12_BITS = 31


@dataclass
class QLinear:
    w: np.ndarray  # int (rows, cols)
    mult: np.ndarray  # int (rows,)
    shift: np.ndarray  # int (rows,)
    bias: np.ndarray  # int (rows,), Q12

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """x int (B, cols) -> int64 (B, rows) Q12 values in 31-bit range."""
        acc = np.asarray(x, np.int64) @ self.w.T
        return saturate(mul_by_multiplier(acc, self.mult, self.shift) + self.bias, Q12_BITS)
