"""Log stage, integer reference of `kws_log_s16`: L = ln(M * 2**E + offset)
for the mel stage's M (u64, < 2**mel_bits) and exponent E, no libm.

1. The offset joins M in the linear domain, on a grid g bits finer than M's
   (g = 63 - mel_bits, so M << g < 2**63 and nothing is lost to the offset's
   rounding): v = (M << g) + off_E, off_E = round(offset * 2**(g - E)) from a
   31-bit mantissa (once per frame); `LogTables.check` proves
   2**8 <= off_E < 2**63 for every exponent the spectrum stage can produce,
   so v >= 1 and v fits 64 bits.
2. log2(v) in Q24: the bit length b gives the integer part; the 31 bits
   below the leading one give a 257-entry Q24 table index (top 8) and a
   15-bit fraction for linear interpolation (error < 3e-6).
3. L2 = log2(v) + (E - g) in Q24, then ln = L2 * ln 2 (q31), rounded to s16
   with FEATURE_FRAC_BITS fractional bits and saturated (features of real
   audio lie within [-12, 16], far inside the s16 range of +-32).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kwsdk.config import ConfigError
from kwsdk.fixedpoint import bit_length_u64, quantize_multiplier, rshift_round, saturate, to_fixed

FEATURE_FRAC_BITS = 10  # s16 log-mel output: value / 2**10 = ln(energy + offset)
LOG2_TABLE_BITS = 8
LOG2_FRAC_BITS = 24
INTERP_BITS = 15  # fraction bits used between table entries: (diff < 2**17) * 2**15 < 2**32
OFFSET_BITS = 31
OFFSET_MIN_BITS = 8  # off_E >= 2**8: its rounding costs < 0.2% of the offset at worst


@dataclass
class LogTables:
    log2_q24: np.ndarray  # log2(1 + i / 256), i = 0..256
    offset_mant: int  # offset = offset_mant * 2**-offset_shift
    offset_shift: int
    grid_bits: int  # g
    ln2_q31: int

    @classmethod
    def build(cls, log_offset: float, mel_bits: int) -> "LogTables":
        if not log_offset > 0:
            raise ConfigError(f"features.log_offset must be positive for the integer frontend, got {log_offset}")
        f = np.arange((1 << LOG2_TABLE_BITS) + 1) / (1 << LOG2_TABLE_BITS)
        mant, shift = quantize_multiplier(log_offset, OFFSET_BITS)
        return cls(to_fixed(np.log2(1 + f), LOG2_FRAC_BITS, 32), mant, shift, 63 - mel_bits,
                   to_fixed(math.log(2), 31, 32))

    def offset_at(self, e):
        """off_E = round(offset * 2**(g - E)) for exponent(s) E."""
        return rshift_round(self.offset_mant, self.offset_shift + np.asarray(e, np.int64) - self.grid_bits)

    def check(self, e_min: int, e_max: int) -> None:
        """off_E within [2**8, 2**63) over the exponent range [e_min, e_max]."""
        lo, hi = int(self.offset_at(e_max)), int(self.offset_at(e_min))
        if lo < 1 << OFFSET_MIN_BITS or hi >= 1 << 63:
            raise ConfigError(f"features.log_offset: the integer frontend cannot represent it next to mel "
                              f"energies with exponents {e_min}..{e_max} (offset grid values {lo}..{hi})")


def log2_q24(v: np.ndarray, tab: np.ndarray) -> np.ndarray:
    """log2 of v > 0 (uint64 array) in Q24 (int64)."""
    b = bit_length_u64(v)
    top = ((v << (64 - b).astype(np.uint64)) >> np.uint64(32)).astype(np.int64)
    i = (top >> (31 - LOG2_TABLE_BITS)) & ((1 << LOG2_TABLE_BITS) - 1)
    f = (top >> (31 - LOG2_TABLE_BITS - INTERP_BITS)) & ((1 << INTERP_BITS) - 1)
    return ((b - 1) << LOG2_FRAC_BITS) + tab[i] + (((tab[i + 1] - tab[i]) * f) >> INTERP_BITS)


def log_s16(m: np.ndarray, e: np.ndarray, t: LogTables) -> np.ndarray:
    """mel M uint64 (F, n) and exponent E (F,) -> int64 (F, n) in s16 range."""
    e = np.asarray(e, np.int64)
    v = (np.asarray(m, np.uint64) << np.uint64(t.grid_bits)) + t.offset_at(e).astype(np.uint64)[:, None]
    lg = log2_q24(v, t.log2_q24) + ((e - t.grid_bits) << LOG2_FRAC_BITS)[:, None]
    return saturate(rshift_round(lg * t.ln2_q31, 31 + LOG2_FRAC_BITS - FEATURE_FRAC_BITS), 16)
