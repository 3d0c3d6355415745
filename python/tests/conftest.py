# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures: small random models through the real pipeline (new-model -> quantize)."""
from __future__ import annotations

import numpy as np
import pytest

from mcubert.modeling.newmodel import new_model
from mcubert.quantization.quantize import CalibConfig, quantize_model, random_calibration_ids


def make_qm(tmp_path, *, layers=1, hidden=32, heads=2, ffn=64, vocab=300, max_pos=64, clusters=2,
            ranks=(16, 0), labels=2, seed=0, calib=8, preset="bert-tiny"):
    out = tmp_path / f"m{seed}_{layers}_{hidden}_{heads}"
    model = new_model(preset, clusters, list(ranks), seed, str(out), vocab_size=vocab, hidden_size=hidden,
                      num_attention_heads=heads, intermediate_size=ffn, max_position_embeddings=max_pos,
                      num_hidden_layers=layers, num_labels=labels)
    samples = random_calibration_ids(vocab, CalibConfig(samples=calib, max_len=min(64, max_pos), seed=seed), max_pos)
    return model, quantize_model(model, samples)


@pytest.fixture(scope="session")
def small_qm(tmp_path_factory):
    """One small model shared by the error, canary and API tests."""
    return make_qm(tmp_path_factory.mktemp("small"), layers=2, hidden=36, heads=3, ffn=48, vocab=400,
                   max_pos=64, clusters=3, ranks=(12, 0, 5), seed=7)[1]


def lengths_for(L: int, rng: np.random.Generator, extra: int = 2) -> list[int]:
    """The lengths the issue names (1, 2, 63, 128, 512, the maximum) that fit L, plus random ones."""
    want = [n for n in (1, 2, 63, 128, 512) if n <= L] + [L]
    return sorted(set(want)) + [int(x) for x in rng.integers(1, L + 1, size=extra)]
