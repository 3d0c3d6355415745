# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: small random models through the real pipeline (new-model -> quantize)."""
from __future__ import annotations

import numpy as np
import pytest

from mcubert.modeling.model import compress_positions
from mcubert.modeling.newmodel import new_model
from mcubert.quantization.quantize import CalibConfig, quantize_model, random_calibration_ids


def make_qm(tmp_path, *, layers=1, hidden=32, heads=2, ffn=64, vocab=300, max_pos=64, clusters=2,
            ranks=(16, 0), labels=2, seed=0, calib=8, preset="bert-tiny", position_rank=0):
    """position_rank > 0: the position table is replaced by its truncated SVD (compress_positions)."""
    out = tmp_path / f"m{seed}_{layers}_{hidden}_{heads}_p{position_rank}"
    model = new_model(preset, clusters, list(ranks), seed, str(out), vocab_size=vocab, hidden_size=hidden,
                      num_attention_heads=heads, intermediate_size=ffn, max_position_embeddings=max_pos,
                      num_hidden_layers=layers, num_labels=labels)
    if position_rank:
        compress_positions(model, position_rank)
    samples = random_calibration_ids(vocab, CalibConfig(samples=calib, max_len=min(64, max_pos), seed=seed), max_pos)
    return model, quantize_model(model, samples)


@pytest.fixture(scope="session")
def small_qm(tmp_path_factory):
    """One small model shared by the error, canary and API tests."""
    return make_qm(tmp_path_factory.mktemp("small"), layers=2, hidden=36, heads=3, ffn=48, vocab=400,
                   max_pos=64, clusters=3, ranks=(12, 0, 5), seed=7)[1]


@pytest.fixture(scope="session")
def lowrank_qm(tmp_path_factory):
    """small_qm's shape with a rank-4 position table: factors 5 columns wide (segment A folded in)."""
    return make_qm(tmp_path_factory.mktemp("lowrank"), layers=2, hidden=36, heads=3, ffn=48, vocab=400,
                   max_pos=64, clusters=3, ranks=(12, 0, 5), seed=7, position_rank=4)[1]


def lengths_for(L: int, rng: np.random.Generator, extra: int = 2) -> list[int]:
    """The lengths the issue names (1, 2, 63, 128, 512, the maximum) that fit L, plus random ones."""
    want = [n for n in (1, 2, 63, 128, 512) if n <= L] + [L]
    return sorted(set(want)) + [int(x) for x in rng.integers(1, L + 1, size=extra)]


def pair_model(qm):
    """qm with its own segment row (asserted non-zero: the pair path really adds something)
    and two channels at the int16 extremes: the first saturates at 32767 wherever word +
    position is positive, the last at -32768 wherever it is negative."""
    import dataclasses

    seg = qm.segment.copy()
    assert np.count_nonzero(seg) > len(seg) // 2, "fixture model has no segment-B row"
    seg[0], seg[-1] = 32767, -32768
    return dataclasses.replace(qm, tensors={**qm.tensors, "seg": seg})


def pair_inputs(qm, L: int, rng: np.random.Generator, extra: int = 2) -> list:
    """Single sentences and reference.Pair inputs over lengths_for(L): at every length a
    one-token segment A (n_first 1) and, in turn, n_first = n_tokens, a random split, or a
    plain single sentence; the full length L gets all of them."""
    from mcubert.int8.reference import Pair

    out = []
    for i, n in enumerate(lengths_for(L, rng, extra)):
        ids = rng.integers(0, qm.vocab_size, size=n).astype(np.uint16)
        out.append(Pair(ids, 1))
        kinds = range(3) if n == L else [i % 3]
        for kind in kinds:
            out.append([Pair(ids, n), Pair(ids, int(rng.integers(1, n + 1))), ids][kind])
    return out


def pair_error_cases(qm, L: int) -> tuple[list, list[str]]:
    """Bad n_first inputs for mcubert_classify_pair() and the codes they get, in its error order:
    n_tokens first (even with a bad n_first), then n_first (even with a bad token id), then ids."""
    from mcubert.int8.reference import Pair

    ids, bad = np.arange(1, 6), np.array([1, qm.vocab_size, 2])
    cases = [
        (Pair(ids, 0), "MCUBERT_ERR_N_FIRST"),
        (Pair(ids, 6), "MCUBERT_ERR_N_FIRST"),              # n_tokens + 1
        (Pair(ids, 0xFFFFFFFE), "MCUBERT_ERR_N_FIRST"),     # 0xFFFFFFFF would be a single sentence
        (Pair(np.zeros(0, np.int64), 0), "MCUBERT_ERR_N_TOKENS"),
        (Pair(np.zeros(0, np.int64), 1), "MCUBERT_ERR_N_TOKENS"),
        (Pair(np.ones(L + 1, np.int64), 0), "MCUBERT_ERR_N_TOKENS"),
        (Pair(np.ones(L + 1, np.int64), L + 2), "MCUBERT_ERR_N_TOKENS"),
        (Pair(bad, 0), "MCUBERT_ERR_N_FIRST"),
        (Pair(bad, 4), "MCUBERT_ERR_N_FIRST"),
        (Pair(bad, 3), "MCUBERT_ERR_TOKEN_ID"),
        (Pair(bad, 1), "MCUBERT_ERR_TOKEN_ID"),
        (Pair(ids, 1), "MCUBERT_OK"),                       # the limits themselves are fine
        (Pair(ids, 5), "MCUBERT_OK"),
    ]
    return [c[0] for c in cases], [c[1] for c in cases]
