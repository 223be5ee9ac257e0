"""Softmax, integer reference of `kws_softmax_q15`.

Input: Q12 logits (the model's head, a QLinear). d = max(logits) - logits
>= 0; e = exp(-d) from the act table (q15, exp(0) = 32768); p = round(e *
32768 / sum(e)) by integer division, saturated to 32767: q15 posteriors
that sum to 32768 within rounding.
"""

from __future__ import annotations

import numpy as np

from kwsdk.qmodel.act import EXPNEG, act_q15


def softmax_q15(logits: np.ndarray) -> np.ndarray:
    """(B, C) Q12 logits -> (B, C) q15 posteriors (int64)."""
    d = logits.max(axis=-1, keepdims=True) - logits
    e = act_q15(d, EXPNEG)
    total = e.sum(axis=-1, keepdims=True)
    return np.minimum((e * 32768 + total // 2) // total, 32767)
