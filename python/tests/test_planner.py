# SPDX-License-Identifier: Apache-2.0
"""Arena plans: targets from the issue, no overlapping live buffers, lifetimes as the runtime uses them."""
from __future__ import annotations

import pytest

from mcubert.export.planner import BUFFERS, Dims, check_overlap, plan

TINY = Dims(vocab_size=30522, hidden=128, layers=2, heads=2, ffn=512, max_positions=512, num_labels=2, clusters=4)
MINI = Dims(vocab_size=30522, hidden=256, layers=4, heads=4, ffn=1024, max_positions=512, num_labels=2, clusters=4)


def test_bert_tiny_targets():
    assert plan(TINY, 128).arena_size <= 56 * 1024
    fine512 = plan(TINY, 512)
    assert fine512.arena_size <= 210 * 1024
    assert 3 * fine512.arena_size <= plan(TINY, 512, "layerwise").arena_size


@pytest.mark.parametrize("dims", [TINY, MINI, Dims(600, 50, 3, 2, 70, 64, 3, 2)], ids=["tiny", "mini", "odd"])
@pytest.mark.parametrize("L", [1, 2, 63, 64])
@pytest.mark.parametrize("mode", ["fine", "layerwise"])
def test_no_overlap(dims, L, mode):
    p = plan(dims, L, mode)
    assert check_overlap(p) == []
    assert all(b.offset % 16 == 0 for b in p.buffers.values())


def test_overlap_check_catches_a_bad_plan():
    p = plan(TINY, 128)
    p.buffers["K"].offset = p.buffers["V"].offset
    assert ("K", "V") in check_overlap(p) or ("V", "K") in check_overlap(p)


def test_fine_never_materialises_full_attention_or_ffn():
    p = plan(TINY, 512)
    L, F, H = 512, TINY.ffn, TINY.hidden
    assert p.buffers["SCORES"].size < 2 * L * L          # one query tile, never L x L
    assert p.buffers["INTER"].size < L * F               # one token tile, never L x FFN
    assert "PROBS" not in p.buffers                      # probabilities overwrite their score row
    assert p.buffers["HIDDEN"].size == L * H


def test_per_head_chosen_when_it_saves_memory():
    # 4 heads: per-head K/V (2 L dh) + context (L H) < all-head K/V (2 L H)
    p = plan(MINI, 256)
    assert p.per_head == 1
    assert p.arena_size < plan(MINI, 256, per_head=0).arena_size


def test_plan_printout_and_words():
    p = plan(TINY, 128)
    text = p.describe()
    assert text.splitlines()[-1] == f"peak_arena_bytes: {p.arena_size}"
    for b in p.buffers:
        assert b in text
    w = p.words()
    assert len(w) == 16 + 2 * len(BUFFERS) and w[15] == p.arena_size
    assert plan(TINY, 127).hash != p.hash


def test_bad_lengths():
    with pytest.raises(ValueError):
        plan(TINY, 0)
    with pytest.raises(ValueError):
        plan(TINY, 513)
