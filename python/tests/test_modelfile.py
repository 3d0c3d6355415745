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


def test_low_rank_positions_roundtrip(small_qm, lowrank_qm, tmp_path):
    """The factor width is the shape of "pos.vt": a saved and loaded model keeps it, and its blob
    (config word 11, the pos and pos_rq slots) is byte for byte the original's."""
    assert small_qm.pos_rank == 0 and "pos.vt" not in small_qm.tensors
    assert small_qm.tensors["pos"].shape == (64, 36) and small_qm.tensors["pos.rq"].shape == (2,)
    qm = lowrank_qm
    assert qm.pos_rank == 5
    assert qm.tensors["pos"].shape == (64, 5) and qm.tensors["pos.vt"].shape == (36, 5)
    assert qm.tensors["pos.rq"].shape == (2, 36) and qm.tensors["pos.rq"].dtype == np.int32
    # the folded column: every position carries segment A at the full int8 scale
    assert (qm.tensors["pos"][:, -1] == 127).all()
    path = tmp_path / "p.mcubert"
    modelfile.save(qm, path)
    back = modelfile.load(path)
    assert back.pos_rank == 5 and back.config == qm.config
    for k, v in qm.tensors.items():
        assert back.tensors[k].dtype == v.dtype and np.array_equal(back.tensors[k], v), k
    blob = build_blob(back, 0)
    assert blob == build_blob(qm, 0)
    assert struct.unpack_from("<I", blob, 24 + 4 * 11)[0] == 5
    assert struct.unpack_from("<I", build_blob(small_qm, 0), 24 + 4 * 11)[0] == 0
    from mcubert.targets.info import describe

    assert "max positions: 64, low rank (factors 5 wide: rank 4 + segment A)" in describe(back, path)
    assert "max positions: 64\n" in describe(small_qm)


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


def _as_version_1(raw: bytes) -> bytes:
    """The same file as format version 1 wrote it: no provenance in the header."""
    import json
    import struct
    import zlib

    jlen = struct.unpack_from("<I", raw, 12)[0]
    meta = json.loads(raw[16:16 + jlen])
    del meta["provenance"]
    header = json.dumps(meta, separators=(",", ":")).encode()
    head = raw[:8] + struct.pack("<II", 1, len(header)) + header
    data = raw[16 + jlen + (-(16 + jlen)) % 16:-4]
    body = head + b"\0" * ((-len(head)) % 16) + data
    return body + struct.pack("<I", zlib.crc32(body))


def test_version_1_files_load_and_provenance_round_trips(tmp_path, small_qm):

    from mcubert.targets.info import describe

    small_qm.provenance = {"embedding": "search", "int8_test_accuracy": 0.8123}
    f = tmp_path / "m.mcubert"
    modelfile.save(small_qm, f)
    assert modelfile.file_version(f) == 2 and modelfile.load(f).provenance == small_qm.provenance
    modelfile.set_provenance(f, test_sentences=99)
    assert modelfile.load(f).provenance["test_sentences"] == 99
    old = tmp_path / "old.mcubert"
    old.write_bytes(_as_version_1(f.read_bytes()))
    qm = modelfile.load(old)
    assert modelfile.file_version(old) == 1 and qm.provenance == {}
    assert all(np.array_equal(qm.tensors[k], small_qm.tensors[k]) for k in small_qm.tensors)
    assert "not recorded (a format version 1 file)" in describe(qm, old)
    assert "int8 test accuracy: 0.8123" in describe(modelfile.load(f), f)
    newer = bytearray(f.read_bytes())
    newer[8] = 3
    (tmp_path / "v3.mcubert").write_bytes(bytes(newer))
    with pytest.raises(modelfile.ModelFileError, match="format version 3; this mcubert reads versions 1, 2"):
        modelfile.load(tmp_path / "v3.mcubert")


def test_info_on_the_shipped_model():
    from pathlib import Path

    from mcubert.targets.info import describe

    f = Path(__file__).resolve().parents[2] / "samples" / "bert_classify" / "model" / "sentiment_tiny.mcubert"
    from mcubert.export.planner import Dims, plan

    qm = modelfile.load(f)
    text = describe(qm, f)
    # The arena line is the planner's figure (it moves with the schedule), within the issue-18 bound.
    arena = plan(Dims.of(qm), 128).arena_size
    assert arena <= 51_200
    for want in ("preset: bert-tiny (2 layers, hidden 128, 2 heads of 64, FFN 512)", "vocabulary: 30,522 tokens",
                 "max positions: 512, low rank (factors 51 wide", "labels (2): negative, positive",
                 "cluster 0: 30,100 tokens, rank 3", "blob: 599,568 B", f"arena at 128 tokens: {arena:,} B",
                 "embedding: search", "int8 test accuracy: 0.7814"):
        assert want in text, want
