# SPDX-License-Identifier: Apache-2.0
"""The benchmark machinery on the emulated Cortex-M7: all five configurations agree bit for bit
(bench.inference raises otherwise), counts are deterministic, the kernel and code-size readers
parse real output. No speed is asserted here: figures come from `mcubert bench` only."""
from __future__ import annotations

import os

import pytest

from mcubert.tools import bench
from mcubert.targets import host

from cmake_sources import runtime_sources
from conftest import make_qm

if host.cross_tools_missing() and not os.environ.get("MCUBERT_REQUIRE_QEMU"):
    pytest.skip(f"missing {host.cross_tools_missing()}", allow_module_level=True)


def test_inference_configs_agree_and_repeat(tmp_path):
    _, qm = make_qm(tmp_path, layers=2, hidden=36, heads=3, ffn=40, clusters=2, ranks=(8, 0), max_pos=32)
    a = bench.inference(qm, "small", 20, seed=3)
    b = bench.inference(qm, "small", 20, seed=3)
    assert [r["config"] for r in a] == list(bench.CONFIGS)
    assert all(r["insns"] > 0 for r in a)
    assert [r["insns"] for r in a] == [r["insns"] for r in b]
    assert a[0]["dense_macs"] == 2 * (4 * 20 * 36 * 36 + 2 * 20 * 36 * 40 + 2 * 20 * 20 * 36) + 36 * 36 + 36 * 2
    # executed: layer 0 on all 20 rows; layer 1 makes K and V of all rows, the rest for [CLS] only
    last = 2 * 20 * 36 * 36 + 2 * 36 * 36 + 2 * 20 * 36 + 2 * 36 * 40
    full = 4 * 20 * 36 * 36 + 2 * 20 * 36 * 40 + 2 * 20 * 20 * 36
    ex = {r["config"]: r["executed_macs"] for r in a}
    assert ex["dsp-fine"] == ex["portable-fine"] == ex["dsp-layerwise"] == full + last + 36 * 36 + 36 * 2
    assert ex["naive"] == a[0]["dense_macs"]


def test_kernel_and_size_readers():
    ks = bench.kernels()
    simd = [(k["kernel"], k["shape"]) for k in ks if k["build"] == "cortex-m7"]
    port = [(k["kernel"], k["shape"]) for k in ks if k["build"] == "cortex-m7-portable"]
    fast = [(k["kernel"], k["shape"]) for k in ks if k["build"] == "cortex-m7-speed"]
    assert simd and simd == port == fast
    # MCUBERT_CODE_SPEED: fewer instructions on every linear shape, for more .text
    by = {(k["build"], k["kernel"], k["shape"]): k["insns"] for k in ks}
    lin = [k for k in simd if k[0].startswith("linear")]
    assert lin and all(by[("cortex-m7-speed", *k)] < by[("cortex-m7", *k)] for k in lin)
    assert {"linear_s8", "attn_qk_s8", "attn_pv_s8", "softmax_s8", "layernorm_s8", "embedding_s8"} <= {k[0] for k in simd}
    assert all(k["insns"] > 0 for k in ks)
    sizes = {c["build"]: c for c in bench.code_size()}
    assert set(sizes) == {"cortex-m7", "cortex-m7-speed", "cortex-m7-portable", "cortex-m3"}
    # cmake/mcubert_sources.cmake: one object per source, the tokenizer's sized apart
    n_sources = len([s for s in runtime_sources() if "mcubert_tokenize" not in s and "unicode_tables" not in s])
    assert all(c["text"] > 1000 and c["objects"] == n_sources for c in sizes.values())
    # the SIMD build carries more code than the portable one built for the same core
    assert sizes["cortex-m7"]["text"] > sizes["cortex-m7-portable"]["text"]
    assert sizes["cortex-m7-speed"]["text"] > sizes["cortex-m7"]["text"]
    assert "| linear_s8 |" in bench.tables(bench.Results(kernels=ks, code_size=list(sizes.values())))


def test_tokenizer_bench_and_stack_reader(tmp_path):
    """The tokenizer's row of `mcubert bench` on a few sentences; the stack reader sums the
    deepest path of gcc's call graph (a known two-level chain checks the arithmetic)."""
    t = bench.tokenizer(20)
    assert t["sentences"] == 20 and t["insns"] > 0 and t["max"] >= t["mean"] > 0
    assert t["blob_bytes"] + t["tables_bytes"] <= 110_000 and t["scratch"] == 656
    st = t["stack"]
    assert st["mcubert_tokenize_pair"] >= st["mcubert_tokenize"] > 100 and st["mcubert_vocab_init"] > 0
    src = tmp_path / "chain.c"
    src.write_text("volatile char sink;\n"
                   "__attribute__((noinline)) static void leaf(void) { volatile char b[64]; b[0] = 1; sink = b[0]; }\n"
                   "__attribute__((noinline)) static void mid(void) { volatile char b[200]; b[0] = 1; leaf(); sink = b[0]; }\n"
                   "void top(void) { mid(); leaf(); }\n")
    flags = ["-mcpu=cortex-m7", "-mthumb"]
    got = bench.stack_usage([src], ["top", "mid", "leaf"], flags)
    assert got["top"] >= got["mid"] > got["leaf"] >= 64 and got["mid"] >= 200 + got["leaf"]
    res = bench.Results(inference=[{"model": "bert-tiny", "L": 64, "config": c, "insns": 10 * t["max"],
                                    "dense_macs": 1, "executed_macs": 1} for c in bench.CONFIGS], tokenizer=t)
    text = bench.tables(res)
    assert "| scratch (mcubert_tokenize_buffer_size) | 656 B |" in text and "at L=64" in text
    assert f"{100 * t['max'] / (10 * t['max']):.2f} %" in text          # the max is 10 % of that inference


def test_cost_table_is_fresh():
    """The planner's cost table (export/kernel_costs.py) is what the kernels cost today: counts
    are deterministic, so a kernel change shows here until the table is measured again."""
    from mcubert.export import kernel_costs
    assert bench.cost_rows() == [tuple(r) for r in kernel_costs.ROWS], \
        f"kernel costs changed: run `{kernel_costs.COMMAND}`"
