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
