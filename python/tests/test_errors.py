# SPDX-License-Identifier: Apache-2.0
"""Every bad input gets its documented error code, never a crash, and the arena guards hold."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from mcubert.targets import host
from mcubert.int8 import reference
from mcubert.export.blob import BLOB_VERSION, GLOBAL_SLOTS, HEADER_SIZE, build_blob, fix_crc
from mcubert.export.planner import BUFFERS, Dims, fnv1a, plan

E = host.ERR
L = 24


@pytest.fixture(scope="module")
def good(small_qm):
    p = plan(Dims.of(small_qm), L)
    return small_qm, p, build_blob(small_qm, p.hash)


def _init(p_or_words, blob, **kw):
    return host.Runtime(p_or_words, blob, **kw).status


def _patch(blob: bytes, offset: int, data: bytes) -> bytes:
    b = bytearray(blob)
    b[offset:offset + len(data)] = data
    return bytes(b)


def _slot(blob: bytes, i: int) -> tuple[int, int]:
    return struct.unpack_from("<II", blob, HEADER_SIZE + 8 * i)


def _rehash(words: list[int]) -> list[int]:
    w = list(words)
    w[1] = fnv1a(w[:1] + w[2:])
    return w


def test_valid_model_initialises(good):
    _, p, blob = good
    assert _init(p, blob) == E["MCUBERT_OK"]


@pytest.mark.parametrize("case,code", [
    ("short_header", "MCUBERT_ERR_TRUNCATED"),
    ("truncated", "MCUBERT_ERR_TRUNCATED"),
    ("magic", "MCUBERT_ERR_MAGIC"),
    ("version", "MCUBERT_ERR_VERSION"),
    ("version_1", "MCUBERT_ERR_VERSION"),     # a blob from before sentence pairs: refused, not misread
    ("version_2", "MCUBERT_ERR_VERSION"),     # before pos_rank: its config word 11 was only reserved
    ("layout", "MCUBERT_ERR_VERSION"),
    ("flipped_byte", "MCUBERT_ERR_CRC"),
    ("flipped_weight", "MCUBERT_ERR_CRC"),
    ("other_schedule", "MCUBERT_ERR_SCHEDULE"),
    ("slot_size", "MCUBERT_ERR_LAYOUT"),
    ("slot_misaligned", "MCUBERT_ERR_LAYOUT"),
    ("slot_past_end", "MCUBERT_ERR_LAYOUT"),
    ("bad_shift", "MCUBERT_ERR_CONFIG"),
    ("bad_cluster_id", "MCUBERT_ERR_CONFIG"),
    ("bad_checkpoint", "MCUBERT_ERR_CONFIG"),
    ("rank_above_hidden", "MCUBERT_ERR_CONFIG"),
    ("softmax_lut_zero", "MCUBERT_ERR_CONFIG"),
    ("huge_bias", "MCUBERT_ERR_CONFIG"),
])
def test_bad_blob(good, case, code):
    qm, p, blob = good
    n = len(blob)
    blob_len = None
    if case == "short_header":
        blob_len = HEADER_SIZE - 1
    elif case == "truncated":
        blob_len = n - 1
    elif case == "magic":
        blob = _patch(blob, 0, b"XCBB")
    elif case == "version":
        blob = _patch(blob, 4, struct.pack("<H", BLOB_VERSION + 1))
    elif case in ("version_1", "version_2"):
        blob = _patch(blob, 4, struct.pack("<H", int(case[-1])))
    elif case == "layout":
        blob = _patch(blob, 6, struct.pack("<H", 7))
    elif case == "flipped_byte":
        blob = _patch(blob, n // 2, bytes([blob[n // 2] ^ 0x10]))
    elif case == "flipped_weight":
        off, _ = _slot(blob, len(GLOBAL_SLOTS))      # layer 0 Q weights
        blob = _patch(blob, off, bytes([blob[off] ^ 1]))
    elif case == "other_schedule":
        blob = build_blob(qm, plan(Dims.of(qm), L + 1).hash)
    elif case == "slot_size":
        off, size = _slot(blob, 9)
        blob = fix_crc(_patch(blob, HEADER_SIZE + 8 * 9, struct.pack("<II", off, size - 1)))
    elif case == "slot_misaligned":
        off, size = _slot(blob, 9)
        blob = fix_crc(_patch(blob, HEADER_SIZE + 8 * 9, struct.pack("<II", off + 4, size)))
    elif case == "slot_past_end":
        off, size = _slot(blob, 9)
        blob = fix_crc(_patch(blob, HEADER_SIZE + 8 * 9, struct.pack("<II", n - 16, size)))
    elif case == "bad_shift":
        off, size = _slot(blob, 11)                   # pooler rq: shifts in the second half
        blob = fix_crc(_patch(blob, off + size // 2, struct.pack("<i", 63)))
    elif case == "bad_cluster_id":
        off, _ = _slot(blob, 1)                       # 3 clusters, 2 bits: id 3 is out of range
        blob = fix_crc(_patch(blob, off, bytes([0xFF])))
    elif case == "bad_checkpoint":
        off, _ = _slot(blob, 2)
        blob = fix_crc(_patch(blob, off + 2 * 3, struct.pack("<H", 0xFFFF)))
    elif case == "rank_above_hidden":
        off, _ = _slot(blob, 0)
        blob = fix_crc(_patch(blob, off + 4, struct.pack("<I", qm.hidden + 1)))
    elif case == "softmax_lut_zero":
        off, _ = _slot(blob, len(GLOBAL_SLOTS) + 20)
        blob = fix_crc(_patch(blob, off, struct.pack("<H", 0)))
    elif case == "huge_bias":
        off, _ = _slot(blob, len(GLOBAL_SLOTS) + 1)
        blob = fix_crc(_patch(blob, off, struct.pack("<i", 2**31 - 1)))
    rt = host.Runtime(p, blob, blob_len=blob_len)
    assert rt.status == E[code]
    # a failed init leaves a context that classify refuses
    assert rt.classify([1, 2])[0] == E["MCUBERT_ERR_ARG"]
    assert rt.guards_intact()


@pytest.fixture(scope="module")
def lowrank(lowrank_qm):
    p = plan(Dims.of(lowrank_qm), L)
    return lowrank_qm, p, build_blob(lowrank_qm, p.hash)


POS_RANK_WORD = 24 + 4 * 11         # config word 11: the position factors' width k (0 = dense)


@pytest.mark.parametrize("case,code", [
    ("valid", "MCUBERT_OK"),
    ("rank_word_up", "MCUBERT_ERR_LAYOUT"),        # pos and pos_rq slots no longer fit k + 1
    ("rank_word_down", "MCUBERT_ERR_LAYOUT"),
    ("rank_word_zero", "MCUBERT_ERR_LAYOUT"),      # read as dense: the slots have the wrong sizes
    ("pos_slot_short", "MCUBERT_ERR_LAYOUT"),
    ("pos_rq_slot_short", "MCUBERT_ERR_LAYOUT"),
    ("rank_above_hidden", "MCUBERT_ERR_CONFIG"),
    ("huge_rank", "MCUBERT_ERR_CONFIG"),           # (max_pos + H) * k would wrap 32 bits
    ("bad_shift_last_channel", "MCUBERT_ERR_CONFIG"),
    ("zero_shift", "MCUBERT_ERR_CONFIG"),
    ("negative_mult", "MCUBERT_ERR_CONFIG"),
])
def test_bad_low_rank_positions(lowrank, case, code):
    """A low-rank position table: config word 11 (k), the pos slot (A' then B'^T) and the
    per-channel pos_rq are checked against each other and the bounds."""
    qm, p, blob = lowrank
    H, k = qm.hidden, qm.pos_rank
    assert k == 5 and struct.unpack_from("<I", blob, POS_RANK_WORD)[0] == k
    i_pos, i_rq = GLOBAL_SLOTS.index("pos"), GLOBAL_SLOTS.index("pos_rq")
    assert _slot(blob, i_pos)[1] == (qm.max_positions + H) * k and _slot(blob, i_rq)[1] == 8 * H
    rq_off = _slot(blob, i_rq)[0]
    word = {"rank_word_up": k + 1, "rank_word_down": k - 1, "rank_word_zero": 0, "rank_above_hidden": H + 1,
            "huge_rank": 0x80000000}.get(case)
    if word is not None:
        blob = fix_crc(_patch(blob, POS_RANK_WORD, struct.pack("<I", word)))
    elif case in ("pos_slot_short", "pos_rq_slot_short"):
        i = i_pos if case == "pos_slot_short" else i_rq
        off, size = _slot(blob, i)
        blob = fix_crc(_patch(blob, HEADER_SIZE + 8 * i, struct.pack("<II", off, size - 1)))
    elif case == "bad_shift_last_channel":
        blob = fix_crc(_patch(blob, rq_off + 4 * (2 * H - 1), struct.pack("<i", 63)))
    elif case == "zero_shift":
        blob = fix_crc(_patch(blob, rq_off + 4 * (H + H // 2), struct.pack("<i", 0)))
    elif case == "negative_mult":
        blob = fix_crc(_patch(blob, rq_off + 4 * (H // 2), struct.pack("<i", -1)))
    rt = host.Runtime(p, blob)
    assert rt.status == E[code]
    if code != "MCUBERT_OK":
        assert rt.classify([1, 2])[0] == E["MCUBERT_ERR_ARG"]
    assert rt.guards_intact()


def test_dense_blob_with_a_rank_word_is_refused(good):
    """A dense blob whose config word 11 claims factors: the slot sizes give it away."""
    _, p, blob = good
    assert struct.unpack_from("<I", blob, POS_RANK_WORD)[0] == 0
    for k in (1, 4):
        assert _init(p, fix_crc(_patch(blob, POS_RANK_WORD, struct.pack("<I", k)))) == E["MCUBERT_ERR_LAYOUT"]


@pytest.mark.parametrize("field,value", [
    ("hidden", 2000), ("heads", 0), ("heads", 5), ("layers", 0), ("max_seq_len", 65), ("labels", 0),
    ("clusters", 0), ("q_tile", 0), ("q_tile", 1000), ("mode", 2), ("per_head", 2), ("vocab_size", 70000),
])
def test_config_out_of_bounds(good, field, value):
    """A schedule with out-of-bounds dimensions (validly hashed) is refused before any use."""
    _, p, blob = good
    names = ["version", "hash", "mode", "vocab_size", "hidden", "layers", "heads", "ffn", "max_positions",
             "labels", "clusters", "max_seq_len", "q_tile", "ffn_tile", "per_head", "arena_size"]
    w = p.words()
    w[names.index(field)] = value
    assert _init(_rehash(w), blob) == E["MCUBERT_ERR_CONFIG"]


def test_schedule_errors(good):
    _, p, blob = good
    w = p.words()
    tampered = list(w)
    tampered[12] += 1                               # q_tile edited, hash not updated
    assert _init(tampered, blob) == E["MCUBERT_ERR_SCHEDULE"]
    small_buf = list(w)
    small_buf[16 + len(BUFFERS) + 3] = 16           # buf_size[K] below what the runtime needs
    assert _init(_rehash(small_buf), blob) == E["MCUBERT_ERR_SCHEDULE"]
    outside = list(w)
    outside[16 + 3] = w[15]                         # buf_offset[K] at the arena end
    assert _init(_rehash(outside), blob) == E["MCUBERT_ERR_SCHEDULE"]
    version = list(w)
    version[0] = 99
    assert _init(_rehash(version), blob) == E["MCUBERT_ERR_VERSION"]


@pytest.mark.parametrize("kw", [{"per_head": 0}, {"per_head": 1}, {"mode": "layerwise"}])
def test_buffer_sizes_are_what_the_runtime_needs(small_qm, kw):
    """Every size the planner gives is exactly mcubert_init()'s requirement: one byte less is
    refused (the blob is rebuilt for the edited schedule, so only the size check can fire)."""
    p = plan(Dims.of(small_qm), L, **kw)
    assert _init(p, build_blob(small_qm, p.hash)) == E["MCUBERT_OK"]
    for name in p.buffers:
        w = p.words()
        w[16 + len(BUFFERS) + BUFFERS.index(name)] -= 1
        w = _rehash(w)
        assert _init(w, build_blob(small_qm, w[1])) == E["MCUBERT_ERR_SCHEDULE"], name


def test_arena_and_alignment(good):
    _, p, blob = good
    assert _init(p, blob, arena_len=p.arena_size - 1) == E["MCUBERT_ERR_ARENA"]
    assert _init(p, blob, arena_len=0) == E["MCUBERT_ERR_ARENA"]
    assert _init(p, blob, arena_offset=4) == E["MCUBERT_ERR_ALIGN"]
    assert _init(p, blob, blob_offset=8) == E["MCUBERT_ERR_ALIGN"]
    assert _init(p, blob, arena_len=p.arena_size + 100) == E["MCUBERT_OK"]


def test_null_arguments(good):
    import ctypes

    _, p, blob = good
    lib = host.load_library()
    rt = host.Runtime(p, blob)
    args = [rt.ctx, rt.sched, ctypes.c_void_p(rt.blob_ptr), len(blob), ctypes.c_void_p(rt.arena_ptr), rt.arena_len]
    for i in (0, 1, 2, 4):
        bad = list(args)
        bad[i] = None
        assert lib.mcubert_init(*bad) == E["MCUBERT_ERR_ARG"]
    assert rt.classify([1])[0] == E["MCUBERT_ERR_ARG"]      # ctx was wiped by the failed init above
    rt = host.Runtime(p, blob)
    out = np.zeros(4, np.int32)
    assert lib.mcubert_classify(rt.ctx, None, 1, out.ctypes.data_as(ctypes.c_void_p)) == E["MCUBERT_ERR_ARG"]
    assert lib.mcubert_classify(None, None, 1, None) == E["MCUBERT_ERR_ARG"]


def test_bad_tokens(good):
    qm, p, blob = good
    rt = host.Runtime(p, blob)
    assert rt.status == 0
    assert rt.classify([])[0] == E["MCUBERT_ERR_N_TOKENS"]
    assert rt.classify(np.ones(L + 1))[0] == E["MCUBERT_ERR_N_TOKENS"]
    assert rt.classify([1, qm.vocab_size, 2])[0] == E["MCUBERT_ERR_TOKEN_ID"]
    assert rt.classify([65535])[0] == E["MCUBERT_ERR_TOKEN_ID"]
    # the context stays usable after rejected inputs
    st, logits = rt.classify([1, 2, 3])
    assert st == 0 and np.array_equal(logits, reference.classify(qm, [1, 2, 3]))
    assert rt.guards_intact()


def test_bad_n_first(good):
    """mcubert_classify_pair(): n_first 0 or above n_tokens is MCUBERT_ERR_N_FIRST in the reference
    and the runtime; n_tokens is checked before it and the token ids after it."""
    qm, p, blob = good
    rt = host.Runtime(p, blob)
    assert rt.status == 0
    ids, bad = [1, 2, 3, 4], [1, qm.vocab_size, 2]
    for n_first in (0, 5, L + 1, 2**32, 2**64 - 1):
        assert rt.classify(ids, n_first)[0] == E["MCUBERT_ERR_N_FIRST"], n_first
        with pytest.raises(ValueError, match="n_first"):
            reference.check_ids(qm, ids, n_first)
        with pytest.raises(ValueError, match="n_first"):
            reference.classify(qm, reference.Pair(ids, n_first))
    # the error order: n_tokens before n_first, n_first before the token ids
    long_ = np.ones(L + 1)
    for x, n_first, code in [([], 0, "MCUBERT_ERR_N_TOKENS"), ([], 1, "MCUBERT_ERR_N_TOKENS"),
                             (long_, 0, "MCUBERT_ERR_N_TOKENS"), (long_, L + 2, "MCUBERT_ERR_N_TOKENS"),
                             (bad, 0, "MCUBERT_ERR_N_FIRST"), (bad, 4, "MCUBERT_ERR_N_FIRST"),
                             (bad, 3, "MCUBERT_ERR_TOKEN_ID"), (bad, 1, "MCUBERT_ERR_TOKEN_ID")]:
        assert host.ERRORS[rt.classify(x, n_first)[0]] == code, (len(x), n_first)
    ref_long = np.ones(qm.max_positions + 1)             # the reference checks against max_positions
    for x, n_first, msg in [([], 0, "tokens: the model takes"), (ref_long, 0, "tokens: the model takes"),
                            (bad, 0, "n_first"), (bad, 4, "n_first"), (bad, 3, "token id out of range")]:
        with pytest.raises(ValueError, match=msg):
            reference.check_ids(qm, x, n_first)
    # the limits work, and the context stays usable after rejected inputs
    for n_first in (1, 4):
        st, logits = rt.classify(ids, n_first)
        assert st == 0 and np.array_equal(logits, reference.classify(qm, reference.Pair(ids, n_first)))
    assert rt.guards_intact()


def test_bad_n_first_runner(good):
    """The batch runner's INPUTS.bin n_first reaches mcubert_classify_pair(): per-input codes."""
    from conftest import pair_error_cases

    qm, p, blob = good
    inputs, codes = pair_error_cases(qm, L)
    statuses, logits = host.run_runner(host.runner("host"), p, blob, inputs)
    assert [host.ERRORS[s] for s in statuses] == codes
    for x, st, lg in zip(inputs, statuses, logits):
        if st == 0:
            assert np.array_equal(lg, reference.classify(qm, x))


def test_pack_inputs_refuses_unrepresentable_n_first():
    """INPUTS.bin's u32 n_first: a negative or too large n_first is refused, not wrapped (-1 would
    become 0xFFFFFFFF, the single-sentence marker, and run as a valid input)."""
    ids = np.arange(1, 4)
    for n_first in (-1, host.SINGLE, 2**32 + 2):
        with pytest.raises(ValueError, match="n_first"):
            host.pack_inputs([reference.Pair(ids, n_first)])
    packed = host.pack_inputs([reference.Pair(ids, 0), reference.Pair(ids, host.SINGLE - 1), ids])
    assert struct.unpack_from("<III", packed, 0) == (3, 3, 0)
    per_input = 4 + 4 + 2 * len(ids)
    assert struct.unpack_from("<II", packed, 4 + per_input) == (3, host.SINGLE - 1)
    assert struct.unpack_from("<II", packed, 4 + 2 * per_input) == (3, host.SINGLE)


def test_classify_pair_null_and_unready(good):
    """mcubert_classify_pair() refuses NULL arguments and a context whose init failed."""
    import ctypes

    _, p, blob = good
    lib = host.load_library()
    rt = host.Runtime(p, blob)
    ids = np.array([1, 2, 3], np.uint16)
    out = np.zeros(4, np.int32)
    ptr = lambda a: a.ctypes.data_as(ctypes.c_void_p)   # noqa: E731
    assert lib.mcubert_classify_pair(rt.ctx, None, 3, 1, ptr(out)) == E["MCUBERT_ERR_ARG"]
    assert lib.mcubert_classify_pair(rt.ctx, ptr(ids), 3, 1, None) == E["MCUBERT_ERR_ARG"]
    assert lib.mcubert_classify_pair(None, ptr(ids), 3, 1, ptr(out)) == E["MCUBERT_ERR_ARG"]
    assert lib.mcubert_classify_pair(rt.ctx, ptr(ids), 3, 1, ptr(out)) == 0
    failed = host.Runtime(p, blob, blob_len=HEADER_SIZE - 1)
    assert failed.status == E["MCUBERT_ERR_TRUNCATED"]
    assert failed.classify(ids, 1)[0] == E["MCUBERT_ERR_ARG"]
    assert failed.classify(ids, 0)[0] == E["MCUBERT_ERR_ARG"]      # the context is checked first


def test_strerror_documents_every_code():
    msgs = {code: host.strerror(code) for code in host.ERRORS}
    assert len(set(msgs.values())) == len(msgs)
    assert host.strerror(-999) == "unknown error"


@pytest.mark.parametrize("mode", ["fine", "layerwise"])
def test_arena_guards(small_qm, mode):
    """Guard bytes around an exactly-sized arena survive full-length inputs in both schedules."""
    p = plan(Dims.of(small_qm), L, mode)
    rt = host.Runtime(p, build_blob(small_qm, p.hash))
    rng = np.random.default_rng(0)
    for n in (1, 2, L // 2, L):
        ids = rng.integers(0, small_qm.vocab_size, n)
        st, logits = rt.classify(ids)
        assert st == 0 and np.array_equal(logits, reference.classify(small_qm, ids))
        assert rt.guards_intact()


def test_guard_check_detects_a_write(small_qm):
    """The guard check itself works: a byte written just past the arena is caught."""
    import ctypes

    p = plan(Dims.of(small_qm), L)
    rt = host.Runtime(p, build_blob(small_qm, p.hash))
    assert rt.guards_intact()
    ctypes.memset(rt.arena_ptr + rt.arena_len, 0, 1)
    assert not rt.guards_intact()


def test_many_clusters_checked_in_passes(tmp_path):
    """mcubert_init() checks the cluster tables 64 clusters per vocabulary pass (bounded stack):
    130 clusters take three passes, and a bad checkpoint in the second or the last is caught."""
    from conftest import make_qm

    k = 130
    ranks = tuple(4 if i % 3 == 0 else 0 for i in range(k))
    _, qm = make_qm(tmp_path, layers=1, hidden=32, heads=2, ffn=40, vocab=900, max_pos=16, clusters=k,
                    ranks=ranks, seed=5)
    p = plan(Dims.of(qm), 16)
    blob = build_blob(qm, p.hash)
    rt = host.Runtime(p, blob)
    assert rt.status == 0
    ids = [2, 150, 899, 64, 700, 3]
    st, logits = rt.classify(ids)
    assert st == 0 and list(logits) == list(reference.classify(qm, ids))
    off, _ = _slot(blob, 2)                             # checkpoints, u16 [block][cluster]
    for cluster in (100, 129):                          # second and third pass
        bad = fix_crc(_patch(blob, off + 2 * (2 * k + cluster), struct.pack("<H", 999)))
        assert host.Runtime(p, bad).status == E["MCUBERT_ERR_CONFIG"]


@pytest.mark.parametrize("fill", ["random", "ff", "stale"])
def test_garbage_context_is_refused(good, fill):
    """A context mcubert_init never set up (stack garbage) gets MCUBERT_ERR_ARG, not a crash; so
    does one whose init failed after an earlier success."""
    import ctypes

    _, p, blob = good
    rt = host.Runtime(p, blob)
    assert rt.status == 0 and rt.classify([1, 2])[0] == 0
    if fill == "stale":
        lib = host.load_library()
        assert lib.mcubert_init(rt.ctx, rt.sched, ctypes.c_void_p(rt.blob_ptr), 8, ctypes.c_void_p(rt.arena_ptr),
                                rt.arena_len) == E["MCUBERT_ERR_TRUNCATED"]
    else:
        size = ctypes.sizeof(rt.ctx)
        junk = np.random.default_rng(5).integers(0, 256, size, np.uint8).tobytes() if fill == "random" \
            else b"\xff" * size
        ctypes.memmove(rt.ctx, junk, size)
    assert rt.classify([1, 2])[0] == E["MCUBERT_ERR_ARG"]
    assert host.load_library().mcubert_num_labels(rt.ctx) == 0
    assert rt.guards_intact()
