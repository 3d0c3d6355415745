# SPDX-License-Identifier: Apache-2.0
"""The portable `.mcubert` model file.

Layout (little-endian):
    magic    8 bytes  b"MCUBERT\\0"
    version  u32      FORMAT_VERSION
    json_len u32      length of the UTF-8 JSON header
    json              {"config", "scales", "vocab", "sections": {name: {offset, shape, dtype}}}
    padding           to a multiple of 16
    data              section bytes; offsets are relative to the data start, each 16-aligned
    crc32    u32      zlib CRC-32 of every byte before it
"""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np

from .qmodel import QuantModel

MAGIC = b"MCUBERT\0"
FORMAT_VERSION = 1
ALIGN = 16


class ModelFileError(ValueError):
    pass


def _pad(n: int) -> int:
    return (-n) % ALIGN


def save(qm: QuantModel, path: str | Path) -> int:
    sections, data = {}, bytearray()
    for name, arr in qm.tensors.items():
        arr = np.ascontiguousarray(arr)
        data += b"\0" * _pad(len(data))
        sections[name] = {"offset": len(data), "shape": list(arr.shape), "dtype": arr.dtype.str}
        data += arr.tobytes()
    header = json.dumps({"config": qm.config, "scales": qm.scales, "vocab": qm.vocab,
                         "sections": sections}, separators=(",", ":")).encode()
    head = MAGIC + struct.pack("<II", FORMAT_VERSION, len(header)) + header
    body = head + b"\0" * _pad(len(head)) + bytes(data)
    blob = body + struct.pack("<I", zlib.crc32(body))
    Path(path).write_bytes(blob)
    return len(blob)


def load(path: str | Path) -> QuantModel:
    raw = Path(path).read_bytes()
    if len(raw) < 20 or raw[:8] != MAGIC:
        raise ModelFileError(f"{path}: not a .mcubert file (bad magic)")
    version, jlen = struct.unpack_from("<II", raw, 8)
    if version != FORMAT_VERSION:
        raise ModelFileError(f"{path}: format version {version}, this tool reads {FORMAT_VERSION}")
    (crc,) = struct.unpack_from("<I", raw, len(raw) - 4)
    if zlib.crc32(raw[:-4]) != crc:
        raise ModelFileError(f"{path}: CRC mismatch (file corrupted or truncated)")
    if 16 + jlen > len(raw) - 4:
        raise ModelFileError(f"{path}: truncated header")
    meta = json.loads(raw[16:16 + jlen])
    start = 16 + jlen + _pad(16 + jlen)
    tensors = {}
    for name, s in meta["sections"].items():
        dt = np.dtype(s["dtype"])
        count = int(np.prod(s["shape"])) if s["shape"] else 1
        off = start + s["offset"]
        if off + count * dt.itemsize > len(raw) - 4:
            raise ModelFileError(f"{path}: section {name} runs past the end")
        tensors[name] = np.frombuffer(raw, dt, count, off).reshape(s["shape"]).copy()
    return QuantModel(config=meta["config"], tensors=tensors, scales=meta.get("scales", {}),
                      vocab=meta.get("vocab"))
