# SPDX-License-Identifier: Apache-2.0
"""Exact flash cost of a model, without quantizing it (the search's budget).

The numbers mirror blob.build_blob: the blob is a 72-byte header and a slot table, padded to
ALIGN, then one slot per tensor group (blob.GLOBAL_SLOTS, then blob.LAYER_TENSORS per
layer), each starting on an ALIGN boundary. Every slot but the last therefore occupies its
size rounded up to ALIGN. The first six slots are the word embedding:

    cluster_info   K x (u32 size, u32 rank)
    cluster_map    token -> cluster ids packed at cluster_bits(K) bits (none for K = 1)
    cluster_ckpt   u16 count per (block of CKPT_BLOCK token ids, cluster)
    emb_u          int8 U_c (n_c x r_c), all clusters
    emb_vt         int8 Vt_c (hidden x r_c), all clusters
    emb_rq         int32 requant (M, S) per hidden channel, per cluster (rank 0 included)

Only the cluster sizes and ranks matter, never which tokens a cluster holds. The next two
slots are the position table, dense or low rank (position_slot_sizes; the config's
position_rank r is stored r + 1 columns wide).
tests/test_search.py checks these formulas slot by slot against real blobs.
"""
from __future__ import annotations

from pathlib import Path

from ..export.blob import ALIGN, CKPT_BLOCK, GLOBAL_SLOTS, HEADER_SIZE, cluster_bits
from ..int8.qmodel import LAYER_TENSORS

# Flash left to the user's application by default (the search's budget leaves it free).
DEFAULT_RESERVE = 405 * 1024   # 414720 B: a bert-tiny blob then stays <= 600,000 B


def _align(n: int) -> int:
    return n + (-n) % ALIGN


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def embedding_slot_sizes(cluster_sizes, ranks, vocab_size: int, hidden: int) -> list[int]:
    """Unpadded byte sizes of the six embedding slots, in blob order."""
    sizes, ranks = [int(n) for n in cluster_sizes], [int(r) for r in ranks]
    k = len(sizes)
    if len(ranks) != k or k == 0:
        raise ValueError(f"need one rank per cluster, got sizes {sizes} ranks {ranks}")
    if sum(sizes) != vocab_size:
        raise ValueError(f"cluster sizes sum to {sum(sizes)}, expected vocab_size {vocab_size}")
    if k > 256:
        raise ValueError(f"{k} clusters: at most 256 are supported")
    bits = cluster_bits(k)
    return [
        8 * k,                                                  # cluster_info
        _ceil(vocab_size, 8 // bits) if bits else 0,            # cluster_map
        2 * k * _ceil(vocab_size, CKPT_BLOCK),                  # cluster_ckpt
        sum(n * r for n, r in zip(sizes, ranks)),               # emb_u
        hidden * sum(ranks),                                    # emb_vt
        8 * hidden * k,                                         # emb_rq
    ]


def embedding_flash_bytes(cluster_sizes, ranks, vocab_size: int, hidden: int) -> int:
    """Bytes the word embedding takes in the blob, ALIGN padding of each slot included.

    Two models that differ only in their embedding clusters/ranks have blobs whose lengths
    differ by exactly the difference of this function."""
    return sum(_align(s) for s in embedding_slot_sizes(cluster_sizes, ranks, vocab_size, hidden))


def embedding_fixed_bytes(k: int, vocab_size: int, hidden: int) -> int:
    """The embedding bytes that do not scale with any rank: cluster table, map, checkpoints and
    requant parameters (padded). embedding_flash_bytes = this + align(U bytes) + align(Vt bytes)."""
    s = embedding_slot_sizes([vocab_size] + [0] * (k - 1), [0] * k, vocab_size, hidden)
    return sum(_align(x) for x in s)


def _weight(o: int, k: int) -> int:
    """Bytes of an (o x k) int8 weight in the K8 layout (blob.pad_k8)."""
    return o * _ceil(k, 8) * 8


def _ln(h: int) -> int:
    return 4 * (2 * h + 2)        # numerics.pack_ln: G[h], B[h], E as two int32


def _linear(o: int, k: int) -> list[int]:
    return [_weight(o, k), 4 * o, 8 * o]      # w, bias int32, rq (M, S) int32 per channel


def position_slot_sizes(hidden: int, max_positions: int, pos_rank: int = 0) -> list[int]:
    """Unpadded sizes of the "pos" and "pos_rq" slots: dense [max_positions][H] and one (M, S), or
    for pos_rank k (the stored factor width, float rank + 1) A' [max_positions][k] + B'^T [H][k]
    and per-channel (M, S)."""
    if pos_rank:
        return [(max_positions + hidden) * pos_rank, 8 * hidden]
    return [max_positions * hidden, 8]


def position_flash_bytes(hidden: int, max_positions: int, pos_rank: int = 0) -> int:
    """Blob bytes of the two position slots (each padded to 16: neither is the blob's last slot);
    pos_rank is the stored factor width (float rank + 1), 0 for a dense table."""
    return sum(_align(s) for s in position_slot_sizes(hidden, max_positions, pos_rank))


def max_position_rank(hidden: int, max_positions: int) -> int:
    """The largest float position rank whose factors cost less flash than the dense table
    (and below hidden, as compress_positions requires); 0 when none is cheaper."""
    dense = position_flash_bytes(hidden, max_positions)
    r = min(hidden - 1, max_positions)
    while r > 0 and position_flash_bytes(hidden, max_positions, r + 1) >= dense:
        r -= 1
    return r


def pos_rank_of(position_rank: int) -> int:
    """Stored factor width of a float position rank r (McuBertConfig.position_rank): r + 1 with
    segment A folded in as a column, 0 for a dense table."""
    return int(position_rank) + 1 if position_rank else 0


def rest_slot_sizes(hidden: int, layers: int, ffn: int, max_positions: int, num_labels: int,
                    pos_rank: int = 0) -> list[int]:
    """Unpadded sizes of every slot after the embedding's six, in blob order (pos_rank: the stored
    factor width of a low-rank position table, 0 = dense)."""
    h, f = hidden, ffn
    g = [*position_slot_sizes(h, max_positions, pos_rank), _ln(h), *_linear(h, h), 256, *_linear(num_labels, h),
         2 * h]  # last: segment
    per_layer = {"ln1": _ln(h), "ln2": _ln(h), "softmax_lut": 2 * 256, "gelu_lut": 256, "scalars": 32}
    for n, (o, k) in {"q": (h, h), "k": (h, h), "v": (h, h), "o": (h, h), "f1": (f, h), "f2": (h, f)}.items():
        per_layer.update(zip((f"{n}.w", f"{n}.b", f"{n}.rq"), _linear(o, k)))
    return g + [per_layer[name] for _ in range(layers) for name in LAYER_TENSORS]


def _dims(model) -> dict:
    """Config fields of a McuBertConfig, a model, a checkpoint directory or a QuantModel."""
    if isinstance(model, (str, Path)):
        from ..modeling.config import McuBertConfig

        model = McuBertConfig.from_pretrained(str(model))
    cfg = getattr(model, "config", model)
    if isinstance(cfg, dict):            # QuantModel.config; the position factors' width is in its tensors
        return dict(vocab=cfg["vocab_size"], hidden=cfg["hidden_size"], layers=cfg["num_layers"],
                    ffn=cfg["ffn_size"], max_positions=cfg["max_positions"], labels=cfg["num_labels"],
                    sizes=cfg["cluster_sizes"], ranks=cfg["cluster_ranks"],
                    pos_rank=int(getattr(model, "pos_rank", 0)))
    return dict(vocab=cfg.vocab_size, hidden=cfg.hidden_size, layers=cfg.num_hidden_layers,
                ffn=cfg.intermediate_size, max_positions=cfg.max_position_embeddings, labels=cfg.num_labels,
                sizes=cfg.cluster_sizes, ranks=cfg.cluster_ranks,
                pos_rank=pos_rank_of(getattr(cfg, "position_rank", 0)))


def _blob_bytes(slot_sizes: list[int]) -> int:
    table_end = HEADER_SIZE + 8 * len(slot_sizes)
    return _align(table_end) + sum(_align(s) for s in slot_sizes[:-1]) + slot_sizes[-1]


def model_flash_bytes(model, cluster_sizes=None, ranks=None) -> int:
    """len(build_blob(...)) of a model, from its config alone: `model` is a McuBertConfig, a
    McuBertForSequenceClassification, a checkpoint directory or a QuantModel. cluster_sizes /
    ranks override the config's (what-if costs during a search)."""
    d = _dims(model)
    sizes = d["sizes"] if cluster_sizes is None else cluster_sizes
    rk = d["ranks"] if ranks is None else ranks
    slots = embedding_slot_sizes(sizes, rk, d["vocab"], d["hidden"]) + rest_slot_sizes(
        d["hidden"], d["layers"], d["ffn"], d["max_positions"], d["labels"], d["pos_rank"])
    assert len(slots) == len(GLOBAL_SLOTS) + d["layers"] * len(LAYER_TENSORS)
    return _blob_bytes(slots)


def rest_flash_bytes(model) -> int:
    """Blob bytes that are not the word embedding's (header, table, every other slot)."""
    d = _dims(model)
    return model_flash_bytes(model) - embedding_flash_bytes(d["sizes"], d["ranks"], d["vocab"], d["hidden"])


def embedding_budget(board, rest_bytes: int, firmware_bytes: int | None = None,
                     reserve: int = DEFAULT_RESERVE) -> int:
    """Flash bytes left for the word embedding: board flash - firmware - reserve - rest of the model.

    `board` is a boards.Board or a profile name; firmware_bytes defaults to the profile's
    `firmware_bytes` (Zephyr + the mcubert runtime without the blob) and must be given when
    the profile has none. Raises ValueError when nothing is left."""
    from ..targets import boards

    b = boards.get(board) if isinstance(board, (str, Path)) else board
    fw = firmware_bytes if firmware_bytes is not None else b.firmware_bytes
    if fw is None:
        raise ValueError(f"board profile {b.name} has no firmware_bytes; pass firmware_bytes explicitly")
    left = b.flash.size - int(fw) - int(reserve) - int(rest_bytes)
    if left <= 0:
        raise ValueError(f"{b.name}: flash {b.flash.size} B - firmware {fw} B - reserve {reserve} B - "
                         f"rest of the model {rest_bytes} B leaves no room for the embedding ({left} B)")
    return left
