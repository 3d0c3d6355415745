# SPDX-License-Identifier: Apache-2.0
"""The kernel golden vectors of tests/kernels without Zephyr.

python -m mcubert.tools.golden writes the header; tests/kernels/host/golden_host.c runs the same
checks as the ztest suite (tests/kernels/common/golden_check.c) against the runtime's
kernels: on the host (with ASan/UBSan; portable kernels, and SIMD kernels through the
emulated intrinsics of src/mcubert_acle_emu.h) and, when the cross tools are there, on
emulated Cortex-M7 (SIMD kernels) and Cortex-M3 (portable kernels). A header with one
corrupted expected value must make the harness fail, kernel by kernel. The host SIMD build
and the Cortex-M7 under QEMU must print the same hash of every output: QEMU judges the
emulation.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from mcubert.tools import golden
from mcubert.targets import host
from mcubert.targets.host import REPO

from cmake_sources import runtime_sources

KDIR = REPO / "tests" / "kernels"
HARNESS = [KDIR / "host" / "golden_host.c", KDIR / "common" / "golden_check.c"]
WARN = ["-std=c99", "-Wall", "-Wextra", "-Wshadow", "-Werror"]
# Flags of cmake/arm-none-eabi.cmake and the QEMU link map of the top-level CMakeLists.txt.
CROSS = {
    "cortex-m7": (["-mcpu=cortex-m7", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard", "-mthumb"], "0x60000000"),
    "cortex-m3": (["-mcpu=cortex-m3", "-mthumb"], "0x21000000"),
    # Kconfig MCUBERT_CODE_SPEED: the larger SIMD channel loop
    "cortex-m7-speed": (["-mcpu=cortex-m7", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard", "-mthumb",
                         "-DMCUBERT_CODE_SPEED=1"], "0x60000000"),
}


def _header(tmp_path, *args) -> str:
    out = tmp_path / "gen" / "golden_vectors.h"
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    subprocess.run([sys.executable, "-m", "mcubert.tools.golden", "--out", str(out), *args], check=True, env=env)
    return str(out.parent)


def _cc() -> str:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no host C compiler")
    return cc


# The SIMD kernels on the host, as CMakeLists.txt's MCUBERT_HOST_DSP builds them: an
# accumulation that would set Q aborts; clang would flag the portable helpers left unused.
HOST_DSP = ["-DMCUBERT_HOST_DSP", "-DMCUBERT_ACLE_EMU_TRAP_Q", "-Wno-unused-function"]


def _build_host(tmp_path, gen_dir: str, sanitize: bool = True, dsp: bool = False):
    exe = tmp_path / ("golden_host_dsp" if dsp else "golden_host")
    san = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"] if sanitize else []
    subprocess.run([_cc(), *WARN, "-O1", *san, *(HOST_DSP if dsp else []), f"-I{REPO / 'include'}",
                    f"-I{KDIR / 'common'}", f"-I{gen_dir}",
                    *map(str, HARNESS), *runtime_sources(), "-o", str(exe)], check=True)
    return [str(exe)]


def _build_cross(tmp_path, gen_dir: str, core: str):
    missing = host.cross_tools_missing()
    if missing:
        if os.environ.get("MCUBERT_REQUIRE_QEMU"):
            pytest.fail(f"no {', '.join(missing)}")
        pytest.skip(f"no {', '.join(missing)} (bash scripts/setup.sh installs them)")
    flags, ram = CROSS[core]
    elf = tmp_path / f"golden_{core}.elf"
    subprocess.run(["arm-none-eabi-gcc", *flags, "--specs=picolibc.specs", *WARN, "-O2",
                    f"-I{REPO / 'include'}", f"-I{KDIR / 'common'}", f"-I{gen_dir}",
                    *map(str, HARNESS), *runtime_sources(),
                    "--oslib=semihost", "--crt0=semihost", "-Wl,--gc-sections",
                    "-Wl,--defsym=__flash=0x0", "-Wl,--defsym=__flash_size=0x400000",
                    f"-Wl,--defsym=__ram={ram}", "-Wl,--defsym=__ram_size=0x1000000",
                    "-Wl,--defsym=__stack_size=0x10000", "-Tpicolibc.ld", "-o", str(elf)], check=True)
    return host.qemu_argv(core, elf, [])


def _run(argv) -> tuple[int, str]:
    """Exit status and output (QEMU semihosting writes the guest's stdout to stderr)."""
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout + r.stderr


def test_generator_needs_numpy_only():
    # it runs inside `west build`, where only numpy (and jinja2) can be assumed
    code = ("import sys, mcubert.tools.golden as g; g.generate(); "
            "bad = [m for m in ('torch', 'transformers', 'jinja2') if m in sys.modules]; "
            "sys.exit(str(bad) if bad else 0)")
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_shift_sweep_cases_catch_a_shift_off_by_one():
    """The "sweep" linear cases exist for MCUBERT_CODE_SPEED's one store block per shift
    33..62. They cover every shift for int8 and int16 outputs, and the generator refuses
    vectors where a shift off by one leaves some channel's outputs unchanged (S <= 61)."""
    sweeps = [c for c in golden.LINEAR_CASES if c[-1] == "sweep"]
    for bits in (8, 16):
        shifts = {33 + o % 30 for c in sweeps if c[0] == bits for o in range(c[4], c[4] + c[5])}
        assert shifts == set(range(33, 63)), bits
    for seed in (golden.DEFAULT_SEED, 3, 5, 11):
        golden.generate(seed)       # raises ValueError where a sweep channel would hide it


def test_generator_is_deterministic():
    assert golden.generate(7) == golden.generate(7)
    assert golden.generate(7) != golden.generate(8)


def _outputs(out: str) -> str:
    """The harness's kernel path and hash of every compared output."""
    m = re.search(r"golden: kernels (\w+), (\d+) outputs, fnv1a64 ([0-9a-f]{16})", out)
    assert m, out
    return m.group(0)


@pytest.mark.parametrize("dsp", [False, True], ids=["portable", "simd"])
@pytest.mark.parametrize("seed", [None, "3"])
def test_host_passes(tmp_path, seed, dsp):
    gen = _header(tmp_path, *(["--seed", seed] if seed else []))
    rc, out = _run(_build_host(tmp_path, gen, dsp=dsp))
    assert rc == 0 and "golden: PASS" in out, out
    assert f"golden: kernels {'dsp' if dsp else 'portable'}," in _outputs(out)


@pytest.mark.parametrize("dsp", [False, True], ids=["portable", "simd"])
@pytest.mark.parametrize("kernel", golden.KERNELS)
def test_host_detects_corruption(tmp_path, kernel, dsp):
    gen = _header(tmp_path, "--corrupt", kernel)
    rc, out = _run(_build_host(tmp_path, gen, sanitize=False, dsp=dsp))
    # softmax and lut are checked twice (separate and in-place output): both must fail
    n = 2 if kernel in ("softmax", "lut") else 1
    assert rc == 1 and f"golden: FAIL ({n} failing checks)" in out, out


@pytest.mark.slow
@pytest.mark.parametrize("core", list(CROSS))
def test_emulated_core_passes(tmp_path, core):
    gen = _header(tmp_path)
    rc, out = _run(_build_cross(tmp_path, gen, core))
    assert rc == 0 and "golden: PASS" in out, out


@pytest.mark.slow
def test_emulated_simd_core_detects_corruption(tmp_path):
    gen = _header(tmp_path, "--corrupt", "linear")
    rc, out = _run(_build_cross(tmp_path, gen, "cortex-m7"))
    assert rc == 1 and "FAIL linear_s8" in out, out


@pytest.mark.slow
def test_host_simd_matches_emulated_m7(tmp_path):
    """One set of golden vectors through the SIMD kernels twice: on the host through the
    emulated intrinsics (ASan + UBSan) and on QEMU's Cortex-M7 (the instructions). Both pass
    and print the same hash of every output; the portable host build agrees too."""
    gen = _header(tmp_path, "--seed", "5")
    runs = {"host-simd": _build_host(tmp_path, gen, dsp=True), "cortex-m7": _build_cross(tmp_path, gen, "cortex-m7"),
            "host-portable": _build_host(tmp_path, gen)}
    got = {}
    for name, argv in runs.items():
        rc, out = _run(argv)
        assert rc == 0 and "golden: PASS" in out, (name, out)
        got[name] = _outputs(out)
    assert got["host-simd"] == got["cortex-m7"], got
    assert got["host-portable"] == got["host-simd"].replace("kernels dsp", "kernels portable"), got
