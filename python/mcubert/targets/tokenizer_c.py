# SPDX-License-Identifier: Apache-2.0
"""ctypes binding of the C tokenizer (src/mcubert_tokenize.c) in the host shared library."""
from __future__ import annotations

import ctypes

from ..export.tokenizer_blob import vocab_blob
from . import host

TRUNCATED = 1   # MCUBERT_TOKENIZE_TRUNCATED


def _lib(variant: str):
    lib = host.load_library(variant)
    if not getattr(lib, "_tok_ready", False):
        lib.mcubert_tokenize_buffer_size.restype = ctypes.c_size_t
        lib.mcubert_tokenize_buffer_size.argtypes = []
        lib.mcubert_vocab_init.restype = ctypes.c_int
        lib.mcubert_vocab_init.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p,
                                           ctypes.c_size_t]
        lib.mcubert_tokenize.restype = ctypes.c_int
        lib.mcubert_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p,
                                         ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)]
        lib.mcubert_tokenize_pair.restype = ctypes.c_int
        lib.mcubert_tokenize_pair.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                              ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
                                              ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(ctypes.c_size_t)]
        lib.mcubert_tokenize_unicode_version.restype = ctypes.c_uint32
        lib._tok_ready = True
    return lib


class CTokenizer:
    """The C tokenizer over a vocabulary (a token list) or a ready vocabulary blob."""

    def __init__(self, vocab: list[str] | bytes, scratch_len: int | None = None, variant: str = "release"):
        self.lib = _lib(variant)
        self.blob = vocab if isinstance(vocab, bytes) else vocab_blob(vocab)
        self._blob_buf = ctypes.create_string_buffer(self.blob, len(self.blob))
        n = self.lib.mcubert_tokenize_buffer_size() if scratch_len is None else scratch_len
        self._scratch = ctypes.create_string_buffer(max(n, 1))
        self._vocab = ctypes.create_string_buffer(64)       # struct mcubert_vocab, generously
        self.status = self.lib.mcubert_vocab_init(self._vocab, self._blob_buf, len(self.blob), self._scratch, n)

    @staticmethod
    def _bytes(text: str | bytes) -> bytes:
        return text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")

    def encode_status(self, text: str | bytes, max_len: int) -> tuple[int, list[int]]:
        raw = self._bytes(text)
        ids = (ctypes.c_uint16 * max(max_len, 1))()
        n = ctypes.c_size_t(0)
        st = self.lib.mcubert_tokenize(self._vocab, raw, len(raw), ids, max_len, ctypes.byref(n))
        return st, list(ids[:n.value])

    def encode(self, text: str | bytes, max_len: int) -> list[int]:
        st, ids = self.encode_status(text, max_len)
        if st < 0:
            raise ValueError(f"mcubert_tokenize: {host.strerror(st)}")
        return ids

    def encode_pair_status(self, a: str | bytes, b: str | bytes, max_len: int) -> tuple[int, list[int], int]:
        ra, rb = self._bytes(a), self._bytes(b)
        ids = (ctypes.c_uint16 * max(max_len, 1))()
        n, nf = ctypes.c_size_t(0), ctypes.c_size_t(0)
        st = self.lib.mcubert_tokenize_pair(self._vocab, ra, len(ra), rb, len(rb), ids, max_len, ctypes.byref(n),
                                            ctypes.byref(nf))
        return st, list(ids[:n.value]), nf.value

    def encode_pair(self, a: str | bytes, b: str | bytes, max_len: int) -> tuple[list[int], int]:
        st, ids, nf = self.encode_pair_status(a, b, max_len)
        if st < 0:
            raise ValueError(f"mcubert_tokenize_pair: {host.strerror(st)}")
        return ids, nf

    def unicode_version(self) -> int:
        return self.lib.mcubert_tokenize_unicode_version()


# ---------------------------------------------------------------- batch runner

SINGLE = 0xFFFFFFFF


def pack_tok_inputs(items: list[tuple[bytes, bytes | None, int]]) -> bytes:
    """INPUTS.bin of tests/runner/mcubert_tok_runner.c: (text, pair text or None, max_ids) each."""
    import struct

    out = bytearray(struct.pack("<I", len(items)))
    for a, b, max_ids in items:
        out += struct.pack("<III", max_ids, len(a), SINGLE if b is None else len(b)) + a + (b or b"")
    return bytes(out)


def unpack_tok_outputs(raw: bytes, count: int) -> list[tuple[int, list[int], int]]:
    import struct

    out, pos = [], 0
    for _ in range(count):
        st, n, nf = struct.unpack_from("<iII", raw, pos)
        pos += 12
        out.append((st, list(struct.unpack_from(f"<{n}H", raw, pos)), nf))
        pos += 2 * n
    if pos != len(raw):
        raise host.RuntimeError_(f"tokenizer runner wrote {len(raw)} bytes, expected {pos}")
    return out


def tok_runner(target: str = "host", variant: str = "release") -> host.Runner:
    if target == "host":
        exe = str(host.build(variant) / "mcubert_tok_runner")
        return host.Runner(lambda paths: [exe, *paths])
    if target in host.QEMU_BOARDS:
        elf = host.build(target) / "mcubert_tok_runner.elf"
        return host.Runner(lambda paths: host.qemu_argv(target, elf, paths), timeout=3600)
    raise ValueError(f"unknown target {target!r}")


def run_tok_runner(runner: host.Runner, blob: bytes, items: list[tuple[bytes, bytes | None, int]],
                   workdir: str | None = None, counts: bool = False):
    """(status, ids, n_first) of each item through the batch runner; with counts=True also the
    instructions of each call and of mcubert_vocab_init (emulated cores; 0 on the host)."""
    import subprocess
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(dir=workdir) as d:
        names = ("vocab.bin", "inputs.bin", "outputs.bin") + (("counts.bin",) if counts else ())
        paths = [Path(d).resolve() / n for n in names]
        paths[0].write_bytes(blob)
        paths[1].write_bytes(pack_tok_inputs(items))
        r = subprocess.run(runner.argv([str(p) for p in paths]), capture_output=True, text=True,
                           timeout=runner.timeout, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise host.RuntimeError_(f"tokenizer runner exited {r.returncode}: {r.stderr.strip() or r.stdout.strip()}")
        res = unpack_tok_outputs(paths[2].read_bytes(), len(items))
        if not counts:
            return res
        import struct

        raw = paths[3].read_bytes()
        spent = list(struct.unpack(f"<{len(raw) // 8}Q", raw))
        return res, spent[:-1], spent[-1]
