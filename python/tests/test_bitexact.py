# SPDX-License-Identifier: Apache-2.0
"""The C runtime against the integer reference, bit for bit, over many model shapes."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from mcubert.int8 import reference
from mcubert.tools.verify import random_inputs, verify

from conftest import lengths_for, make_qm, pair_inputs, pair_model

# (layers, hidden, heads, ffn, clusters, ranks, max_len): hidden sizes include
# non-multiples of 4 and 8 (50, 33, 36, 100) and head dims that are odd (25, 11).
SHAPES = [
    (1, 32, 1, 64, 1, (32,), 63),
    (2, 50, 2, 70, 3, (16, 0, 8), 128),
    (3, 33, 3, 40, 2, (0, 11), 64),
    (4, 36, 4, 64, 4, (20, 10, 0, 4), 32),
    (2, 100, 4, 200, 2, (40, 0), 128),
    (2, 128, 2, 512, 4, (64, 32, 16, 0), 512),  # bert-tiny with a clustered embedding
    (1, 256, 4, 1024, 2, (64, 0), 128),         # bert-mini width
    (2, 64, 2, 96, 1, (0,), 2),                 # every word vector is zero
    # low-rank position tables (an 8th field, the float rank r): factors r + 1 wide, so k = 5 and
    # 11 (SIMD blocks of 4 plus a tail), 3 (no block at all) and 8 (no tail)
    (2, 50, 2, 70, 3, (16, 0, 8), 128, 4),
    (1, 33, 3, 40, 2, (0, 11), 64, 2),
    (1, 32, 1, 64, 1, (32,), 63, 7),
    (2, 128, 2, 512, 4, (64, 32, 16, 0), 512, 10),  # bert-tiny at 512 positions
]


def _id(s):
    return f"L{s[0]}-H{s[1]}-NH{s[2]}-F{s[3]}-K{s[4]}-T{s[6]}" + (f"-P{s[7]}" if len(s) > 7 else "")


@pytest.fixture(scope="module", params=SHAPES, ids=_id)
def shaped(request, tmp_path_factory):
    layers, hidden, heads, ffn, k, ranks, max_len = request.param[:7]
    position_rank = request.param[7] if len(request.param) > 7 else 0
    _, qm = make_qm(tmp_path_factory.mktemp("shape"), layers=layers, hidden=hidden, heads=heads, ffn=ffn,
                    clusters=k, ranks=ranks, vocab=600, max_pos=max(max_len, 64), seed=sum(request.param[:4]),
                    position_rank=position_rank)
    assert qm.pos_rank == (position_rank + 1 if position_rank else 0)
    return qm, max_len


def _inputs(qm, L, seed):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, qm.vocab_size, size=n).astype(np.uint16) for n in lengths_for(L, rng)]


@pytest.mark.parametrize("mode", ["fine", "layerwise"])
def test_bit_exact(shaped, mode):
    qm, L = shaped
    r = verify(qm, L, 0, mode=mode, inputs=_inputs(qm, L, 1))
    assert r.ok, r.mismatches[:2]


@pytest.mark.parametrize("variant", ["release", "dsp-sanitize"])
def test_bit_exact_forced_tilings(shaped, variant):
    """Every tiling choice the planner could make gives the same bits (portable kernels, and
    the SIMD kernels under ASan + UBSan: tiles change the kernels' row and channel ranges)."""
    qm, L = shaped
    inputs = _inputs(qm, L, 2)[:4]
    for kw in ({"q_tile": 1, "ffn_tile": 1, "per_head": 0}, {"q_tile": 3, "ffn_tile": 5, "per_head": 1},
               {"q_tile": 64, "ffn_tile": 64, "per_head": 0}):
        r = verify(qm, L, 0, inputs=inputs, variant=variant, **kw)
        assert r.ok, (kw, r.mismatches[:1])


# ASan + UBSan builds: the portable kernels, and the SIMD kernels through the emulated
# intrinsics (src/mcubert_acle_emu.h; an accumulation that would set Q aborts too).
SANITIZED = ["sanitize", "dsp-sanitize"]


@pytest.mark.parametrize("variant", SANITIZED)
def test_sanitized_runtime(shaped, variant):
    """The same comparison with the runtime built with ASan + UBSan (any report aborts the runner)."""
    qm, L = shaped
    for mode in ("fine", "layerwise"):
        r = verify(qm, L, 0, mode=mode, variant=variant, inputs=_inputs(qm, L, 3)[:4])
        assert r.ok, r.mismatches[:1]


def test_host_simd_build_runs_simd_kernels():
    """The host SIMD variants really compile the MCUBERT_DSP path (and the plain ones do not)."""
    import ctypes

    from mcubert.targets import host

    for variant, want in (("release", b"portable"), ("dsp", b"dsp")):
        lib = host.load_library(variant)
        lib.mcubert_kernel_variant.restype = ctypes.c_char_p
        assert lib.mcubert_kernel_variant() == want, variant


@pytest.mark.parametrize("mode", ["fine", "layerwise"])
def test_bit_exact_host_simd(shaped, mode):
    """The SIMD kernels on the host (emulated intrinsics, no sanitizer): every length."""
    qm, L = shaped
    r = verify(qm, L, 0, mode=mode, variant="dsp", inputs=_inputs(qm, L, 1))
    assert r.ok, r.mismatches[:2]


@pytest.mark.parametrize("mode", ["fine", "layerwise"])
def test_bit_exact_pairs(shaped, mode):
    """mcubert_classify_pair() on sentence pairs (n_first 1, n_tokens and between) mixed with
    single sentences, with the model's segment-B row plus two channels that saturate."""
    qm, L = shaped
    pm = pair_model(qm)
    inputs = pair_inputs(pm, L, np.random.default_rng(11))
    r = verify(pm, L, 0, mode=mode, inputs=inputs)
    assert r.ok, r.mismatches[:2]
    assert 0 < r.pairs < r.n


def _short_and_full(inputs: list, L: int) -> list:
    """The inputs of 1 and 2 tokens (where one segment-B token moves the logits most) and those of
    the full length L (every kind of pair_inputs)."""
    return [x for x in inputs if len(reference.split_input(x)[0]) in (1, 2, L)]


def test_bit_exact_pairs_forced_tilings(shaped):
    qm, L = shaped
    pm = pair_model(qm)
    inputs = _short_and_full(pair_inputs(pm, L, np.random.default_rng(12), 0), L)
    for kw in ({"q_tile": 1, "ffn_tile": 1, "per_head": 0}, {"q_tile": 3, "ffn_tile": 5, "per_head": 1},
               {"q_tile": 64, "ffn_tile": 64, "per_head": 0}, {"mode": "layerwise", "per_head": 1}):
        r = verify(pm, L, 0, inputs=inputs, **kw)
        assert r.ok, (kw, r.mismatches[:1])


@pytest.mark.parametrize("variant", SANITIZED)
def test_sanitized_runtime_pairs(shaped, variant):
    """Sentence pairs through the ASan + UBSan build: the segment add stays in its rows."""
    qm, L = shaped
    pm = pair_model(qm)
    inputs = _short_and_full(pair_inputs(pm, L, np.random.default_rng(13), 0), L)
    for mode in ("fine", "layerwise"):
        r = verify(pm, L, 0, mode=mode, variant=variant, inputs=inputs)
        assert r.ok, r.mismatches[:1]


@pytest.mark.parametrize("mode", ["fine", "layerwise"])
def test_segment_changes_the_logits(small_qm, mode):
    """The segment-B row is really added, in the reference and in C: a pair with segment A shorter
    than the input classifies differently from the single sentence, a pair with n_first ==
    n_tokens exactly like it, and with the row zeroed every split is the single sentence again."""
    import dataclasses

    from mcubert.export.blob import GLOBAL_SLOTS, HEADER_SIZE, build_blob
    from mcubert.export.planner import Dims, plan
    from mcubert.targets import host

    qm = small_qm
    assert np.count_nonzero(qm.segment) > qm.hidden // 2
    n = 20
    ids = np.random.default_rng(14).integers(0, qm.vocab_size, n).astype(np.uint16)
    p = plan(Dims.of(qm), 24, mode)
    blob = build_blob(qm, p.hash)
    off, size = struct.unpack_from("<II", blob, HEADER_SIZE + 8 * GLOBAL_SLOTS.index("segment"))
    assert np.array_equal(np.frombuffer(blob[off:off + size], "<i2"), qm.segment)
    rt = host.Runtime(p, blob)
    single = reference.classify(qm, ids)
    st, got = rt.classify(ids)
    assert st == 0 and np.array_equal(got, single)
    for k in (1, 2, n // 2, n - 1):
        want = reference.classify(qm, reference.Pair(ids, k))
        assert not np.array_equal(want, single), f"reference: n_first {k} gives the single-sentence logits"
        st, got = rt.classify(ids, k)
        assert st == 0 and np.array_equal(got, want), k
    assert np.array_equal(reference.classify(qm, reference.Pair(ids, n)), single)
    st, got = rt.classify(ids, n)
    assert st == 0 and np.array_equal(got, single)

    zero = dataclasses.replace(qm, tensors={**qm.tensors, "seg": np.zeros(qm.hidden, np.int16)})
    rt0 = host.Runtime(p, build_blob(zero, p.hash))
    for k in (1, n // 2):
        assert np.array_equal(reference.classify(zero, reference.Pair(ids, k)), single), k
        st, got = rt0.classify(ids, k)
        assert st == 0 and np.array_equal(got, single), k
    assert rt.guards_intact() and rt0.guards_intact()


def test_mismatch_is_detected(small_qm):
    """verify must fail when the model the runtime sees differs from the reference's."""
    import copy

    other = copy.deepcopy(small_qm)
    other.tensors["l0.f2.b"] = other.tensors["l0.f2.b"] + 1000
    inputs = random_inputs(small_qm, 16, 4)
    from mcubert.targets import host
    from mcubert.export.generate import generate_from

    plan, blob = generate_from(other, 16)
    statuses, logits = host.run_runner([str(host.build() / "mcubert_runner")], plan, blob, inputs)
    assert statuses == [0] * 4
    assert any(not np.array_equal(reference.classify(small_qm, ids), lg) for ids, lg in zip(inputs, logits))
