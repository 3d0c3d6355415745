# SPDX-License-Identifier: Apache-2.0
"""The host emulation of the ACLE intrinsics (src/mcubert_acle_emu.h) against the
architecture.

tests/acle/acle_vectors.c runs every intrinsic on edge-case and random operands, with GE
and Q preset before each case and read back after it. Here:
- its host build (the emulation, under ASan + UBSan) must match the Arm ARM pseudo-code of
  each instruction, transcribed below with Python's unbounded integers (REF);
- its Cortex-M7 build (the instructions, on QEMU) must print the same hash per intrinsic;
- every intrinsic the emulation defines is in the program, and every one src/ calls is
  emulated.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from mcubert.targets import host
from mcubert.targets.host import REPO

from test_golden import CROSS, WARN

SRC = REPO / "src"
PROGRAM = REPO / "tests" / "acle" / "acle_vectors.c"
EMU = SRC / "mcubert_acle_emu.h"
SAN = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"]
# The Q-flag accessors are exercised by every case (Q preset and read back).
FLAG_INTRINSICS = {"saturation_occurred", "set_saturation_occurred", "ignore_saturation"}

# ---------------------------------------------------------------- Arm ARM pseudo-code

M32, M64 = (1 << 32) - 1, (1 << 64) - 1


def sint(x: int, bits: int) -> int:
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


def lane(x: int, i: int, bits: int, signed: bool) -> int:
    v = (x >> (bits * i)) & ((1 << bits) - 1)
    return sint(v, bits) if signed else v


def pack(vals, bits: int) -> int:
    return sum((v & ((1 << bits) - 1)) << (bits * i) for i, v in enumerate(vals))


def ror(x: int, n: int) -> int:
    n %= 32
    return ((x >> n) | (x << (32 - n))) & M32


def signed_satq(v: int, n: int) -> tuple[int, bool]:
    hi, lo = (1 << (n - 1)) - 1, -(1 << (n - 1))
    return (hi, True) if v > hi else (lo, True) if v < lo else (v, False)


def unsigned_satq(v: int, n: int) -> tuple[int, bool]:
    hi = (1 << n) - 1
    return (hi, True) if v > hi else (0, True) if v < 0 else (v, False)


def _dual(a, b, swap, sub):
    m = ror(b, 16) if swap else b
    p1 = lane(a, 0, 16, True) * lane(m, 0, 16, True)
    p2 = lane(a, 1, 16, True) * lane(m, 1, 16, True)
    return p1 - p2 if sub else p1 + p2


def smlad_like(swap, sub, acc: bool, sets_q: bool = True):
    """SMLAD{X}, SMLSD{X}, SMUAD{X}, SMUSD{X}: R[d] = result<31:0>; Q if it does not fit."""
    def f(a, b, c, ge, q):
        result = _dual(a, b, swap, sub) + (sint(c, 32) if acc else 0)
        return result & M32, ge, q | (sets_q and result != sint(result, 32))
    return f


def smlald_like(swap, sub):
    """SMLALD{X}, SMLSLD{X}: 64-bit accumulate, result<63:0>, no flags."""
    return lambda a, b, c, ge, q: ((_dual(a, b, swap, sub) + sint(c, 64)) & M64, ge, q)


def par_addsub(bits, signed, sub):
    """SADD16/SSUB16/UADD16/USUB16 and the 8-bit forms: GE per byte from each lane's sum
    (signed: sum >= 0; UADD: carry out, sum >= 2^bits; USUB: no borrow, diff >= 0)."""
    n = 32 // bits

    def f(a, b, c, ge, q):
        r = [lane(a, i, bits, signed) + (-1 if sub else 1) * lane(b, i, bits, signed) for i in range(n)]
        ok = [(x >= (1 << bits)) if (not signed and not sub) else (x >= 0) for x in r]
        ge_out = sum(((1 << (bits // 8)) - 1) << (i * bits // 8) for i in range(n) if ok[i])
        return pack(r, bits), ge_out, q
    return f


def qaddsub(bits, sub):
    """QADD16/QSUB16/QADD8/QSUB8: SignedSat per lane; Q unaffected."""
    n = 32 // bits

    def f(a, b, c, ge, q):
        r = [signed_satq(lane(a, i, bits, True) + (-1 if sub else 1) * lane(b, i, bits, True), bits)[0]
             for i in range(n)]
        return pack(r, bits), ge, q
    return f


def qadd32(sub):
    def f(a, b, c, ge, q):
        v, sat = signed_satq(sint(a, 32) + (-1 if sub else 1) * sint(b, 32), 32)
        return v & M32, ge, q | sat
    return f


def xtb16(signed, rot=None, accumulate=False):
    """SXTB16/UXTB16 (rotation c, or the fixed rot), SXTAB16/UXTAB16 (no rotation)."""
    def f(a, b, c, ge, q):
        x = b if accumulate else a
        rotated = ror(x, rot if rot is not None else (0 if accumulate else c))
        lo, hi = lane(rotated, 0, 8, signed), lane(rotated, 2, 8, signed)
        if accumulate:
            lo, hi = lo + lane(a, 0, 16, False), hi + lane(a, 1, 16, False)
        return pack([lo, hi], 16), ge, q
    return f


def sat(signed, lanes16):
    def f(a, b, c, ge, q):
        satq = signed_satq if signed else unsigned_satq
        vals = [lane(a, i, 16, True) for i in range(2)] if lanes16 else [sint(a, 32)]
        out = [satq(v, c) for v in vals]
        return pack([v for v, _ in out], 16 if lanes16 else 32), ge, q | any(s for _, s in out)
    return f


def sel(a, b, c, ge, q):
    return sum(((a if ge >> i & 1 else b) >> (8 * i) & 0xFF) << (8 * i) for i in range(4)), ge, q


REF = {
    "ror": lambda a, b, c, ge, q: (ror(a, b & 0xFF), ge, q),        # ROR (register): Rm<7:0>
    "pkhbt": lambda a, b, c, ge, q: ((a & 0xFFFF) | ((b << c) & 0xFFFF0000), ge, q),
    "pkhtb": lambda a, b, c, ge, q: ((a & 0xFFFF0000) | ((sint(b, 32) >> c) & 0xFFFF), ge, q),
    "sxtb16": xtb16(True), "uxtb16": xtb16(False),
    "sxtb16_ror": xtb16(True), "uxtb16_ror": xtb16(False),
    "sxtb16_ror8_helper": xtb16(True, rot=8), "uxtb16_ror8_helper": xtb16(False, rot=8),
    "sxtab16": xtb16(True, accumulate=True), "uxtab16": xtb16(False, accumulate=True),
    "smlad": smlad_like(False, False, True), "smladx": smlad_like(True, False, True),
    # SMMLA: (Ra:0 + Rn * Rm)<63:32>; SMMULR: (Rn * Rm + 0x80000000)<63:32>
    "smmla_helper": lambda a, b, c, ge, q: ((((sint(c, 32) << 32) + sint(a, 32) * sint(b, 32)) >> 32) & M32, ge, q),
    "smmulr_helper": lambda a, b, c, ge, q: (((sint(a, 32) * sint(b, 32) + (1 << 31)) >> 32) & M32, ge, q),
    "smlsd": smlad_like(False, True, True), "smlsdx": smlad_like(True, True, True),
    "smuad": smlad_like(False, False, False), "smuadx": smlad_like(True, False, False),
    "smusd": smlad_like(False, True, False, sets_q=False), "smusdx": smlad_like(True, True, False, sets_q=False),
    "smlald": smlald_like(False, False), "smlaldx": smlald_like(True, False),
    "smlsld": smlald_like(False, True), "smlsldx": smlald_like(True, True),
    "sadd16": par_addsub(16, True, False), "ssub16": par_addsub(16, True, True),
    "uadd16": par_addsub(16, False, False), "usub16": par_addsub(16, False, True),
    "sadd8": par_addsub(8, True, False), "ssub8": par_addsub(8, True, True),
    "uadd8": par_addsub(8, False, False), "usub8": par_addsub(8, False, True),
    "sel": sel,
    "qadd16": qaddsub(16, False), "qsub16": qaddsub(16, True),
    "qadd8": qaddsub(8, False), "qsub8": qaddsub(8, True),
    "qadd": qadd32(False), "qsub": qadd32(True),
    "ssat": sat(True, False), "usat": sat(False, False), "ssat16": sat(True, True), "usat16": sat(False, True),
}
# Rows of the program that check mcubert_support.h's helpers, not an intrinsic of their own.
HELPERS = {"sxtb16_ror", "uxtb16_ror", "sxtb16_ror8_helper", "uxtb16_ror8_helper", "smmla_helper",
           "smmulr_helper"}

# ---------------------------------------------------------------- builds


def _cc() -> str:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no host C compiler")
    return cc


def _host_build(out, *defines: str, src=PROGRAM) -> str:
    subprocess.run([_cc(), *WARN, "-O1", *SAN, "-DMCUBERT_HOST_DSP", *defines, f"-I{SRC}", str(src),
                    "-o", str(out)], check=True)
    return str(out)


@pytest.fixture(scope="module")
def host_dump(tmp_path_factory):
    exe = _host_build(tmp_path_factory.mktemp("acle") / "acle_vectors")
    r = subprocess.run([exe, "dump"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.endswith("acle_vectors: done\n"), r.stderr[-3000:]
    return r.stdout


def _hashes(out: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^hash (\w+) (\d+ [0-9a-f]{16})$", out, re.M)}


def _cases(out: str):
    for line in out.splitlines():
        if line.startswith(("hash ", "acle_vectors:")):
            continue
        name, *fields = line.split()
        a, b, c, ge, q, r, ge_out, q_out = (int(x, 16) for x in fields)
        yield name, (a, b, c, ge, q), (r, ge_out, q_out)


def test_emulation_matches_pseudocode(host_dump):
    bad: dict[str, list] = {}
    seen: dict[str, int] = {}
    for name, args, got in _cases(host_dump):
        seen[name] = seen.get(name, 0) + 1
        r, ge, q = REF[name](*args)
        want = (r, ge, int(q))
        if got != want:
            bad.setdefault(name, []).append((tuple(hex(x) for x in args), tuple(map(hex, got)),
                                             tuple(map(hex, want))))
    assert not bad, {k: (len(v), v[:2]) for k, v in bad.items()}
    assert set(seen) == set(REF), set(REF) ^ set(seen)
    assert min(seen.values()) >= 99, seen


def test_flags_are_observed(host_dump):
    """The program really sees GE and Q: both values of each occur before and after cases, and
    the GE producers leave GE different from what was preset (not hollow)."""
    ge_in, ge_out, q_in, q_out, moved = set(), set(), set(), set(), 0
    for name, (a, b, c, gi, qi), (r, go, qo) in _cases(host_dump):
        ge_in.add(gi), ge_out.add(go), q_in.add(qi), q_out.add(qo)
        moved += name == "ssub16" and go != gi
    assert ge_in == ge_out == set(range(16)) and q_in == q_out == {0, 1}
    assert moved > 500


def _defined_intrinsics() -> set[str]:
    text = EMU.read_text()
    names = set(re.findall(r"MCUBERT_EMU_FN\s+\w+\s+__(\w+)\s*\(", text))
    names |= set(re.findall(r"^MCUBERT_EMU_\w+\(__(\w+),", text, re.M))
    return names


def test_every_intrinsic_is_checked(host_dump):
    """Each intrinsic the emulation defines has rows in the program, and every intrinsic src/
    calls is emulated: adding one without a test, or using one without emulating it, fails."""
    defined = _defined_intrinsics()
    assert {"smlad", "sxtb16", "uxtb16", "sel", "ssub16", "smlald", "ssat", "usat", "smladx", "smlsd",
            "sadd16", "qadd16", "qsub16", "ror", "pkhbt", "pkhtb"} <= defined
    checked = set(REF) - HELPERS
    assert defined - FLAG_INTRINSICS == checked, (defined - FLAG_INTRINSICS) ^ checked
    used = set()
    for path in [*SRC.glob("*.h"), *SRC.glob("*.c"), *(SRC / "kernels").glob("*.c")]:
        if path != EMU:
            used |= set(re.findall(r"\b__(s[a-z0-9]+|u[a-z0-9]+|q[a-z0-9]+|ror|pkh\w+|sel)\s*\(",
                                   path.read_text()))
    assert used and used <= defined, used - defined


def test_trap_on_wrapping_accumulation(tmp_path):
    """MCUBERT_ACLE_EMU_TRAP_Q (the host SIMD builds) aborts where SMLAD would set Q; without
    it the sum wraps and Q is set, as on the silicon."""
    src = tmp_path / "wrap.c"
    src.write_text('#include <stdio.h>\n#include "mcubert_support.h"\n'
                   "int main(void) {\n"
                   "  int32_t r = __smlad(0x7FFF7FFF, 0x7FFF7FFF, 0x7FFFFFFF);\n"
                   '  printf("%ld %ld\\n", (long)r, (long)__saturation_occurred());\n'
                   "  return 0;\n}\n")
    r = subprocess.run([_host_build(tmp_path / "wrap", src=src)], capture_output=True, text=True, timeout=60)
    total = 2 * 0x7FFF * 0x7FFF + 0x7FFFFFFF
    assert r.returncode == 0 and r.stdout.split() == [str(total - (1 << 32)), "1"], r
    r = subprocess.run([_host_build(tmp_path / "wrap_trap", "-DMCUBERT_ACLE_EMU_TRAP_Q", src=src)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and f"__smlad result {total} wraps int32" in r.stderr, r


@pytest.mark.slow
def test_emulation_matches_cortex_m7(host_dump, tmp_path):
    """The same program on QEMU's Cortex-M7 (the DSP instructions themselves): every
    intrinsic's rows hash the same as the emulation's."""
    missing = host.cross_tools_missing()
    if missing:
        if os.environ.get("MCUBERT_REQUIRE_QEMU"):
            pytest.fail(f"no {', '.join(missing)}")
        pytest.skip(f"no {', '.join(missing)} (bash scripts/setup.sh installs them)")
    flags, ram = CROSS["cortex-m7"]
    elf = tmp_path / "acle_vectors.elf"
    subprocess.run(["arm-none-eabi-gcc", *flags, "--specs=picolibc.specs", *WARN, "-O2", f"-I{SRC}",
                    str(PROGRAM), "--oslib=semihost", "--crt0=semihost", "-Wl,--gc-sections",
                    "-Wl,--defsym=__flash=0x0", "-Wl,--defsym=__flash_size=0x400000",
                    f"-Wl,--defsym=__ram={ram}", "-Wl,--defsym=__ram_size=0x1000000",
                    "-Wl,--defsym=__stack_size=0x10000", "-Tpicolibc.ld", "-o", str(elf)], check=True)
    r = subprocess.run(host.qemu_argv("cortex-m7", elf, []), capture_output=True, text=True, timeout=300,
                       stdin=subprocess.DEVNULL)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "acle_vectors: done" in out, out[-3000:]
    want, got = _hashes(host_dump), _hashes(out)
    assert set(want) == set(REF)
    assert got == want, {k: (want[k], got.get(k)) for k in want if got.get(k) != want[k]}
