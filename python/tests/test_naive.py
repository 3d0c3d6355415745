# SPDX-License-Identifier: Apache-2.0
"""The naive per-op reference loop (tests/bench/mcubert_naive.c), the benchmarks' baseline,
gives the reference's logits bit for bit.

tests/bench/naive_check.c runs it over the batch runner's file formats after the real
mcubert_init() has accepted the blob, so host.run_runner drives it like the runtime.
"""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from cmake_sources import runtime_sources
from conftest import make_qm, pair_error_cases, pair_model

from mcubert.targets import host
from mcubert.int8 import reference
from mcubert.export.generate import generate_from
from mcubert.int8.qmodel import QuantModel
from mcubert.quantization.quantize import pack_ln, unpack_ln

BENCH = host.REPO / "tests" / "bench"
WARN = ["-std=c99", "-Wall", "-Wextra", "-Werror"]
VARIANTS = {"release": ["-O2"],
            "sanitize": ["-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
                         "-fno-omit-frame-pointer"]}

# (make_qm arguments, max_seq_len): odd hidden and head_dim, K and O not multiples of 4 / 2,
# 1, 2, 3 and 5 clusters (map widths 0, 1, 2 and 4 bits) with rank-0 clusters, 1-3 layers,
# max_seq_len equal to and below max_positions, dense and low-rank position tables.
SHAPES = {
    "h33x3": (dict(layers=1, hidden=33, heads=3, ffn=38, vocab=301, max_pos=24, clusters=3, ranks=(8, 0, 4),
                   labels=3, seed=1), 24),
    "h50x2": (dict(layers=2, hidden=50, heads=2, ffn=70, vocab=333, max_pos=40, clusters=2, ranks=(16, 0),
                   labels=2, seed=2), 17),
    "h32x4": (dict(layers=3, hidden=32, heads=4, ffn=48, vocab=300, max_pos=32, clusters=5,
                   ranks=(6, 0, 3, 1, 2), labels=5, seed=3), 20),
    "h20x1": (dict(layers=1, hidden=20, heads=1, ffn=27, vocab=130, max_pos=16, clusters=1, ranks=(7,),
                   labels=1, seed=4), 16),
    # low-rank position tables: factors k = rank + 1 = 5 (odd hidden) and 3 columns wide
    "h33x3p4": (dict(layers=1, hidden=33, heads=3, ffn=38, vocab=301, max_pos=24, clusters=3, ranks=(8, 0, 4),
                     labels=3, seed=5, position_rank=4), 24),
    "h20x1p2": (dict(layers=2, hidden=20, heads=1, ffn=27, vocab=130, max_pos=16, clusters=1, ranks=(7,),
                     labels=2, seed=6, position_rank=2), 12),
}


@pytest.fixture(scope="module")
def naive_bins(tmp_path_factory):
    """naive_check built with the system cc, release and ASan/UBSan."""
    d = tmp_path_factory.mktemp("naive")
    bins = {}
    for name, flags in VARIANTS.items():
        exe = d / f"naive_check_{name}"
        subprocess.run(["cc", *WARN, *flags, f"-I{host.REPO / 'include'}", f"-I{host.REPO / 'src'}",
                        str(BENCH / "naive_check.c"), str(BENCH / "mcubert_naive.c"), *runtime_sources(),
                        "-o", str(exe)], check=True)
        bins[name] = exe
    return bins


@pytest.fixture(scope="module", params=sorted(SHAPES))
def shaped(request, tmp_path_factory):
    kw, L = SHAPES[request.param]
    return make_qm(tmp_path_factory.mktemp(request.param), **kw)[1], L


def _inputs(qm, L: int, rng: np.random.Generator) -> list[np.ndarray]:
    V = qm.vocab_size
    out = [rng.integers(0, V, size=n) for n in sorted({1, 2, L}) + [int(x) for x in rng.integers(3, L + 1, 2)]]
    out.append(np.array([0, V - 1] + [V - 1 - i for i in range(L - 2)]))   # id extremes at full length
    return out


@pytest.mark.parametrize("mode", ["fine", "layerwise"])
def test_naive_bitexact(naive_bins, shaped, mode):
    qm, L = shaped
    plan, blob = generate_from(qm, L, mode)
    inputs = _inputs(qm, L, np.random.default_rng(L))
    want = np.stack([reference.classify(qm, ids) for ids in inputs])
    for variant, exe in naive_bins.items():
        status, logits = host.run_runner([str(exe)], plan, blob, inputs, timeout=120)
        assert status == [0] * len(inputs), variant
        np.testing.assert_array_equal(logits, want, err_msg=f"{variant} {mode}")


def _pair_inputs(qm, L: int, rng: np.random.Generator) -> list:
    """_inputs as sentence pairs (n_first 1, n_tokens and random splits) and single sentences."""
    out = []
    for i, ids in enumerate(_inputs(qm, L, rng)):
        n = len(ids)
        other = [reference.Pair(ids, n), reference.Pair(ids, int(rng.integers(1, n + 1))), ids][i % 3]
        out += [reference.Pair(ids, 1), other]
    return out


@pytest.mark.parametrize("mode", ["fine", "layerwise"])
def test_naive_bitexact_pairs(naive_bins, shaped, mode):
    """Sentence pairs: the naive loop adds the segment-B row (saturating) as the reference does."""
    qm, L = shaped
    pm = pair_model(qm)
    plan, blob = generate_from(pm, L, mode)
    inputs = _pair_inputs(pm, L, np.random.default_rng(L + 2))
    want = np.stack([reference.classify(pm, x) for x in inputs])
    singles = np.stack([reference.classify(pm, reference.split_input(x)[0]) for x in inputs])
    assert (want != singles).any(axis=1).sum() >= len(inputs) // 3   # the segment row decides logits
    for variant, exe in naive_bins.items():
        status, logits = host.run_runner([str(exe)], plan, blob, inputs, timeout=120)
        assert status == [0] * len(inputs), variant
        np.testing.assert_array_equal(logits, want, err_msg=f"{variant} {mode}")


def _ties(m: np.ndarray, sh: np.ndarray, rng: np.random.Generator) -> None:
    """Make about a quarter of the (M, S) pairs divide by 2, 4, 8 or 16 exactly: half-way ties."""
    pick = rng.random(m.shape) < 0.25
    m[pick] = 2**30
    sh[pick] = rng.integers(31, 35, int(pick.sum()))


def _stressed(qm, rng: np.random.Generator) -> QuantModel:
    """The model with its integer parameters pushed towards the edges mcubert_init still accepts.

    Calibrated models rarely saturate, reach the softmax LUT's last entry or round a tie;
    larger requant gains (smaller shifts), power-of-two multipliers, shifted biases,
    larger gammas, huge or tiny eps and random LUTs make those paths decide the logits.
    """
    t = {k: v.copy() for k, v in qm.tensors.items()}
    for name, a in t.items():
        parts = name.split(".")
        if "rq" in parts:                                   # (M, S) rows; pos.rq is a single pair
            s = a.reshape(2, -1)
            s[1] = np.maximum(1, s[1] - rng.integers(0, 5, s.shape[1]))
            _ties(s[0], s[1], rng)
        elif parts[-1] == "b":
            t[name] = np.clip(a.astype(np.int64) + rng.integers(-2**16, 2**16, a.shape), -2**30, 2**30
                              ).astype(np.int32)
        elif parts[-1] == "scalars":                        # score, ctx, res1, res2 as (M, S)
            a[1::2] = np.maximum(1, a[1::2] - rng.integers(0, 5, 4))
            a[1] = max(1, a[1] - int(rng.integers(2, 8)))   # scores far apart: distances past 255
            _ties(a[2::2], a[3::2], rng)
        elif parts[-1] in ("ln", "ln1", "ln2"):
            g, b, e = unpack_ln(a)
            g = np.clip(g.astype(np.int64) * rng.integers(1, 9, g.shape), -2**31, 2**31 - 1)
            b = np.clip(b.astype(np.int64) + rng.integers(-2**30, 2**30, b.shape), -2**31, 2**31 - 1)
            if rng.random() < 0.5:
                e = max(1, e >> int(rng.integers(0, 40)))
            else:                                           # small z; G = 2^23 makes y = z/2 with ties
                e = 2**56 >> int(rng.integers(0, 8))
                pick = rng.random(g.shape) < 0.5
                g[pick] = 2**23
                b[pick] = rng.integers(-64, 64, int(pick.sum())) << 24
            t[name] = pack_ln(g, b, e)
        elif parts[-1] == "softmax_lut":
            t[name] = rng.integers(0, 32768, 256).astype(np.uint16)
            t[name][0] = max(1, t[name][0])
        elif parts[-1] in ("gelu_lut", "tanh_lut"):
            t[name] = rng.integers(-128, 128, 256).astype(np.int8)
    return QuantModel(config=qm.config, tensors=t, scales=qm.scales, vocab=qm.vocab)


def test_naive_bitexact_stressed(naive_bins, shaped):
    qm, L = shaped
    rng = np.random.default_rng(L + 1)
    for _ in range(2):
        sq = _stressed(qm, rng)
        plan, blob = generate_from(sq, L, "fine")
        inputs = _inputs(sq, L, rng)
        want = np.stack([reference.classify(sq, ids) for ids in inputs])
        for variant, exe in naive_bins.items():
            status, logits = host.run_runner([str(exe)], plan, blob, inputs, timeout=120)
            assert status == [0] * len(inputs), variant
            np.testing.assert_array_equal(logits, want, err_msg=variant)


def test_naive_errors(naive_bins, shaped):
    qm, L = shaped
    plan, blob = generate_from(qm, L, "fine")
    bad = [np.zeros(0, np.int64), np.zeros(L + 1, np.int64), np.array([1, qm.vocab_size, 2])]
    for exe in naive_bins.values():
        status, _ = host.run_runner([str(exe)], plan, blob, bad, timeout=120)
        assert status == [host.ERR["MCUBERT_ERR_N_TOKENS"]] * 2 + [host.ERR["MCUBERT_ERR_TOKEN_ID"]]


def test_naive_pair_errors(naive_bins, shaped):
    """n_first 0 or above n_tokens: MCUBERT_ERR_N_FIRST, after the n_tokens check and before the ids'."""
    qm, L = shaped
    plan, blob = generate_from(qm, L, "fine")
    inputs, codes = pair_error_cases(qm, L)
    for variant, exe in naive_bins.items():
        status, logits = host.run_runner([str(exe)], plan, blob, inputs, timeout=120)
        assert [host.ERRORS[s] for s in status] == codes, variant
        for x, st, lg in zip(inputs, status, logits):
            if st == 0:
                np.testing.assert_array_equal(lg, reference.classify(qm, x), err_msg=variant)


@pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None, reason="no arm-none-eabi-gcc")
def test_naive_builds_for_cortex_m7(tmp_path):
    """Warning-free for the target too; it calls nothing but libgcc's 64-bit division (no malloc, no float)."""
    obj = tmp_path / "naive.o"
    subprocess.run(["arm-none-eabi-gcc", "--specs=picolibc.specs", *WARN, "-O2", "-mcpu=cortex-m7", "-mthumb",
                    "-mfloat-abi=hard", "-mfpu=fpv5-sp-d16", f"-I{host.REPO / 'include'}",
                    f"-I{host.REPO / 'src'}", "-c", str(BENCH / "mcubert_naive.c"), "-o", str(obj)], check=True)
    undefined = subprocess.run(["arm-none-eabi-nm", "-u", str(obj)], capture_output=True, text=True,
                               check=True).stdout.split()
    assert set(undefined) - {"U"} <= {"__aeabi_ldivmod", "__aeabi_uldivmod", "memcpy", "memset"}, undefined
