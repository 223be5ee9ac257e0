"""The quantized model: every kernel's C against its Python reference
(bit-exact), the whole step for GRU and LSTM, 1 and 2 layers, int8 and int16
weights, on real, random and extreme inputs; and the integer model against
PyTorch float."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from kwsdk.qmodel.act import EXPNEG, SIGMOID, TANH, act_q15
from kwsdk.qmodel.cmodel import CModel
from kwsdk.qmodel.linear import QLinear
from kwsdk.qmodel.model import IntModel, QuantModel
from kwsdk.qmodel.softmax import softmax_q15
from tests.helpers import VARIANTS, make_quant, sample_features


@pytest.fixture(scope="module")
def feats(sample_clips):
    return sample_features(sample_clips)


@pytest.fixture(scope="module")
def built(feats, tmp_path_factory):
    """variant -> (torch model, QuantModel, CModel)."""
    out = {}
    for v in VARIANTS:
        model, q = make_quant(*v, feats)
        out[v] = (model, q, CModel(q, tmp_path_factory.mktemp("cmodel-" + "-".join(map(str, v)))))
    return out


def _extreme(rng, n: int) -> np.ndarray:
    return np.where(rng.random((n, 40)) < 0.5, 32767, -32768).astype(np.int16)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v)))
def test_step_bit_exact(variant, built, feats):
    _, q, c = built[variant]
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
    x = np.concatenate([np.arange(-70000, 70000, 37), [-2**40, -2**31, 2**31 - 1, 2**40]]).astype(np.int64)
    for t, bound in ((SIGMOID, 2.5), (TANH, 4.0), (EXPNEG, 5.0)):
        xs = x[x >= 0] if t.name == "expneg" else x
        np.testing.assert_array_equal(c.act(t.name, xs), act_q15(xs, t))
        assert t.max_error_q15 <= bound


@pytest.mark.parametrize("bits", [8, 16])
def test_linear_bit_exact_with_saturation(bits, built):
    c = next(v[2] for k, v in built.items() if k[2] == bits)
    rng = np.random.default_rng(bits)
    qmax = (1 << (bits - 1)) - 1
    for shift in (20, -8):  # a left shift (negative) drives outputs into int32 saturation
        lin = QLinear(rng.integers(-qmax, qmax + 1, (24, 40)), rng.integers(1 << 14, 1 << 15, 24),
                      np.full(24, shift), rng.integers(-2**20, 2**20, 24))
        for x in (rng.integers(-32768, 32768, 40), _extreme(rng, 1)[0]):
            want = lin(x[None])[0]
            np.testing.assert_array_equal(c.linear(lin, x), want)
    assert (np.abs(want) == 2**31 - 1).any() or (want == -2**31).any()


def test_softmax_bit_exact(built):
    c = built[VARIANTS[0]][2]
    rng = np.random.default_rng(3)
    for logits in (rng.integers(-40000, 40000, 12), np.zeros(12, np.int64), np.array([2**31 - 1, -2**31] * 6),
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
