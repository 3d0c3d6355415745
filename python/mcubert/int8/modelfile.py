# SPDX-License-Identifier: Apache-2.0
"""The portable `.mcubert` model file.

Layout (little-endian):
    magic    8 bytes  b"MCUBERT\\0"
    version  u32      FORMAT_VERSION
    json_len u32      length of the UTF-8 JSON header
    json              {"config", "scales", "vocab", "provenance", "sections": {name: {offset, shape, dtype}}}
    padding           to a multiple of 16
    data              section bytes; offsets are relative to the data start, each 16-aligned
    crc32    u32      zlib CRC-32 of every byte before it

Versions: 1 had no "provenance"; 2 adds it (how the model was made: embedding method, training
data, accuracy when it was made). Both load; `save` writes 2.
"""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np

from .qmodel import CONFIG_KEYS, QuantModel

MAGIC = b"MCUBERT\0"
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)
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
                         "provenance": qm.provenance, "sections": sections}, separators=(",", ":")).encode()
    head = MAGIC + struct.pack("<II", FORMAT_VERSION, len(header)) + header
    body = head + b"\0" * _pad(len(head)) + bytes(data)
    blob = body + struct.pack("<I", zlib.crc32(body))
    Path(path).write_bytes(blob)
    return len(blob)


def load(path: str | Path) -> QuantModel:
    """Read a .mcubert file; ModelFileError (a ValueError) says what is wrong with it."""
    p = Path(path)
    if p.is_dir():
        raise ModelFileError(f"{p} is a directory, not a .mcubert file (a checkpoint directory becomes one "
                             f"with `mcubert quantize {p} --out FILE.mcubert`)")
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{p}: no such file") from None
    except OSError as e:
        raise ModelFileError(f"{p}: cannot read it ({e.strerror})") from None
    if len(raw) < 20 or raw[:8] != MAGIC:
        raise ModelFileError(f"{p}: not a .mcubert file (bad magic)")
    version, jlen = struct.unpack_from("<II", raw, 8)
    if version not in READ_VERSIONS:
        raise ModelFileError(f"{p}: format version {version}; this mcubert reads versions "
                             f"{', '.join(map(str, READ_VERSIONS))}")
    (crc,) = struct.unpack_from("<I", raw, len(raw) - 4)
    if zlib.crc32(raw[:-4]) != crc:
        raise ModelFileError(f"{p}: CRC mismatch (file corrupted or truncated)")
    if 16 + jlen > len(raw) - 4:
        raise ModelFileError(f"{p}: truncated header")
    try:
        meta = json.loads(raw[16:16 + jlen])
        start = 16 + jlen + _pad(16 + jlen)
        tensors = {}
        for name, s in meta["sections"].items():
            dt = np.dtype(s["dtype"])
            count = int(np.prod(s["shape"])) if s["shape"] else 1
            off = start + int(s["offset"])
            if off < start or off + count * dt.itemsize > len(raw) - 4:
                raise ModelFileError(f"{p}: section {name} runs past the end")
            tensors[name] = np.frombuffer(raw, dt, count, off).reshape(s["shape"]).copy()
        qm = QuantModel(config=dict(meta["config"]), tensors=tensors, scales=meta.get("scales") or {},
                        vocab=meta.get("vocab"), provenance=meta.get("provenance") or {})
        for key in CONFIG_KEYS:
            qm.config[key]      # noqa: B018  (a missing key is a damaged header)
    except ModelFileError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ModelFileError(f"{p}: damaged header ({type(e).__name__}: {e})") from None
    return qm


def file_version(path: str | Path) -> int:
    """The format version a file was written with."""
    with open(path, "rb") as f:
        head = f.read(12)
    if len(head) < 12 or head[:8] != MAGIC:
        raise ModelFileError(f"{path}: not a .mcubert file (bad magic)")
    return struct.unpack_from("<I", head, 8)[0]


def set_provenance(path: str | Path, **fields) -> None:
    """Add or update provenance fields of a model file in place (the tensors are unchanged)."""
    qm = load(path)
    qm.provenance.update(fields)
    save(qm, path)
