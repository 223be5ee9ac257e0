"""kwsdk.fixedpoint: the doctests of the helpers (and of codegen's literal
formatting), and the numpy array paths against the scalar (Python int)
paths, which are plain integer arithmetic and so the specification."""

import doctest
import math
from fractions import Fraction

import numpy as np
import pytest

import kwsdk.codegen
import kwsdk.fixedpoint
from kwsdk.fixedpoint import bit_length_u64, isqrt_u64, rshift_round, rshift_round_u64

U64_MAX = 2**64 - 1


@pytest.mark.parametrize("module", [kwsdk.fixedpoint, kwsdk.codegen], ids=lambda m: m.__name__)
def test_doctests(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{module.__name__} has no doctests"
    assert result.failed == 0


def u64_values(rng, n=4000) -> list[int]:
    """Edges, powers of two and their neighbours, perfect squares and their
    neighbours, and random values of every bit length."""
    edges = [0, 1, 2, 3, 2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**62, 2**63 - 1, 2**63, U64_MAX - 1, U64_MAX]
    pow2 = [v for b in range(64) for v in (2**b - 1, 2**b, 2**b + 1) if v <= U64_MAX]
    roots = [2**32 - 1, 2**31 + 12345, 3037000499, 65535, 7]
    squares = [v for r in roots for v in (r * r - 1, r * r, r * r + 1) if 0 <= v <= U64_MAX]
    rand = []
    for b in rng.integers(1, 65, n).tolist():  # exactly b significant bits
        r64 = int(rng.integers(0, 2**32)) << 32 | int(rng.integers(0, 2**32))
        rand.append(r64 >> (64 - b) | 1 << (b - 1))
    return edges + pow2 + squares + rand


def s64_values(rng, n=4000) -> list[int]:
    mags = [v for v in u64_values(rng, n) if v < 2**63]
    return mags + [-v for v in mags] + [-(2**63)]


def test_bit_length_u64_array_matches_scalar():
    vals = u64_values(np.random.default_rng(1))
    got = bit_length_u64(np.array(vals, np.uint64))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, [bit_length_u64(v) for v in vals])
    np.testing.assert_array_equal(got, [v.bit_length() for v in vals])


def test_isqrt_u64_array_matches_scalar():
    vals = u64_values(np.random.default_rng(2))
    got = isqrt_u64(np.array(vals, np.uint64))
    np.testing.assert_array_equal(got, np.array([isqrt_u64(v) for v in vals], np.uint64))
    np.testing.assert_array_equal(got, np.array([math.isqrt(v) for v in vals], np.uint64))


@pytest.mark.parametrize("s", [0, 1, 2, 15, 31, 32, 33, 62, 63])
def test_rshift_round_array_matches_scalar(s):
    # Documented bound: x + 2**(s-1) must not overflow int64 (the C helper
    # has the same limit), so the largest values are left out for s > 0.
    top = 2**63 - 1 - (1 << (s - 1) if s else 0)  # the largest x within that bound
    vals = [v for v in s64_values(np.random.default_rng(3 + s)) if v <= top] + [top]
    want = [rshift_round(v, s) for v in vals]
    assert want == [math.floor(Fraction(v, 2**s) + Fraction(1, 2)) for v in vals]  # round half up
    np.testing.assert_array_equal(rshift_round(np.array(vals, np.int64), s), np.array(want, np.int64))


@pytest.mark.parametrize("s", [-3, -1])
def test_rshift_round_left_shift(s):
    vals = [v for v in s64_values(np.random.default_rng(9)) if abs(v) < 2**(63 + s)]
    got = rshift_round(np.array(vals, np.int64), s)
    np.testing.assert_array_equal(got, np.array([v << -s for v in vals], np.int64))
    assert [rshift_round(v, s) for v in vals] == [v * 2**-s for v in vals]


def test_rshift_round_exact_halves():
    # Round-half-up: ties go towards +infinity for both signs.
    x = np.array([5, -5, 3, -3, 1, -1, 7, -7], np.int64)
    np.testing.assert_array_equal(rshift_round(x, 1), [3, -2, 2, -1, 1, 0, 4, -3])
    np.testing.assert_array_equal(rshift_round(x, 1), [rshift_round(int(v), 1) for v in x])


@pytest.mark.parametrize("s", [0, 1, 2, 31, 32, 62, 63, 64, 65, 100])
def test_rshift_round_u64_array_matches_scalar(s):
    vals = u64_values(np.random.default_rng(20 + s))
    got = rshift_round_u64(np.array(vals, np.uint64), s)
    want = [rshift_round_u64(v, s) for v in vals]
    # scalar: exact round-half-up division, no 2**64 wrap even for the largest
    # x; shifts of 64 or more give 0 by definition (2**63 >> 64 would round to 1)
    assert want == [math.floor(Fraction(v, 2**s) + Fraction(1, 2)) if s < 64 else 0 for v in vals]
    np.testing.assert_array_equal(got, np.array(want, np.uint64))


def test_rshift_round_u64_per_element_shifts():
    rng = np.random.default_rng(5)
    vals = u64_values(rng)
    shifts = rng.integers(0, 64, len(vals))
    shifts[:64] = np.arange(64)  # every shift at least once, with the edge values
    got = rshift_round_u64(np.array(vals, np.uint64), shifts)
    want = [rshift_round_u64(v, int(s)) for v, s in zip(vals, shifts)]
    np.testing.assert_array_equal(got, np.array(want, np.uint64))
    # a column of shifts broadcasts against a row of values
    x = np.array(vals[:50], np.uint64)
    s2 = np.arange(64)[:, None]
    grid = rshift_round_u64(x[None, :], s2)
    assert grid.shape == (64, 50)
    np.testing.assert_array_equal(grid[17], rshift_round_u64(x, 17))


def test_rshift_round_u64_left_shift():
    vals = [v for v in u64_values(np.random.default_rng(6)) if v < 2**61]
    got = rshift_round_u64(np.array(vals, np.uint64), -3)
    np.testing.assert_array_equal(got, np.array([rshift_round_u64(v, -3) for v in vals], np.uint64))
    assert [rshift_round_u64(v, -3) for v in vals] == [v * 8 for v in vals]


def _fixedpoint_cases(rng: np.random.Generator) -> tuple[list[tuple[int, int, int, int]], list[int]]:
    """(op, a, b, s) records for tests/c/kws_fixedpoint_test.c, each inside
    its helper's documented input range, with the scalar reference's result."""
    fp = kwsdk.fixedpoint
    cases: list[tuple[int, int, int, int]] = []
    edges64 = [-(2**63), -(2**62), -(2**31) - 1, -(2**31), -32769, -32768, -1, 0, 1, 32767, 32768, 2**31 - 1,
               2**31, 2**62 - 1, 2**63 - 1]
    rand64 = [int(v) for v in rng.integers(-(2**63), 2**63 - 1, 300, dtype=np.int64)]
    rand32 = [int(v) for v in rng.integers(-(2**31), 2**31, 300, dtype=np.int64)]
    for s in range(-8, 63):  # left shifts of values that stay in range; rounding right shifts
        for a in [0, 1, -1, 3, -3, 2**40 + 1, -(2**40) - 1] + [int(v) >> 12 for v in rand64[:20]]:
            if abs(a) < 2**61 and (s > 0 or abs(a) < 2**(54 + s)):
                cases.append((0, a, 0, s))
    for s in list(range(-4, 70)):
        for a in [0, 1, 2**63, 2**64 - 1, 2**40 + 2**39] + [int(v) & (2**64 - 1) for v in rand64[:10]]:
            if s > 0 or a < 2**(60 + s):
                cases.append((1, a, 0, s))
    for op in (2, 3, 5):
        cases += [(op, a, 0, 0) for a in edges64 + rand64]
    cases += [(4, a, 0, 0) for a in [-(2**31), -32769, -32768, 0, 32767, 32768, 2**31 - 1] + rand32]
    for mult, shift in [fp.quantize_multiplier(x) for x in (0.75, 1e-3, 3.9, 1234.5)] + [(32767, 40), (-20000, 10)]:
        cases += [(6, a, mult, shift) for a in [0, 1, -1, 2**46, -(2**46)] + [int(v) >> 18 for v in rand64[:40]]]
    u64 = [0, 1, 2, 3, 4, 2**32 - 1, 2**32, 2**63, 2**64 - 1] + [int(v) & (2**64 - 1) for v in rand64]
    cases += [(7, a, 0, 0) for a in u64] + [(8, a & (2**32 - 1), 0, 0) for a in u64] + [(9, a, 0, 0) for a in u64]
    pairs = [(a, b) for a in [-(2**31), -1, 0, 1, 2**31 - 1] for b in [-(2**31), -1, 0, 1, 2**31 - 1]]
    cases += [(10, a, b, 0) for a, b in pairs + list(zip(rand32, rand32[::-1]))]
    q15 = [0, 1, 16384, 32767] + [int(v) for v in rng.integers(0, 32768, 200)]
    s31 = [-(2**30), -1, 0, 1, 2**30 - 1] + [int(v) for v in rng.integers(-(2**30), 2**30, 200)]
    cases += [(11, a, b, 0) for a in q15[:4] for b in s31[:5]] + [(11, a, b, 0) for a, b in zip(q15, s31)]

    def ref(op: int, a: int, b: int, s: int) -> int:
        r = [lambda: fp.rshift_round(a, s), lambda: fp.rshift_round_u64(a, s), lambda: fp.saturate(a, 16),
             lambda: fp.saturate(a, 32), lambda: fp.saturate(a, 16), lambda: fp.saturate(a, 31),
             lambda: fp.mul_by_multiplier(a, b, s), lambda: fp.bit_length_u64(a), lambda: fp.bit_length_u64(a),
             lambda: fp.isqrt_u64(a), lambda: fp.mulhi_s32(a, b), lambda: fp.rshift_round(a * b, 15)][op]()
        return (int(r) + 2**63) % 2**64 - 2**63  # unsigned results as the C writes them: their 64 bits

    return cases, [ref(*c) for c in cases]


@pytest.mark.parametrize("sanitize", [False, True], ids=["O2", "asan-ubsan"])
def test_c_fixedpoint_header_equals_python(sanitize, tmp_path):
    """The generated kws_fixedpoint.h on this host, helper by helper, against
    kwsdk.fixedpoint's scalar (Python int) reference: bit-exact."""
    from kwsdk.codegen.frontend import generate_frontend
    from kwsdk.codegen.hostbuild import build_executable, run_passing, write_sources
    from kwsdk.config import feature_preset
    from tests.conftest import C_DIR

    header = {"kws_fixedpoint.h": generate_frontend(feature_preset("default"))["kws_fixedpoint.h"]}
    exe = build_executable(write_sources(header, tmp_path / "src") + [C_DIR / "kws_fixedpoint_test.c"],
                           tmp_path / "fp", sanitize=sanitize)
    cases, want = _fixedpoint_cases(np.random.default_rng(5))
    rows = [[op, a - 2**64 if a >= 2**63 else a, b, s] for op, a, b, s in cases]  # u64 inputs as their bits
    (tmp_path / "in.bin").write_bytes(np.array(rows, "<i8").tobytes())
    run_passing([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "out.bin")], "kws_fixedpoint.h", 60)
    got = np.frombuffer((tmp_path / "out.bin").read_bytes(), "<i8")
    assert len(got) == len(cases) > 3000 and {c[0] for c in cases} == set(range(12))
    bad = [(cases[i], int(got[i]), want[i]) for i in np.flatnonzero(got != np.array(want, np.int64))]
    assert not bad, bad[:5]
