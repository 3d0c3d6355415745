# SPDX-License-Identifier: Apache-2.0
"""The C runtime: CMake builds (host and Cortex-M), the batch runner on the host or under
QEMU, and a ctypes binding."""
from __future__ import annotations

import ctypes
import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..export.planner import Plan
from ..int8.reference import Pair

REPO = Path(__file__).resolve().parents[3]
ERRORS = {
    0: "MCUBERT_OK", -1: "MCUBERT_ERR_ARG", -2: "MCUBERT_ERR_TRUNCATED", -3: "MCUBERT_ERR_MAGIC",
    -4: "MCUBERT_ERR_VERSION", -5: "MCUBERT_ERR_CRC", -6: "MCUBERT_ERR_SCHEDULE", -7: "MCUBERT_ERR_CONFIG",
    -8: "MCUBERT_ERR_LAYOUT", -9: "MCUBERT_ERR_ALIGN", -10: "MCUBERT_ERR_ARENA", -11: "MCUBERT_ERR_N_TOKENS",
    -12: "MCUBERT_ERR_TOKEN_ID",
    -13: "MCUBERT_ERR_N_FIRST", -14: "MCUBERT_ERR_MAX_IDS", -15: "MCUBERT_ERR_SCRATCH",
}
ERR = {v: k for k, v in ERRORS.items()}
_TOOLCHAIN = f"-DCMAKE_TOOLCHAIN_FILE={REPO / 'cmake' / 'arm-none-eabi.cmake'}"
VARIANTS = {"release": ["-DCMAKE_BUILD_TYPE=Release"],
            "sanitize": ["-DCMAKE_BUILD_TYPE=Debug", "-DMCUBERT_SANITIZE=ON"],
            "fuzz": ["-DCMAKE_BUILD_TYPE=Debug", "-DMCUBERT_FUZZ=ON", "-DCMAKE_C_COMPILER=clang"],
            # the SIMD kernels on the host, through emulated intrinsics (src/mcubert_acle_emu.h)
            "dsp": ["-DCMAKE_BUILD_TYPE=Release", "-DMCUBERT_HOST_DSP=ON"],
            "dsp-sanitize": ["-DCMAKE_BUILD_TYPE=Debug", "-DMCUBERT_SANITIZE=ON", "-DMCUBERT_HOST_DSP=ON"],
            "dsp-fuzz": ["-DCMAKE_BUILD_TYPE=Debug", "-DMCUBERT_FUZZ=ON", "-DCMAKE_C_COMPILER=clang",
                         "-DMCUBERT_HOST_DSP=ON"],
            "cortex-m7": [_TOOLCHAIN, "-DMCUBERT_CPU=cortex-m7", "-DCMAKE_BUILD_TYPE=Release"],
            "cortex-m3": [_TOOLCHAIN, "-DMCUBERT_CPU=cortex-m3", "-DCMAKE_BUILD_TYPE=Release"],
            "cortex-m7-portable": [_TOOLCHAIN, "-DMCUBERT_CPU=cortex-m7", "-DMCUBERT_PORTABLE=ON",
                                   "-DCMAKE_BUILD_TYPE=Release"],
            # Kconfig MCUBERT_CODE_SPEED: the larger, faster SIMD channel loop
            "cortex-m7-speed": [_TOOLCHAIN, "-DMCUBERT_CPU=cortex-m7", "-DMCUBERT_CODE_SPEED=ON",
                                "-DCMAKE_BUILD_TYPE=Release"]}
# Emulated cores: QEMU board and CPU for each cross variant.
QEMU_BOARDS = {"cortex-m7": ("mps2-an500", "cortex-m7"), "cortex-m3": ("mps2-an385", "cortex-m3"),
               "cortex-m7-portable": ("mps2-an500", "cortex-m7"), "cortex-m7-speed": ("mps2-an500", "cortex-m7")}
TARGETS = ["host", *QEMU_BOARDS]
_SETUP_HINT = ("run `bash scripts/setup.sh`, or install the Debian packages "
               "gcc-arm-none-eabi picolibc-arm-none-eabi qemu-system-arm")


class RuntimeError_(RuntimeError):
    pass


def build_dir(variant: str) -> Path:
    base = Path(os.environ.get("MCUBERT_BUILD_DIR", REPO / "build"))
    return base / (variant if variant in QEMU_BOARDS else f"host-{variant}")


def cross_tools_missing() -> list[str]:
    """What the emulated-core targets lack on this machine (empty when they can run)."""
    missing = [t for t in ("arm-none-eabi-gcc", "qemu-system-arm") if shutil.which(t) is None]
    if "arm-none-eabi-gcc" not in missing:
        specs = subprocess.run(["arm-none-eabi-gcc", "-print-file-name=picolibc.specs"],
                               capture_output=True, text=True).stdout.strip()
        if not os.path.isabs(specs):
            missing.append("picolibc (picolibc.specs)")
    return missing


def _require_cross_tools() -> None:
    missing = cross_tools_missing()
    if missing:
        raise RuntimeError_(f"emulated Cortex-M targets need {', '.join(missing)}: {_SETUP_HINT}")


def build(variant: str = "release", quiet: bool = True) -> Path:
    """Configure and build the standalone CMake project; incremental, so cheap when fresh."""
    if not (REPO / "CMakeLists.txt").exists():
        raise RuntimeError_(f"C sources not found under {REPO}: install mcubert editable from a checkout")
    if variant not in VARIANTS:
        raise ValueError(f"unknown build variant {variant!r}")
    if variant in QEMU_BOARDS:
        _require_cross_tools()
    out = build_dir(variant)
    kw = {"stdout": subprocess.DEVNULL} if quiet else {}
    if not (out / "CMakeCache.txt").exists():
        subprocess.run(["cmake", "-S", str(REPO), "-B", str(out), *VARIANTS[variant]], check=True, **kw)
    subprocess.run(["cmake", "--build", str(out), "-j", str(os.cpu_count() or 2)], check=True, **kw)
    return out


SINGLE = 0xFFFFFFFF     # INPUTS.bin n_first of a one-sentence input: the runner calls mcubert_classify()


def pack_inputs(inputs: list) -> bytes:
    """INPUTS.bin (tests/runner/mcubert_runner.c): token ids, or reference.Pair for a sentence pair."""
    out = bytearray(struct.pack("<I", len(inputs)))
    for x in inputs:
        if isinstance(x, Pair):
            ids, n_first = np.asarray(x.ids, np.int64).ravel(), int(x.n_first)
            if not 0 <= n_first < SINGLE:       # masked, -1 would turn into a single sentence
                raise ValueError(f"n_first {n_first}: INPUTS.bin holds 0..{SINGLE - 1} ({SINGLE:#x} is a "
                                 "single sentence)")
        else:
            ids, n_first = np.asarray(x, np.int64).ravel(), SINGLE
        out += struct.pack("<II", len(ids), n_first) + ids.astype("<u2").tobytes()
    return bytes(out)


@dataclass(frozen=True)
class Runner:
    """How to start the batch runner: `argv` maps the runner's file arguments to a command line."""
    argv: Callable[[list[str]], list[str]]
    timeout: float = 600


def _semihosting_args(paths: list[str]) -> str:
    # picolibc's crt0 splits the semihosting command line (1 KiB at most) on blanks;
    # QEMU's option parser reads ",," as a literal comma.
    if any(ch.isspace() for p in paths for ch in p) or sum(len(p) + 1 for p in paths) > 1000:
        raise RuntimeError_(f"runner paths must be blank-free and under 1000 bytes in all "
                            f"(pick a short TMPDIR): {paths}")
    return ",".join(["enable=on", "target=native", *(f"arg={p.replace(',', ',,')}" for p in paths)])


def qemu_argv(target: str, elf: Path, paths: list[str]) -> list[str]:
    """qemu-system-arm command line running `elf` with `paths` as argv. -icount shift=0 makes
    virtual time 1 ns per instruction, so runs and instruction counts are deterministic."""
    machine, cpu = QEMU_BOARDS[target]
    return ["qemu-system-arm", "-M", machine, "-cpu", cpu, "-nographic", "-monitor", "none",
            "-serial", "none", "-icount", "shift=0", "-semihosting-config", _semihosting_args(paths),
            "-kernel", str(elf)]


def runner(target: str = "host", variant: str = "release") -> Runner:
    """The batch runner for a target: the host binary (in a build variant) or an emulated core."""
    if target == "host":
        exe = str(build(variant) / "mcubert_runner")
        return Runner(lambda paths: [exe, *paths])
    if target in QEMU_BOARDS:
        if variant != "release":
            raise ValueError(f"target {target!r} has no build variant {variant!r}")
        elf = build(target) / "mcubert_runner.elf"
        return Runner(lambda paths: qemu_argv(target, elf, paths), timeout=3600)
    raise ValueError(f"unknown target {target!r} (one of {', '.join(TARGETS)})")


def run_runner(runner_cmd: Runner | list[str], plan: Plan, blob: bytes, inputs: list,
               timeout: float | None = None, workdir: str | None = None, counts: bool = False):
    """Run the batch runner (a Runner, or a host command line the file paths are appended to).

    Returns statuses and logits; with counts=True also the instructions each
    mcubert_classify took (emulated cores; 0 on the host).
    """
    if not isinstance(runner_cmd, Runner):
        prefix = list(runner_cmd)
        runner_cmd = Runner(lambda paths: [*prefix, *paths])
    names = ["schedule.bin", "blob.bin", "inputs.bin", "outputs.bin"] + (["counts.bin"] if counts else [])
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        paths = [Path(d).resolve() / n for n in names]
        paths[0].write_bytes(plan.to_bytes())
        paths[1].write_bytes(blob)
        paths[2].write_bytes(pack_inputs(inputs))
        limit = runner_cmd.timeout if timeout is None else timeout
        try:
            r = subprocess.run(runner_cmd.argv([str(p) for p in paths]), capture_output=True, text=True,
                               timeout=limit, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            raise RuntimeError_(f"runner timed out after {limit:.0f} s") from e
        if r.returncode != 0:
            msg = "\n".join(x.strip() for x in (r.stderr, r.stdout) if x.strip())
            raise RuntimeError_(f"runner exited {r.returncode}: {msg}")
        raw = np.frombuffer(paths[3].read_bytes(), "<i4")
        spent = [int(c) for c in np.frombuffer(paths[4].read_bytes(), "<u8")] if counts else None
    rows = raw.reshape(len(inputs), 1 + plan.dims.num_labels)
    statuses, logits = [int(s) for s in rows[:, 0]], rows[:, 1:].astype(np.int32)
    if counts:
        return statuses, logits, spent
    return statuses, logits


# ---------------------------------------------------------------- ctypes binding

def _schedule_struct(words: list[int]):
    arr = (ctypes.c_uint32 * len(words))(*words)
    return arr


class Runtime:
    """One initialised mcubert context over the shared library.

    Buffers are owned here; the arena is surrounded by guard bytes that `guards_intact`
    checks, so tests can show the runtime never writes outside it.
    """

    GUARD = 64

    def __init__(self, plan_or_words, blob: bytes, arena_len: int | None = None,
                 blob_len: int | None = None, blob_offset: int = 0, arena_offset: int = 0):
        # release build only: an ASan library cannot be loaded into an uninstrumented Python
        self.lib = load_library("release")
        words = plan_or_words.words() if isinstance(plan_or_words, Plan) else list(plan_or_words)
        self.sched = _schedule_struct(words)
        self.labels = words[9]
        self._blob_buf = ctypes.create_string_buffer(len(blob) + 32)
        base = ctypes.addressof(self._blob_buf)
        self.blob_ptr = base + (-base) % 16 + blob_offset
        ctypes.memmove(self.blob_ptr, blob, len(blob))
        self.arena_len = words[15] if arena_len is None else arena_len
        self._arena_buf = ctypes.create_string_buffer(self.arena_len + 2 * self.GUARD + 32)
        abase = ctypes.addressof(self._arena_buf) + self.GUARD
        self.arena_ptr = abase + (-abase) % 16 + arena_offset
        ctypes.memset(self.arena_ptr - self.GUARD, 0xA5, self.arena_len + 2 * self.GUARD)
        self.ctx = ctypes.create_string_buffer(256)
        self.status = self.lib.mcubert_init(self.ctx, self.sched, ctypes.c_void_p(self.blob_ptr),
                                            ctypes.c_size_t(len(blob) if blob_len is None else blob_len),
                                            ctypes.c_void_p(self.arena_ptr), ctypes.c_size_t(self.arena_len))

    def classify(self, ids, n_first: int | None = None) -> tuple[int, np.ndarray]:
        """mcubert_classify(), or mcubert_classify_pair() when n_first is given (or ids is a Pair)."""
        if isinstance(ids, Pair):
            ids, n_first = ids.ids, ids.n_first
        arr = np.ascontiguousarray(np.asarray(ids, np.uint16))
        out = np.zeros(max(self.labels, 1), np.int32)
        args = [self.ctx, arr.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(len(arr))]
        if n_first is None:
            st = self.lib.mcubert_classify(*args, out.ctypes.data_as(ctypes.c_void_p))
        else:
            st = self.lib.mcubert_classify_pair(*args, ctypes.c_size_t(n_first), out.ctypes.data_as(ctypes.c_void_p))
        return st, out

    def guards_intact(self) -> bool:
        lo = ctypes.string_at(self.arena_ptr - self.GUARD, self.GUARD)
        hi = ctypes.string_at(self.arena_ptr + self.arena_len, self.GUARD)
        return lo == hi == b"\xa5" * self.GUARD


_LIBS: dict[str, ctypes.CDLL] = {}


def load_library(variant: str = "release") -> ctypes.CDLL:
    if variant not in _LIBS:
        lib = ctypes.CDLL(str(build(variant) / "libmcubert.so"))
        lib.mcubert_init.restype = ctypes.c_int
        lib.mcubert_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                     ctypes.c_void_p, ctypes.c_size_t]
        lib.mcubert_classify.restype = ctypes.c_int
        lib.mcubert_classify.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
        lib.mcubert_classify_pair.restype = ctypes.c_int
        lib.mcubert_classify_pair.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t,
                                              ctypes.c_void_p]
        lib.mcubert_strerror.restype = ctypes.c_char_p
        lib.mcubert_strerror.argtypes = [ctypes.c_int]
        _LIBS[variant] = lib
    return _LIBS[variant]


def strerror(err: int) -> str:
    return load_library().mcubert_strerror(err).decode()
