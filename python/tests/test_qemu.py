# SPDX-License-Identifier: Apache-2.0
"""The runtime cross-built for Cortex-M7 (DSP path) and Cortex-M3 (portable path), run on
qemu-system-arm: bit-exact against the integer reference, errors and instruction counts.

Skipped when the cross tools are missing, unless MCUBERT_REQUIRE_QEMU is set (as
scripts/test.sh does, so CI cannot skip it silently).
"""
from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from mcubert.int8 import reference
from mcubert.targets import host
from mcubert.export.generate import generate_from
from mcubert.tools.verify import verify

from conftest import lengths_for, make_qm, pair_error_cases, pair_inputs, pair_model

pytestmark = pytest.mark.slow      # emulated cores under QEMU

_MISSING = host.cross_tools_missing()
if _MISSING and not os.environ.get("MCUBERT_REQUIRE_QEMU"):
    pytest.skip(f"no {', '.join(_MISSING)} (bash scripts/setup.sh installs them)", allow_module_level=True)

CORES = ["cortex-m7", "cortex-m3"]
# the bit-exactness tests also run the M7 build with Kconfig MCUBERT_CODE_SPEED's kernels
EXACT_CORES = [*CORES, "cortex-m7-speed"]
# (layers, hidden, heads, ffn, clusters, ranks, max_len[, position rank]): fewer and smaller than
# test_bitexact.py, but with the odd widths SIMD kernels need tail code for.
SHAPES = [
    (2, 50, 2, 70, 3, (16, 0, 8), 128),         # head dim 25
    (3, 33, 3, 40, 2, (0, 11), 64),             # head dim 11
    (2, 36, 4, 64, 4, (20, 10, 0, 4), 32),      # head dim 9
    (2, 100, 4, 200, 2, (40, 0), 63),
    (2, 128, 2, 512, 4, (64, 32, 16, 0), 512),  # bert-tiny with a clustered embedding
    # low-rank position tables (8th field: the float rank r, factors k = r + 1 wide): the SIMD
    # embedding kernel's blocks of 4 with a tail (k 5, 11), none at all (k 3), no tail (k 8)
    (2, 50, 2, 70, 3, (16, 0, 8), 128, 4),
    (3, 33, 3, 40, 2, (0, 11), 64, 2),
    (2, 36, 4, 64, 4, (20, 10, 0, 4), 32, 7),
    (2, 128, 2, 512, 4, (64, 32, 16, 0), 128, 10),
]
TILINGS = ({"q_tile": 1, "ffn_tile": 1, "per_head": 0}, {"q_tile": 3, "ffn_tile": 5, "per_head": 1})


def _id(s):
    return f"L{s[0]}-H{s[1]}-NH{s[2]}-F{s[3]}-T{s[6]}" + (f"-P{s[7]}" if len(s) > 7 else "")


@pytest.fixture(scope="module", params=SHAPES, ids=_id)
def shaped(request, tmp_path_factory):
    layers, hidden, heads, ffn, k, ranks, max_len = request.param[:7]
    position_rank = request.param[7] if len(request.param) > 7 else 0
    _, qm = make_qm(tmp_path_factory.mktemp("qshape"), layers=layers, hidden=hidden, heads=heads, ffn=ffn,
                    clusters=k, ranks=ranks, vocab=500, max_pos=max(max_len, 64), seed=sum(request.param[:4]),
                    position_rank=position_rank)
    rng = np.random.default_rng(5)
    inputs = [rng.integers(0, qm.vocab_size, size=n).astype(np.uint16) for n in lengths_for(max_len, rng, 1)]
    return qm, max_len, inputs


@pytest.mark.parametrize("core", EXACT_CORES)
@pytest.mark.parametrize("mode", ["fine", "layerwise"])
def test_bit_exact(shaped, mode, core):
    qm, L, inputs = shaped
    r = verify(qm, L, 0, mode=mode, target=core, inputs=inputs)
    assert r.ok, r.mismatches[:2]


@pytest.mark.parametrize("core", EXACT_CORES)
def test_bit_exact_forced_tilings(shaped, core):
    qm, L, inputs = shaped
    for kw in TILINGS:
        r = verify(qm, L, 0, target=core, inputs=inputs[:3], **kw)
        assert r.ok, (kw, r.mismatches[:1])


def test_bit_exact_portable_kernels_on_m7(shaped):
    """The M7 build with MCUBERT_PORTABLE: the portable C path on the DSP-capable core."""
    qm, L, inputs = shaped
    r = verify(qm, L, 0, target="cortex-m7-portable", inputs=inputs)
    assert r.ok, r.mismatches[:2]


@pytest.mark.parametrize("core", CORES)
@pytest.mark.parametrize("mode", ["fine", "layerwise"])
def test_bit_exact_pairs(shaped, mode, core):
    """mcubert_classify_pair() through the runner: pairs mixed with single sentences, a
    segment-B row with saturating channels."""
    qm, L, _ = shaped
    pm = pair_model(qm)
    inputs = pair_inputs(pm, L, np.random.default_rng(7), 0)
    r = verify(pm, L, 0, mode=mode, target=core, inputs=inputs)
    assert r.ok, r.mismatches[:2]
    assert 0 < r.pairs < r.n


@pytest.mark.parametrize("core", CORES)
def test_pair_errors(small_qm, core):
    """Bad n_first on the target: per-input MCUBERT_ERR_N_FIRST, in the documented error order,
    and the good pairs between them still give the reference logits."""
    L = 16
    plan, blob = generate_from(small_qm, L)
    inputs, codes = pair_error_cases(small_qm, L)
    statuses, logits = host.run_runner(host.runner(core), plan, blob, inputs)
    assert [host.ERRORS[s] for s in statuses] == codes
    for x, st, lg in zip(inputs, statuses, logits):
        if st == 0:
            assert np.array_equal(lg, reference.classify(small_qm, x)), x


def test_init_error_propagates(small_qm):
    """A corrupted blob fails mcubert_init on the target: runner exit 2 comes back through QEMU."""
    plan, blob = generate_from(small_qm, 16)
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 0x40
    with pytest.raises(host.RuntimeError_, match=r"exited 2: .*init: .*CRC"):
        host.run_runner(host.runner("cortex-m7"), plan, bytes(bad), [np.arange(4)])


@pytest.mark.parametrize("core", CORES)
def test_exit_status_propagates(core, tmp_path):
    """Semihosting exit codes 0-3 (ok, usage, init, guard) become QEMU's exit status."""
    src, elf = tmp_path / "exit.c", tmp_path / "exit.elf"
    src.write_text("#include <stdlib.h>\nint main(int argc, char **argv) { return argc > 1 ? atoi(argv[1]) : 9; }\n")
    cpu = {"cortex-m7": ["-mcpu=cortex-m7", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard"],
           "cortex-m3": ["-mcpu=cortex-m3"]}[core]
    # 0x20000000: ZBT SSRAM2&3, which both boards have.
    mem = ["__flash=0x0", "__flash_size=0x400000", "__ram=0x20000000", "__ram_size=0x400000"]
    subprocess.run(["arm-none-eabi-gcc", *cpu, "-mthumb", "-O2", "--specs=picolibc.specs", "--oslib=semihost",
                    "--crt0=semihost", *(f"-Wl,--defsym={m}" for m in mem), "-Tpicolibc.ld", str(src),
                    "-o", str(elf)], check=True)
    for code in (0, 1, 2, 3):
        r = subprocess.run(host.qemu_argv(core, elf, [str(code)]), capture_output=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        assert r.returncode == code, r.stderr


def test_instruction_counts(small_qm):
    """Counts are exact and repeatable under -icount: the same input twice gives the same
    nonzero count, in one run and across runs; a longer input costs more."""
    plan, blob = generate_from(small_qm, 32)
    rng = np.random.default_rng(3)
    short, long_ = rng.integers(0, small_qm.vocab_size, 8), rng.integers(0, small_qm.vocab_size, 32)
    inputs = [short, long_, short]
    runs = [host.run_runner(host.runner("cortex-m7"), plan, blob, inputs, counts=True) for _ in range(2)]
    (st, lg, c1), (_, lg2, c2) = runs
    assert st == [0, 0, 0] and np.array_equal(lg, lg2)
    assert c1 == c2
    assert 0 < c1[0] == c1[2] < c1[1]
    assert all(c % 40 == 0 for c in c1)  # SysTick resolution: 40 instructions per tick
    _, _, host_counts = host.run_runner(host.runner("host"), plan, blob, inputs, counts=True)
    assert host_counts == [0, 0, 0]
