# SPDX-License-Identifier: Apache-2.0
"""Arena planner for the two schedules the C runtime implements.

Each schedule is a list of steps; a step names the buffers it reads (uses), writes (defs)
and needs only while it runs (temps). A buffer is live from a def to its last use, so one
buffer can have several live intervals (K and V live only in attention phases).

Offsets are assigned like TFLM's GreedyMemoryPlanner: buffers sorted by size (largest
first) each take the lowest 16-byte-aligned offset that does not overlap any already
placed buffer whose live intervals intersect its own. `check_overlap` re-verifies a plan.

fine      : the MCUBERT schedule. K/V for all tokens, then attention per query tile
            (per head, or all heads at once), out-projection + residual + LayerNorm written
            back in place into HIDDEN; the FFN per token tile likewise. The last layer
            computes Q, attention and FFN for the [CLS] row only.
layerwise : full tensors per op, as TFLM keeps them; the memory baseline.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..int8 import bounds

SCHEDULE_VERSION = 2
ALIGN = 16
BUFFERS = ("HIDDEN", "ROW16", "Q", "K", "V", "SCORES", "PROBS", "CTX", "RES",
           "HIDDEN2", "INTER", "INTER2", "RES2", "POOLED", "SCRATCH")
MODES = ("fine", "layerwise")
TILE_CHOICES = (32, 16, 8, 4, 2, 1)
DEFAULT_Q_TILE = 8


@dataclass
class Dims:
    vocab_size: int
    hidden: int
    layers: int
    heads: int
    ffn: int
    max_positions: int
    num_labels: int
    clusters: int

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @classmethod
    def of(cls, qm) -> "Dims":
        return cls(qm.vocab_size, qm.hidden, qm.layers, qm.heads, qm.ffn, qm.max_positions,
                   qm.num_labels, len(qm.cluster_sizes))


@dataclass
class Buffer:
    name: str
    dtype: str
    shape: tuple
    intervals: list = field(default_factory=list)   # [(first_step, last_step)]
    offset: int = 0

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n * {"s8": 1, "u8": 1, "s16": 2, "s32": 4}[self.dtype]


@dataclass
class Plan:
    dims: Dims
    mode: str
    max_seq_len: int
    q_tile: int
    ffn_tile: int
    per_head: int
    buffers: dict[str, Buffer]
    steps: list[str]
    arena_size: int

    def words(self) -> list[int]:
        """The C `struct mcubert_schedule` as uint32 words (hash at index 1)."""
        d = self.dims
        w = [SCHEDULE_VERSION, 0, MODES.index(self.mode), d.vocab_size, d.hidden, d.layers, d.heads, d.ffn,
             d.max_positions, d.num_labels, d.clusters, self.max_seq_len, self.q_tile, self.ffn_tile,
             self.per_head, self.arena_size]
        w += [self.buffers[b].offset if b in self.buffers else 0 for b in BUFFERS]
        w += [self.buffers[b].size if b in self.buffers else 0 for b in BUFFERS]
        w[1] = fnv1a(w[:1] + w[2:])
        return w

    @property
    def hash(self) -> int:
        return self.words()[1]

    def to_bytes(self) -> bytes:
        return struct.pack(f"<{len(self.words())}I", *self.words())

    def describe(self) -> str:
        d = self.dims
        lines = [f"schedule: {self.mode}  max_seq_len: {self.max_seq_len}  hidden: {d.hidden}  layers: {d.layers}"
                 f"  heads: {d.heads}  ffn: {d.ffn}",
                 f"q_tile: {self.q_tile}  ffn_tile: {self.ffn_tile}  per_head: {self.per_head}",
                 f"{'buffer':<8} {'type':<4} {'shape':<14} {'bytes':>8} {'offset':>8}  lifetime (steps)"]
        for b in sorted(self.buffers.values(), key=lambda b: (b.offset, b.name)):
            life = ", ".join(self.steps[a] if a == z else f"{self.steps[a]}..{self.steps[z]}" for a, z in b.intervals)
            shape = "x".join(str(s) for s in b.shape)
            lines.append(f"{b.name:<8} {b.dtype:<4} {shape:<14} {b.size:>8} {b.offset:>8}  {life}")
        lines.append(f"peak_arena_bytes: {self.arena_size}")
        return "\n".join(lines)


def fnv1a(words: list[int]) -> int:
    h = 0x811C9DC5
    for b in struct.pack(f"<{len(words)}I", *words):
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _live_intervals(steps: list[tuple[str, set, set, set]], name: str) -> list[tuple[int, int]]:
    out, cur = [], None
    for i, (_, uses, defs, temps) in enumerate(steps):
        if name in temps:
            if cur:
                out.append(cur)
                cur = None
            out.append((i, i))
            continue
        if name in uses and cur:
            cur = (cur[0], i)
        if name in defs and (name not in uses or cur is None):
            if cur:
                out.append(cur)
            cur = (i, i)
    if cur:
        out.append(cur)
    return out


def _conflict(a: Buffer, b: Buffer) -> bool:
    return any(x0 <= y1 and y0 <= x1 for x0, x1 in a.intervals for y0, y1 in b.intervals)


def greedy_assign(buffers: list[Buffer]) -> int:
    placed: list[Buffer] = []
    for buf in sorted(buffers, key=lambda b: (-b.size, BUFFERS.index(b.name))):
        live = sorted((p for p in placed if _conflict(p, buf)), key=lambda p: p.offset)
        offset = 0
        for p in live:
            if offset + buf.size <= p.offset:
                break
            offset = max(offset, _align(p.offset + p.size))
        buf.offset = offset
        placed.append(buf)
    return _align(max((b.offset + b.size for b in buffers), default=0))


def check_overlap(plan: Plan) -> list[tuple[str, str]]:
    """Pairs of buffers that are live at the same time and share bytes (must be empty)."""
    bad = []
    bs = list(plan.buffers.values())
    for i, a in enumerate(bs):
        if a.offset % ALIGN or a.offset + a.size > plan.arena_size:
            bad.append((a.name, "arena"))
        for b in bs[i + 1:]:
            if _conflict(a, b) and a.offset < b.offset + b.size and b.offset < a.offset + a.size:
                bad.append((a.name, b.name))
    return bad


def scratch_words(d: Dims, L: int) -> int:
    """int32 words of kernel scratch: two unpacked operand rows of the longest reduction
    (in_dim of any linear, or the keys of P.V); the SIMD kernels' *_buffer_size() maximum.
    Every plan reserves it, so one schedule serves SIMD and portable builds alike."""
    kp = lambda n: -(-n // 4) * 4   # noqa: E731
    return max(kp(max(d.hidden, d.ffn)), kp(L))  # 2 rows x Kp int16 = Kp words


def _fine(d: Dims, L: int, tq: int, tf: int, per_head: int):
    H, F, dh = d.hidden, d.ffn, d.head_dim
    kv = dh if per_head else H
    shapes = {"HIDDEN": ("s8", (L, H)), "ROW16": ("s16", (H,)), "Q": ("s8", (tq, kv)),
              "K": ("s8", (L, kv)), "V": ("s8", (L, kv)), "SCORES": ("s16", (tq, L)),
              "CTX": ("s8", ((L if per_head else tq), H)), "RES": ("s16", (tq, H)),
              "INTER": ("s8", (tf, F)), "RES2": ("s16", (tf, H)), "POOLED": ("s8", (H,)),
              "SCRATCH": ("s32", (scratch_words(d, L),))}
    att = {"K", "V", "Q", "SCORES", "CTX", "RES", "SCRATCH"}
    steps = [("embed", set(), {"HIDDEN"}, {"ROW16"})]
    for i in range(d.layers):
        steps.append((f"attn{i}", {"HIDDEN"}, {"HIDDEN"}, att))
        steps.append((f"ffn{i}", {"HIDDEN"}, {"HIDDEN"}, {"INTER", "RES2", "SCRATCH"}))
    steps.append(("head", {"HIDDEN"}, set(), {"POOLED", "SCRATCH"}))
    return shapes, steps


def _layerwise(d: Dims, L: int):
    H, F, NH = d.hidden, d.ffn, d.heads
    shapes = {"HIDDEN": ("s8", (L, H)), "ROW16": ("s16", (L, H)), "Q": ("s8", (L, H)), "K": ("s8", (L, H)),
              "V": ("s8", (L, H)), "SCORES": ("s16", (NH, L, L)), "PROBS": ("u8", (NH, L, L)),
              "CTX": ("s8", (L, H)), "RES": ("s16", (L, H)), "HIDDEN2": ("s8", (L, H)),
              "INTER": ("s8", (L, F)), "INTER2": ("s8", (L, F)), "RES2": ("s16", (L, H)), "POOLED": ("s8", (H,)),
              "SCRATCH": ("s32", (scratch_words(d, L),))}
    S = {"SCRATCH"}
    steps = [("embed", set(), {"ROW16"}, set()), ("ln_emb", {"ROW16"}, {"HIDDEN"}, set())]
    for i in range(d.layers):
        steps += [(f"q{i}", {"HIDDEN"}, {"Q"}, S), (f"k{i}", {"HIDDEN"}, {"K"}, S),
                  (f"v{i}", {"HIDDEN"}, {"V"}, S), (f"qk{i}", {"Q", "K"}, {"SCORES"}, S),
                  (f"softmax{i}", {"SCORES"}, {"PROBS"}, set()), (f"pv{i}", {"PROBS", "V"}, {"CTX"}, S),
                  (f"o{i}", {"CTX", "HIDDEN"}, {"RES"}, S), (f"ln1_{i}", {"RES"}, {"HIDDEN2"}, set()),
                  (f"f1{i}", {"HIDDEN2"}, {"INTER"}, S), (f"gelu{i}", {"INTER"}, {"INTER2"}, set()),
                  (f"f2{i}", {"INTER2", "HIDDEN2"}, {"RES2"}, S), (f"ln2_{i}", {"RES2"}, {"HIDDEN"}, set())]
    steps.append(("head", {"HIDDEN"}, set(), {"POOLED", "SCRATCH"}))
    return shapes, steps


def _build(d: Dims, L: int, mode: str, tq: int, tf: int, per_head: int) -> Plan:
    shapes, steps = _fine(d, L, tq, tf, per_head) if mode == "fine" else _layerwise(d, L)
    bufs = {}
    for name, (dt, shape) in shapes.items():
        bufs[name] = Buffer(name, dt, shape, _live_intervals(steps, name))
    arena = greedy_assign(list(bufs.values()))
    return Plan(d, mode, L, tq, tf, per_head, bufs, [s[0] for s in steps], arena)


def plan(dims: Dims, max_seq_len: int, mode: str = "fine", q_tile: int | None = None,
         ffn_tile: int | None = None, per_head: int | None = None) -> Plan:
    """Plan the arena. For `fine`, unspecified choices are made by the planner:
    per-head attention when it needs less memory, q_tile 8, and the largest FFN tile
    that does not raise the peak."""
    L = max_seq_len
    if mode not in MODES:
        raise ValueError(f"unknown schedule {mode!r}: use one of {', '.join(MODES)}")
    # What mcubert_init would refuse is refused here, before anything is written.
    bounds.check_model(vocab_size=dims.vocab_size, hidden=dims.hidden, layers=dims.layers, heads=dims.heads,
                       ffn=dims.ffn, max_positions=dims.max_positions, num_labels=dims.num_labels,
                       clusters=dims.clusters)
    bounds.check_schedule(L, dims.max_positions, q_tile, ffn_tile)
    if per_head not in (None, 0, 1):
        raise ValueError(f"per_head {per_head} is neither 0 nor 1")
    if mode == "layerwise":
        return _build(dims, L, mode, L, L, 0)
    tq = min(DEFAULT_Q_TILE if q_tile is None else q_tile, L)
    heads_opts = [per_head] if per_head is not None else [0, 1]
    best = None
    for ph in heads_opts:
        if ffn_tile is not None:
            cand = _build(dims, L, mode, tq, min(ffn_tile, L), ph)
        else:
            floor = _build(dims, L, mode, tq, 1, ph).arena_size
            cand = next(p for p in (_build(dims, L, mode, tq, min(t, L), ph) for t in TILE_CHOICES)
                        if p.arena_size <= floor)
        if best is None or cand.arena_size < best.arena_size:
            best = cand
    return best


def required_sizes(p: Plan) -> dict[str, int]:
    return {name: b.size for name, b in p.buffers.items()}
