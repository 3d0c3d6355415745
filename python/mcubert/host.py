# SPDX-License-Identifier: Apache-2.0
"""The C runtime on the host: CMake build, the batch runner, and a ctypes binding."""
from __future__ import annotations

import ctypes
import os
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .planner import Plan

REPO = Path(__file__).resolve().parents[2]
ERRORS = {
    0: "MCUBERT_OK", -1: "MCUBERT_ERR_ARG", -2: "MCUBERT_ERR_TRUNCATED", -3: "MCUBERT_ERR_MAGIC",
    -4: "MCUBERT_ERR_VERSION", -5: "MCUBERT_ERR_CRC", -6: "MCUBERT_ERR_SCHEDULE", -7: "MCUBERT_ERR_CONFIG",
    -8: "MCUBERT_ERR_LAYOUT", -9: "MCUBERT_ERR_ALIGN", -10: "MCUBERT_ERR_ARENA", -11: "MCUBERT_ERR_N_TOKENS",
    -12: "MCUBERT_ERR_TOKEN_ID",
}
ERR = {v: k for k, v in ERRORS.items()}
VARIANTS = {"release": ["-DCMAKE_BUILD_TYPE=Release"],
            "sanitize": ["-DCMAKE_BUILD_TYPE=Debug", "-DMCUBERT_SANITIZE=ON"],
            "fuzz": ["-DCMAKE_BUILD_TYPE=Debug", "-DMCUBERT_FUZZ=ON", "-DCMAKE_C_COMPILER=clang"]}


class RuntimeError_(RuntimeError):
    pass


def build_dir(variant: str) -> Path:
    return Path(os.environ.get("MCUBERT_BUILD_DIR", REPO / "build")) / f"host-{variant}"


def build(variant: str = "release", quiet: bool = True) -> Path:
    """Configure and build the standalone CMake project; incremental, so cheap when fresh."""
    if not (REPO / "CMakeLists.txt").exists():
        raise RuntimeError_(f"C sources not found under {REPO}: install mcubert editable from a checkout")
    out = build_dir(variant)
    kw = {"stdout": subprocess.DEVNULL} if quiet else {}
    if not (out / "CMakeCache.txt").exists():
        subprocess.run(["cmake", "-S", str(REPO), "-B", str(out), *VARIANTS[variant]], check=True, **kw)
    subprocess.run(["cmake", "--build", str(out), "-j", str(os.cpu_count() or 2)], check=True, **kw)
    return out


def pack_inputs(inputs: list) -> bytes:
    out = bytearray(struct.pack("<I", len(inputs)))
    for ids in inputs:
        ids = np.asarray(ids, np.uint16)
        out += struct.pack("<I", len(ids)) + ids.astype("<u2").tobytes()
    return bytes(out)


def run_runner(runner_cmd: list[str], plan: Plan, blob: bytes, inputs: list, timeout: float = 600,
               workdir: str | None = None) -> tuple[list[int], np.ndarray]:
    """Run the batch runner (host binary or an emulator command line); returns statuses and logits."""
    with tempfile.TemporaryDirectory(dir=workdir) as d:
        paths = [Path(d) / n for n in ("schedule.bin", "blob.bin", "inputs.bin", "outputs.bin")]
        paths[0].write_bytes(plan.to_bytes())
        paths[1].write_bytes(blob)
        paths[2].write_bytes(pack_inputs(inputs))
        r = subprocess.run([*runner_cmd, *map(str, paths)], capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError_(f"runner exited {r.returncode}: {r.stderr.strip()}")
        raw = np.frombuffer(paths[3].read_bytes(), "<i4")
    rows = raw.reshape(len(inputs), 1 + plan.dims.num_labels)
    return [int(s) for s in rows[:, 0]], rows[:, 1:].astype(np.int32)


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

    def classify(self, ids) -> tuple[int, np.ndarray]:
        arr = np.ascontiguousarray(np.asarray(ids, np.uint16))
        out = np.zeros(max(self.labels, 1), np.int32)
        st = self.lib.mcubert_classify(self.ctx, arr.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(len(arr)),
                                       out.ctypes.data_as(ctypes.c_void_p))
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
        lib.mcubert_strerror.restype = ctypes.c_char_p
        lib.mcubert_strerror.argtypes = [ctypes.c_int]
        _LIBS[variant] = lib
    return _LIBS[variant]


def strerror(err: int) -> str:
    return load_library().mcubert_strerror(err).decode()
