# SPDX-License-Identifier: Apache-2.0
"""The .mcubert container and the generated blob/.inc files."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from mcubert.int8 import modelfile
from mcubert.export.blob import HEADER_SIZE, build_blob, cluster_checkpoints, pack_cluster_map
from mcubert.export.generate import generate


def test_roundtrip(small_qm, tmp_path):
    path = tmp_path / "m.mcubert"
    modelfile.save(small_qm, path)
    back = modelfile.load(path)
    assert back.config == small_qm.config and back.scales == small_qm.scales
    assert set(back.tensors) == set(small_qm.tensors)
    for k, v in small_qm.tensors.items():
        assert back.tensors[k].dtype == v.dtype and np.array_equal(back.tensors[k], v), k
    raw = path.read_bytes()
    assert raw[:8] == b"MCUBERT\0" and struct.unpack_from("<I", raw, 8)[0] == modelfile.FORMAT_VERSION
    assert struct.unpack_from("<I", raw, len(raw) - 4)[0] == zlib.crc32(raw[:-4])


@pytest.mark.parametrize("mutate,msg", [
    (lambda r: r[:-1], "CRC"),
    (lambda r: b"NOTMCUB\0" + r[8:], "magic"),
    (lambda r: r[:8] + struct.pack("<I", 9) + r[12:], "version"),
])
def test_rejects_damaged_files(small_qm, tmp_path, mutate, msg):
    path = tmp_path / "m.mcubert"
    modelfile.save(small_qm, path)
    path.write_bytes(mutate(path.read_bytes()))
    with pytest.raises(modelfile.ModelFileError, match=msg):
        modelfile.load(path)


def test_generated_files_agree(small_qm, tmp_path):
    modelfile.save(small_qm, tmp_path / "m.mcubert")
    g = generate(tmp_path / "m.mcubert", 16, tmp_path / "out", name="m")
    blob = g.files["bin"].read_bytes()
    inc = bytes(int(x, 16) for x in g.files["inc"].read_text().replace(",", " ").split())
    assert inc == blob == g.blob
    assert g.files["schedule"].read_bytes() == g.plan.to_bytes()
    # every section is 16-aligned and inside the blob
    n_slots = struct.unpack_from("<I", blob, 20)[0]
    for i in range(n_slots):
        off, size = struct.unpack_from("<II", blob, HEADER_SIZE + 8 * i)
        assert off % 16 == 0 and off + size <= len(blob)
    assert struct.unpack_from("<I", blob, 16)[0] == g.plan.hash


def test_index_tables():
    rng = np.random.default_rng(0)
    for k, bits in ((2, 1), (3, 2), (4, 2), (9, 4), (200, 8)):
        cl = rng.integers(0, k, 1000).astype(np.uint8)
        packed = np.frombuffer(pack_cluster_map(cl, bits), np.uint8)
        unpacked = [(packed[(t * bits) >> 3] >> ((t * bits) & 7)) & ((1 << bits) - 1) for t in range(1000)]
        assert np.array_equal(unpacked, cl)
        ck = cluster_checkpoints(cl, k)
        for blk in range(len(ck)):
            assert np.array_equal(ck[blk], np.bincount(cl[: blk * 64], minlength=k))


def test_blob_depends_on_schedule(small_qm):
    a, b = build_blob(small_qm, 1), build_blob(small_qm, 2)
    assert a[16:20] != b[16:20] and a[20:] == b[20:] and a[12:16] != b[12:16]
