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
            back in place into HIDDEN; the FFN per token tile likewise, in the memory K and
            V held (its scratch, FFN_SCRATCH, too). The last layer computes Q, attention and
            FFN for the [CLS] row only. Steps are the ops inside a tile loop, so a tile's
            Q, scores and context share memory with its out-projection's RES.
            Tiles and per-head are chosen by a cost model (costmodel.py), see plan().
layerwise : full tensors per op, as TFLM keeps them; the memory baseline.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..int8 import bounds
from . import costmodel, kernel_costs

SCHEDULE_VERSION = 3
ALIGN = 16
BUFFERS = ("HIDDEN", "ROW16", "Q", "K", "V", "SCORES", "PROBS", "CTX", "RES",
           "HIDDEN2", "INTER", "INTER2", "RES2", "POOLED", "SCRATCH", "FFN_SCRATCH")
MODES = ("fine", "layerwise")
# A plan may cost this much more (modelled instructions) than the cheapest to save arena.
INSN_SLACK = 0.01


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
    insns: int = 0                                        # costmodel.encoder_insns()
    candidates: list = field(default_factory=list)        # fine: every plan the choice considered
    cheapest_insns: int = 0

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

    def _cost_lines(self) -> list[str]:
        """The cost model's figures: this plan, the layer-wise one, and the best candidate of
        each (per_head, q_tile) pair: arena first, then modelled instructions."""
        lw = costmodel.encoder_insns(self.dims, self.max_seq_len, "layerwise", 0, 0, 0)
        out = [f"cost model (encoder, {self.max_seq_len} tokens, emulated Cortex-M7 SIMD, from "
               f"`{kernel_costs.COMMAND}`):",
               f"  chosen: {self.insns:,} insns ({self.insns / lw - 1:+.2%} vs layerwise {lw:,})"]
        if not self.candidates:
            return out
        out.append(f"  choice: smallest arena within {INSN_SLACK:.0%} of the cheapest candidate "
                   f"({self.cheapest_insns:,} insns), then fewest insns; candidates:")
        out.append(f"  {'per_head':>8} {'q_tile':>6} {'ffn_tile':>8} {'arena':>8} {'insns':>12} {'vs cheapest':>11}")
        seen, shown = set(), 0
        for c in self.candidates:
            if (c.per_head, c.q_tile) in seen:
                continue
            seen.add((c.per_head, c.q_tile))
            mark = "  <- chosen" if c is self else ""
            if shown < 8 or mark:
                out.append(f"  {c.per_head:>8} {c.q_tile:>6} {c.ffn_tile:>8} {c.arena_size:>8} {c.insns:>12,} "
                           f"{c.insns / self.cheapest_insns - 1:>+11.2%}{mark}")
                shown += 1
        out.append(f"  ({len(self.candidates)} candidates; the {shown} smallest shown)")
        return out

    def describe(self) -> str:
        d = self.dims
        lines = [f"schedule: {self.mode}  max_seq_len: {self.max_seq_len}  hidden: {d.hidden}  layers: {d.layers}"
                 f"  heads: {d.heads}  ffn: {d.ffn}",
                 f"q_tile: {self.q_tile}  ffn_tile: {self.ffn_tile}  per_head: {self.per_head}"]
        lines += self._cost_lines()
        lines += [
                 f"{'buffer':<11} {'type':<4} {'shape':<14} {'bytes':>8} {'offset':>8}  lifetime (steps)"]
        for b in sorted(self.buffers.values(), key=lambda b: (b.offset, b.name)):
            life = ", ".join(self.steps[a] if a == z else f"{self.steps[a]}..{self.steps[z]}" for a, z in b.intervals)
            shape = "x".join(str(s) for s in b.shape)
            lines.append(f"{b.name:<11} {b.dtype:<4} {shape:<14} {b.size:>8} {b.offset:>8}  {life}")
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


def _kp(n: int) -> int:
    """int32 words of four unpacked int16 rows of n elements, padded to 8 (the SIMD kernels)."""
    return 2 * (-(-n // 8) * 8)


def scratch_words(d: Dims, L: int) -> int:
    """int32 words of kernel scratch for every kernel call: four unpacked operand rows of the
    longest reduction (in_dim of any linear, or the keys of P.V); the SIMD kernels'
    *_buffer_size() maximum. The layer-wise plan reserves it; every plan reserves what the
    SIMD build needs, so one schedule serves SIMD and portable builds alike."""
    return max(_kp(max(d.hidden, d.ffn)), _kp(L))  # 4 rows x Kp8 int16 = 2 Kp8 words


def attn_scratch_words(d: Dims, L: int) -> int:
    """fine: scratch of the attention phase and the head (reductions over H, dh or L keys)."""
    return max(_kp(d.hidden), _kp(L))


def ffn_scratch_words(d: Dims) -> int:
    """fine: scratch of the FFN phase (reductions over H and F); K and V are dead then."""
    return max(_kp(d.hidden), _kp(d.ffn))


def _fine(d: Dims, L: int, tq: int, tf: int, per_head: int):
    """One layer is three loops; each is modelled by one iteration, and a buffer the next
    iteration still reads (K, V, a per-head CTX) is used again at the loop's last step.
      attention: K and V (all heads, or head h), then per query tile Q, scores and context;
                 all heads: the out-projection, residual and LayerNorm of the tile follow,
                 written in place into its HIDDEN rows (K and V were made from the old ones);
                 per head: the context of every tile collects in CTX [L][H], and an
                 out-projection loop over tiles follows once the last head is done.
      ffn      : per token tile, INTER, RES2 and their scratch, in memory K and V no longer need.
    """
    H, F, dh = d.hidden, d.ffn, d.head_dim
    kv = dh if per_head else H
    # no Q buffer: a tile's queries are written where its context goes (CTX), head by head;
    # Q.K^T of a head reads only its own columns, which P.V then overwrites
    shapes = {"HIDDEN": ("s8", (L, H)), "ROW16": ("s16", (H,)),
              "K": ("s8", (L, kv)), "V": ("s8", (L, kv)), "SCORES": ("s16", (tq, L)),
              "CTX": ("s8", ((L if per_head else tq), H)), "RES": ("s16", (tq, H)),
              "INTER": ("s8", (tf, F)), "RES2": ("s16", (tf, H)), "POOLED": ("s8", (H,)),
              "SCRATCH": ("s32", (attn_scratch_words(d, L),)),
              "FFN_SCRATCH": ("s32", (ffn_scratch_words(d),))}
    S, FS = {"SCRATCH"}, {"FFN_SCRATCH"}
    steps = [("embed", set(), {"HIDDEN"}, {"ROW16"})]
    for i in range(d.layers):
        if per_head:
            # CTX is reserved from the first head on: head h+1's K/V must not land on it
            steps += [(f"kv{i}", {"HIDDEN"}, {"K", "V", "CTX"}, S),
                      (f"q{i}", {"HIDDEN"}, {"CTX"}, S),
                      (f"att{i}", {"K", "V", "CTX"}, {"CTX"}, {"SCORES"} | S),
                      (f"o{i}", {"CTX"}, {"RES"}, S),
                      (f"ln1_{i}", {"RES", "HIDDEN", "CTX"}, {"HIDDEN"}, set())]
        else:
            steps += [(f"kv{i}", {"HIDDEN"}, {"K", "V"}, S),
                      (f"q{i}", {"HIDDEN"}, {"CTX"}, S),
                      (f"att{i}", {"CTX", "K", "V"}, {"CTX"}, {"SCORES"} | S),
                      (f"o{i}", {"CTX"}, {"RES"}, S),
                      (f"ln1_{i}", {"RES", "HIDDEN", "K", "V"}, {"HIDDEN"}, set())]
        steps += [(f"f1_{i}", {"HIDDEN"}, {"INTER"}, FS), (f"f2_{i}", {"INTER"}, {"RES2"}, FS),
                  (f"ln2_{i}", {"RES2", "HIDDEN"}, {"HIDDEN"}, set())]
    steps.append(("head", {"HIDDEN"}, set(), {"POOLED"} | S))
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


def _costed(p: Plan) -> Plan:
    p.insns = costmodel.encoder_insns(p.dims, p.max_seq_len, p.mode, p.q_tile, p.ffn_tile, p.per_head)
    return p


def _largest_ffn_tile(d: Dims, L: int, tq: int, ph: int, floor: int) -> int:
    """Largest FFN tile whose plan is no bigger than `floor` (the arena grows with the tile)."""
    lo, hi = 1, min(int(bounds.MAX["TILE"]), L)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _build(d, L, "fine", tq, mid, ph).arena_size <= floor:
            lo = mid
        else:
            hi = mid - 1
    return lo


def plan(dims: Dims, max_seq_len: int, mode: str = "fine", q_tile: int | None = None,
         ffn_tile: int | None = None, per_head: int | None = None) -> Plan:
    """Plan the arena. For `fine`, what is not given the planner chooses by its cost model:
    arena bytes first, then the modelled instructions (costmodel.py, from `mcubert bench`).
    A choice whose modelled instructions exceed the cheapest by more than INSN_SLACK is
    not taken for its smaller arena (a 1-row tile would halve the SIMD kernels' speed).
    Every candidate considered is kept in Plan.candidates for `mcubert plan` to print."""
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
        return _costed(_build(dims, L, mode, L, L, 0))
    max_tile = min(int(bounds.MAX["TILE"]), L)
    cands = []
    for ph in ([per_head] if per_head is not None else [0, 1]):
        for tq in ([min(q_tile, L)] if q_tile is not None else range(1, max_tile + 1)):
            if ffn_tile is not None:
                tfs = [min(ffn_tile, L)]
            else:
                floor = _build(dims, L, mode, tq, 1, ph).arena_size
                top = _largest_ffn_tile(dims, L, tq, ph, floor)
                tfs = [min(range(1, top + 1), key=lambda t: (costmodel.ffn_insns(dims, L, t), -t))]
            cands += [_costed(_build(dims, L, mode, tq, tf, ph)) for tf in tfs]
    cheapest = min(c.insns for c in cands)
    ok = [c for c in cands if c.insns <= cheapest * (1 + INSN_SLACK)]
    best = min(ok, key=lambda c: (c.arena_size, c.insns, -c.q_tile, -c.ffn_tile, c.per_head))
    best.candidates = sorted(cands, key=lambda c: (c.arena_size, c.insns))
    best.cheapest_insns = cheapest
    return best


def required_sizes(p: Plan) -> dict[str, int]:
    return {name: b.size for name, b in p.buffers.items()}
