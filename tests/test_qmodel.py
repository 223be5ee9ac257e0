"""The quantized model: every kernel's C against its Python reference
(bit-exact), the whole step for GRU and LSTM, 1 and 2 layers, int8 and int16
weights, on real, random and extreme inputs, in the weight layouts of cores
with and without the DSP extension; the layouts' arithmetic in numpy; and the
integer model against PyTorch float."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from kwsdk.codegen.model import PAIRS_COLS, pack_weights, requant_offsets, weight_layout
from kwsdk.fixedpoint import mul_by_multiplier, saturate
from kwsdk.qmodel.act import EXPNEG, SIGMOID, TANH, act_q15
from kwsdk.codegen.cmodel import CModel
from kwsdk.qmodel.linear import QLinear
from kwsdk.qmodel.model import IntModel, QuantModel
from kwsdk.qmodel.softmax import softmax_q15
from tests.helpers import VARIANTS, linear_cases, make_quant, sample_features


@pytest.fixture(scope="module")
def feats(sample_clips):
    return sample_features(sample_clips)


@pytest.fixture(scope="module")
def built(feats, tmp_path_factory):
    """variant -> (torch model, QuantModel, CModel), the CModel in the weight
    layout of cores with the DSP extension."""
    out = {}
    for v in VARIANTS:
        model, q = make_quant(*v, feats)
        out[v] = (model, q, CModel(q, tmp_path_factory.mktemp("cmodel-" + "-".join(map(str, v)))))
    return out


@pytest.fixture(scope="module")
def built_no_dsp(built, tmp_path_factory):
    """int8 variant -> CModel in the weight layout of cores without the DSP
    extension (int16 weights have one layout)."""
    return {v: CModel(q, tmp_path_factory.mktemp("cmodel-nodsp-" + "-".join(map(str, v))), dsp_layout=False)
            for v, (_, q, _) in built.items() if v[2] == 8}


@pytest.fixture(scope="module")
def built_wide(built, tmp_path_factory):
    """int8 variant -> CModel in the DSP cores' int16 storage (--wide-weights)."""
    return {v: CModel(q, tmp_path_factory.mktemp("cmodel-wide-" + "-".join(map(str, v))), wide=True)
            for v, (_, q, _) in built.items() if v[2] == 8}


def _extreme(rng, n: int) -> np.ndarray:
    return np.where(rng.random((n, 40)) < 0.5, 32767, -32768).astype(np.int16)


STEP_CASES = ([(v, "dsp") for v in VARIANTS] + [(v, "nodsp") for v in VARIANTS if v[2] == 8]
              + [(v, "wide") for v in VARIANTS if v[2] == 8])


@pytest.mark.parametrize("variant,layouts", STEP_CASES,
                         ids=lambda v: "-".join(map(str, v)) if isinstance(v, tuple) else v)
def test_step_bit_exact(variant, layouts, built, built_no_dsp, built_wide, feats):
    _, q, c = built[variant]
    c = {"dsp": c, "nodsp": built_no_dsp.get(variant), "wide": built_wide.get(variant)}[layouts]
    rng = np.random.default_rng(1)
    inputs = [feats[i] for i in range(4)] + [rng.integers(-32768, 32768, (40, 40)).astype(np.int16),
                                             _extreme(rng, 40)]
    ref = IntModel(q, 1)
    c.reset()
    for x in inputs:  # state carried across all inputs
        want = ref.run(x[None])[0]
        got, states = c.run(x)
        np.testing.assert_array_equal(got, want)
        st = [s[0][0] for s in ref.state] + ([s[1][0] for s in ref.state] if q.cell == "lstm" else [])
        np.testing.assert_array_equal(states[-1].ravel(), np.concatenate(st))


def test_activations_bit_exact_and_bounded(built):
    c = built[VARIANTS[0]][2]
    x = np.concatenate([np.arange(-70000, 70000, 37), [-2**31, -2**31 + 1, 2**31 - 1]]).astype(np.int64)
    for t, bound in ((SIGMOID, 2.5), (TANH, 4.0), (EXPNEG, 5.0)):
        xs = x[x >= 0] if t.name == "expneg" else x
        np.testing.assert_array_equal(c.act(t.name, xs), act_q15(xs, t))
        assert t.max_error_q15 <= bound


LINEAR_CASES = [("pairs", 8), ("wide", 8), ("col8", 8), ("rows", 16)]


@pytest.mark.parametrize("layout,bits", LINEAR_CASES, ids=[c[0] for c in LINEAR_CASES])
def test_linear_bit_exact_with_saturation(layout, bits, built, built_no_dsp, built_wide):
    """Every layout's kernel on tests.helpers.linear_cases: both
    requantizations, saturation, padded blocks."""
    v = next(k for k in built if k[2] == bits)
    c = {"col8": built_no_dsp, "wide": built_wide}[layout][v] if layout in ("col8", "wide") else built[v][2]
    assert c.layout == layout
    fast = slow = saturated = 0
    for label, lin, x in linear_cases(layout, bits):
        if layout != "rows":
            fast, slow = fast + (requant_offsets(lin) is not None), slow + (requant_offsets(lin) is None)
        want = lin(x[None])[0]
        np.testing.assert_array_equal(c.linear(lin, x), want, err_msg=label)
        saturated += bool((want == 2**30 - 1).any() or (want == -2**30).any())
    assert layout == "rows" or fast == slow  # both requantizations ran
    assert saturated


def test_weight_layouts():
    """Which cores get which layout, and the packed arrays' sizes: blocks of 8
    rows (4 for "wide"; the last padded), 1 byte per weight (2 for "wide")."""
    q = QuantModel.__new__(QuantModel)
    for cols, dsp, bits, want in ((40, True, 8, "pairs"), (40, False, 8, "col8"), (45, True, 8, "col8"),
                                  (40, True, 16, "rows"), (600, True, 8, "rows"),  # 600: sums need int64
                                  (256, False, 8, "col8"), (264, False, 8, "rows")):  # col8: 256 at most
        lin = QLinear(np.zeros((12, cols), np.int64), np.ones(12), np.zeros(12), np.zeros(12))
        q.__dict__.update(weight_bits=bits, hidden=cols, layers=[type("L", (), dict(ih=lin, hh=lin))()], head=lin)
        assert weight_layout(q, dsp) == want
        assert weight_layout(q, dsp, wide=True) == ("wide" if want == "pairs" else want)
    w = np.arange(-60, 60).reshape(3, 40)
    assert pack_weights(w, "col8").shape == (8 * 40,) and pack_weights(w, "pairs").shape == (8 * 40 // 4,)
    words = pack_weights(w, "wide").astype(np.int64)
    assert words.shape == (4 * 40 // 2,)
    half = np.stack([words & 0xFFFF, words >> 16], -1).reshape(20, 4, 2)  # column pair, row, column in pair
    half = np.where(half >= 0x8000, half - 0x10000, half)
    np.testing.assert_array_equal(half.transpose(1, 0, 2).reshape(4, 40), np.vstack([w, np.zeros((1, 40), int)]))
    for layout in ("pairs", "wide"):
        with pytest.raises(ValueError, match="multiple of 8"):
            pack_weights(w[:, :36], layout)


def test_pairs_arithmetic():
    """The "pairs" kernel's arithmetic in numpy, on the packed words: SMLAD of
    a word (halfwords as int16) wraps modulo 2^32, SMLAD of its SXTB16 ROR 8
    is the even row's exact sum, and odd = a - 256 b - 128 sum(x), modulo
    2^32, is the odd row's exact sum, at the extremes of weights and inputs."""
    rng = np.random.default_rng(5)
    for w, x in ((rng.integers(-127, 128, (16, 64)), rng.integers(-32768, 32768, 64)),
                 (np.full((8, 512), -127), np.full(512, -32768)), (np.full((8, 512), 127), np.full(512, -32768)),
                 (np.tile([127, -127], (8, 256)), np.tile([-32768, 32767], 256))):
        words = pack_weights(w, "pairs").astype(np.int64).reshape(-1, w.shape[1] // 2, 4)  # block, col pair, row pair
        half = np.stack([words & 0xFFFF, words >> 16], -1)  # ..., column in pair
        half = np.where(half >= 0x8000, half - 0x10000, half)
        even = (half >> 8)  # SXTB16 ROR 8: byte 1 of each halfword, as int8
        xp = x.reshape(-1, 2)[None, :, None, :]
        a = ((half * xp).sum((1, 3)) - 128 * x.sum()) % 2**32
        b = (even * xp).sum((1, 3))
        odd = (a - 256 * b) % 2**32
        odd = np.where(odd >= 2**31, odd - 2**32, odd)
        got = np.stack([b, odd], -1).reshape(-1)[: len(w)]
        np.testing.assert_array_equal(got, w @ x)
        assert np.abs(w @ x).max() < 2**31


def test_requant_offsets_are_exact():
    """(floor(acc * mult / 2^32) + offset) >> (shift - 32) equals the
    reference's sat32(round(acc * mult / 2^shift) + bias) over the whole
    int32 range of acc, for shifts 33..63; rows that do not allow it get None."""
    rng = np.random.default_rng(9)
    shift = np.arange(33, 64)
    mult = rng.integers(1, 1 << 31, len(shift))
    bias = np.array([rng.integers(-(1 << (61 - s)), 1 << (61 - s)) if s < 62 else -1 for s in shift])
    lin = QLinear(np.zeros((len(shift), 1), np.int64), mult, shift, bias)
    offset = requant_offsets(lin)
    assert offset is not None and offset.min() == -2**30  # shift 63 with bias -1: the bound itself
    acc = np.concatenate([rng.integers(-2**31, 2**31, 2000), [-2**31, 2**31 - 1, 0, 1, -1]])
    for m, s, b, o in zip(mult, shift, lin.bias, offset):
        prod = acc.astype(object) * int(m)
        got = np.array([((p >> 32) + int(o)) >> (int(s) - 32) for p in prod], np.int64)
        want = saturate(mul_by_multiplier(acc, int(m), int(s)) + b, 32)
        np.testing.assert_array_equal(got, want)
    assert requant_offsets(QLinear(lin.w[:2], mult[:2], np.array([32, 40]), lin.bias[:2])) is None
    assert requant_offsets(QLinear(lin.w[:1], mult[:1], np.array([45]), np.array([2**17]))) is None  # offset >= 2^30
    assert PAIRS_COLS == 8


def test_softmax_bit_exact(built):
    c = built[VARIANTS[0]][2]
    rng = np.random.default_rng(3)
    for logits in (rng.integers(-40000, 40000, 12), np.zeros(12, np.int64), np.array([2**30 - 1, -2**30] * 6),
                   rng.integers(-100, 100, 12)):
        want = softmax_q15(logits[None])[0]
        np.testing.assert_array_equal(c.softmax(logits), want)
        assert abs(int(want.sum()) - 32768) <= 12


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v[2] == 8], ids=lambda v: "-".join(map(str, v)))
def test_integer_model_tracks_float(variant, built, feats):
    model, q, _ = built[variant]
    with torch.no_grad():
        logits, _ = model(torch.from_numpy(feats / 1024.0).float())
        want = torch.softmax(logits, -1).numpy()
    got = IntModel(q, len(feats)).run(feats) / 32768.0
    err = np.abs(got - want)
    assert err.mean() < 0.002 and err.max() < 0.02


def test_save_load_round_trip(built, tmp_path):
    q = built[("lstm", 2, 8)][1]
    q.save(tmp_path / "m.npz")
    r = QuantModel.load(tmp_path / "m.npz")
    assert [l.c_frac for l in r.layers] == [l.c_frac for l in q.layers] and r.categories == q.categories
    x = np.random.default_rng(0).integers(-9000, 9000, (2, 20, 40))
    np.testing.assert_array_equal(IntModel(r, 2).run(x), IntModel(q, 2).run(x))


def test_golden_gru_step(tmp_path):
    """Checked-in model, features, state and posteriors (tests/golden): the
    reference and the C both still compute them."""
    golden = Path(__file__).parent / "golden"
    g = json.loads((golden / "gru_step.json").read_text())
    q = QuantModel.load(golden / "gru_step_model.npz")
    ref, c = IntModel(q), CModel(q, tmp_path)
    for f, state, post in zip(g["features"], g["state"], g["posteriors"]):
        np.testing.assert_array_equal(ref.step(np.array([f]))[0], post)
        np.testing.assert_array_equal(ref.state[0][0][0], state)
        np.testing.assert_array_equal(c.step(np.array(f)), post)
        np.testing.assert_array_equal(c.state_array().ravel(), state)
