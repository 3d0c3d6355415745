# SPDX-License-Identifier: Apache-2.0
"""Integer primitives: exactness against big-int arithmetic and closeness to the float ops."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mcubert.int8 import numerics as nx
from mcubert.int8 import reference


def test_quantize_multiplier_accuracy():
    rng = np.random.default_rng(0)
    for real in np.concatenate([10.0 ** rng.uniform(-12, 8, 500), [1.0, 0.5, 2**-40]]):
        m, s = nx.quantize_multiplier(float(real))
        assert 1 <= s <= 62 and 0 <= m < 2**31
        if 2**-30 < real < 2**29:
            assert abs(m / 2**s - real) <= real * 2**-30


def test_requant_matches_bigint():
    rng = np.random.default_rng(1)
    acc = rng.integers(-(2**31), 2**31, 2000)
    m = rng.integers(0, 2**31, 2000)
    s = rng.integers(1, 63, 2000)
    got = nx.requant(acc, m, s)
    want = [(int(a) * int(b) + (1 << (int(c) - 1))) >> int(c) for a, b, c in zip(acc, m, s)]
    assert got.tolist() == want


def test_layernorm_close_to_float():
    rng = np.random.default_rng(2)
    for h in (8, 33, 128, 1024):
        x = rng.integers(-20000, 20000, (16, h)).astype(np.int16)
        gamma, beta = rng.normal(1, 0.2, h), rng.normal(0, 0.2, h)
        s_out = 6.0 / 127
        g, b, e = nx.layernorm_params(gamma, beta, 1e-12, 1.0, s_out, h)
        got = nx.layernorm(x, g, b, e).astype(np.float64) * s_out
        ref = torch.nn.functional.layer_norm(torch.tensor(x, dtype=torch.float64), (h,), torch.tensor(gamma),
                                             torch.tensor(beta), 1e-12).numpy()
        assert np.abs(got - np.clip(ref, -128 * s_out, 127 * s_out)).max() <= s_out * 0.51 + 1e-9


def test_layernorm_constant_row_is_beta():
    g, b, e = nx.layernorm_params(np.ones(16), np.full(16, 0.5), 1e-12, 1.0, 1 / 127, 16)
    out = nx.layernorm(np.full((1, 16), 1234, np.int16), g, b, e)
    assert (out == 64).all()           # beta 0.5 at scale 1/127 -> 63.5 rounds half up


def test_softmax_close_to_float():
    rng = np.random.default_rng(3)
    lut = nx.softmax_lut()
    for n in (1, 2, 63, 512):
        x = rng.integers(-200, 200, (4, n)).astype(np.int16)
        p = nx.softmax(x, lut).astype(np.float64) / 256
        ref = torch.softmax(torch.tensor(x * nx.SCORE_GRID), -1).numpy()
        assert np.abs(p - ref).max() < 3 / 256
    assert nx.softmax(np.zeros((1, 1), np.int16), lut)[0, 0] == 255


def test_luts():
    s = 4.0 / 127
    g = nx.gelu_lut(s, s)
    x = np.arange(-128, 128) * s
    ref = 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    assert np.abs(g * s - ref).max() <= s / 2 + 1e-12
    t = nx.tanh_lut(s)
    assert t[0] == -127 * 1 and t[255] == round(127 * math.tanh(127 * s)) and t[128] == 0


@pytest.mark.parametrize("preset_hidden", [(32, 2), (64, 4)])
def test_int8_tracks_float(tmp_path, preset_hidden):
    from conftest import make_qm

    hidden, heads = preset_hidden
    model, qm = make_qm(tmp_path, layers=2, hidden=hidden, heads=heads, ffn=2 * hidden, calib=32)
    rng = np.random.default_rng(4)
    samples = [rng.integers(0, qm.vocab_size, int(n)) for n in rng.integers(2, 64, 16)]
    agr = reference.agreement(qm, model, samples)
    assert agr["mean_rel_logit_err"] < 0.25, agr


@pytest.mark.parametrize("rank", [3, 12])
def test_low_rank_positions_track_float(tmp_path, rank):
    """compress_positions -> quantize: the integer position term A' . B'^T (segment A folded into
    a column) is the float P + T[0] on the embedding-sum grid to a few int8 steps, and the int8
    logits follow the float model's as closely as a dense table's do."""
    from conftest import make_qm
    from mcubert.int8.reference import _add_positions

    dense_model, dense_qm = make_qm(tmp_path, layers=2, hidden=32, heads=2, ffn=64, calib=32, max_pos=96)
    model, qm = make_qm(tmp_path, layers=2, hidden=32, heads=2, ffn=64, calib=32, max_pos=96, position_rank=rank)
    assert qm.pos_rank == rank + 1 and model.config.position_rank == rank
    emb = model.bert.embeddings
    with torch.no_grad():
        want = (emb.position_embeddings.weight + emb.token_type_embeddings.weight[0]).double().numpy()
    s_e = qm.scales["emb.sum"]
    got = _add_positions(qm, np.zeros((96, 32), np.int16)).astype(np.float64) * s_e
    # error: A' and B'^T each within half an int8 step of their scales, over k products
    assert np.abs(got - want).max() < 0.03 * np.abs(want).max(), np.abs(got - want).max()
    rng = np.random.default_rng(4)
    samples = [rng.integers(0, qm.vocab_size, int(n)) for n in rng.integers(2, 96, 16)]
    low = reference.agreement(qm, model, samples)
    dense = reference.agreement(dense_qm, dense_model, samples)
    assert low["mean_rel_logit_err"] < max(2 * dense["mean_rel_logit_err"], 0.05), (low, dense)
    assert low["label_agreement"] >= 0.8, low
