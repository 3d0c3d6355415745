# SPDX-License-Identifier: Apache-2.0
"""The target weight blob the C runtime reads in place (format: src/mcubert_blob.h).

Header (little-endian, 72 bytes, then the slot table):
    0  u32 magic "MCBB"          4  u16 version        6  u16 weight layout
    8  u32 total length          12 u32 CRC-32 of bytes [16, total length)
    16 u32 schedule hash         20 u32 slot count
    24 u32 config[12]: vocab, hidden, layers, heads, ffn, max_positions, labels,
       clusters, cluster_bits, ckpt_block, logit scale (float32 bits), pos_rank
    72 slot table: (u32 offset, u32 size) per slot; every offset is 16-aligned.

pos_rank 0: slot "pos" is the dense int8 [max_positions][H] table and "pos_rq" one (M, S) pair.
pos_rank k: "pos" is A' int8 [max_positions][k] followed by B'^T int8 [H][k], and "pos_rq"
per-channel M[H] then S[H] (QuantModel.pos_rank; docs/numerics.md).
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

from ..int8.qmodel import LAYER_TENSORS, QuantModel

MAGIC = b"MCBB"
BLOB_VERSION = 3       # 2: the segment-B slot (sentence pairs); 3: pos_rank (low-rank positions)
LAYOUT_ROW_MAJOR = 0
LAYOUT_OC2_K4 = 1  # earlier blobs: channel pairs interleaved; mcubert_init refuses it now
LAYOUT_K8 = 2      # the layout every kernel variant reads (pad_k8)
HEADER_SIZE = 72
ALIGN = 16
CKPT_BLOCK = 64
GLOBAL_SLOTS = ("cluster_info", "cluster_map", "cluster_ckpt", "emb_u", "emb_vt", "emb_rq", "pos", "pos_rq",
                "emb_ln", "pool_w", "pool_b", "pool_rq", "tanh_lut", "cls_w", "cls_b", "cls_rq", "segment")


WEIGHT_SLOTS = ("pool_w", "cls_w") + tuple(f"{n}.w" for n in ("q", "k", "v", "o", "f1", "f2"))


def kp8(k: int) -> int:
    return -(-k // 8) * 8


def pad_k8(w: np.ndarray) -> np.ndarray:
    """W[O][K] -> the K8 layout the linear kernels read (src/mcubert_blob.h): one row per
    output channel, K zero-padded to a multiple of 8, so W[o][k] lands at o*Kp8 + k. The SIMD
    kernel loads a row's next 8 weights with one LDRD: rows are 8-aligned, without a K tail."""
    O, K = w.shape
    pad = np.zeros((O, kp8(K)), np.int8)
    pad[:, :K] = w
    return pad.reshape(-1)


def unpad_k8(flat: np.ndarray, O: int, K: int) -> np.ndarray:
    return np.asarray(flat, np.int8).reshape(O, kp8(K))[:, :K]


def cluster_bits(k: int) -> int:
    return 0 if k <= 1 else next(b for b in (1, 2, 4, 8) if k <= 1 << b)


def pack_cluster_map(cluster_of: np.ndarray, bits: int) -> bytes:
    if bits == 0:
        return b""
    per = 8 // bits
    ids = np.zeros(-(-len(cluster_of) // per) * per, np.uint8)
    ids[: len(cluster_of)] = cluster_of
    ids = ids.reshape(-1, per).astype(np.uint16)
    packed = np.zeros(len(ids), np.uint16)
    for j in range(per):
        packed |= ids[:, j] << (j * bits)
    return packed.astype(np.uint8).tobytes()


def cluster_checkpoints(cluster_of: np.ndarray, k: int) -> np.ndarray:
    """count[b][c]: tokens of cluster c with id < b * CKPT_BLOCK (u16)."""
    nblocks = -(-len(cluster_of) // CKPT_BLOCK)
    counts = np.zeros((nblocks, k), np.int64)
    onehot = np.zeros((len(cluster_of), k), np.int64)
    onehot[np.arange(len(cluster_of)), cluster_of.astype(np.int64)] = 1
    cums = np.vstack([np.zeros((1, k), np.int64), np.cumsum(onehot, axis=0)])
    counts[:] = cums[np.arange(nblocks) * CKPT_BLOCK]
    if counts.max(initial=0) > 0xFFFF:
        raise ValueError("a cluster has more than 65535 tokens")
    return counts.astype(np.uint16)


def _slots(qm: QuantModel) -> list[bytes]:
    t = qm.tensors
    K = len(qm.cluster_sizes)
    cl = t["emb.cluster_of"]
    bits = cluster_bits(K)
    i32 = lambda a: np.ascontiguousarray(a, np.int32).tobytes()     # noqa: E731
    s8 = lambda a: np.ascontiguousarray(a, np.int8).tobytes()       # noqa: E731
    g = [
        np.array([[n, r] for n, r in zip(qm.cluster_sizes, qm.cluster_ranks)], np.uint32).tobytes(),
        pack_cluster_map(cl, bits),
        cluster_checkpoints(cl, K).tobytes(),
        b"".join(s8(t[f"emb.U.{c}"]) for c in range(K)),
        b"".join(s8(t[f"emb.Vt.{c}"]) for c in range(K)),
        b"".join(i32(t[f"emb.rq.{c}"]) for c in range(K)),
        s8(t["pos"]) + (s8(t["pos.vt"]) if qm.pos_rank else b""), i32(t["pos.rq"]), i32(t["emb.ln"]),
        s8(pad_k8(t["pool.w"])), i32(t["pool.b"]), i32(t["pool.rq"]), s8(t["tanh_lut"]),
        s8(pad_k8(t["cls.w"])), i32(t["cls.b"]), i32(t["cls.rq"]),
        np.ascontiguousarray(qm.segment, "<i2").tobytes(),
    ]
    for i in range(qm.layers):
        for name in LAYER_TENSORS:
            a = np.ascontiguousarray(qm.layer(i, name))
            if name in WEIGHT_SLOTS:
                a = pad_k8(a)
            g.append(a.tobytes())
    return g


def build_blob(qm: QuantModel, schedule_hash: int) -> bytes:
    K = len(qm.cluster_sizes)
    slots = _slots(qm)
    table_end = HEADER_SIZE + 8 * len(slots)
    data, entries = bytearray(), []
    pos = table_end + (-table_end) % ALIGN
    for s in slots:
        pad = (-(pos + len(data))) % ALIGN
        data += b"\0" * pad
        entries.append((pos + len(data), len(s)))
        data += s
    total = pos + len(data)
    logit_bits = struct.unpack("<I", struct.pack("<f", float(qm.scales.get("logit", 1.0))))[0]
    cfg = [qm.vocab_size, qm.hidden, qm.layers, qm.heads, qm.ffn, qm.max_positions, qm.num_labels, K,
           cluster_bits(K), CKPT_BLOCK, logit_bits, qm.pos_rank]
    head = bytearray(MAGIC + struct.pack("<HHIII I", BLOB_VERSION, LAYOUT_K8, total, 0,
                                         schedule_hash, len(slots)))
    head += struct.pack("<12I", *cfg)
    for off, size in entries:
        head += struct.pack("<II", off, size)
    head += b"\0" * (pos - len(head))
    out = bytearray(head + data)
    struct.pack_into("<I", out, 12, zlib.crc32(bytes(out[16:])))
    return bytes(out)


def fix_crc(blob: bytes) -> bytes:
    """Recompute the CRC (tests use it to reach the checks behind the CRC)."""
    out = bytearray(blob)
    struct.pack_into("<I", out, 12, zlib.crc32(bytes(out[16:])))
    return bytes(out)
