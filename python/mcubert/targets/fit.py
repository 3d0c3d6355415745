# SPDX-License-Identifier: Apache-2.0
"""Does a model fit a board? Arena against RAM, blob against flash, and the longest input
that would fit. `mcubert plan --board` prints this; mcubert_add_model() fails the configure
step with it (python/mcubert/targets/zephyr.py)."""
from __future__ import annotations

from dataclasses import dataclass

from ..export.blob import build_blob
from .boards import Board
from ..export.planner import Dims, plan
from ..int8.qmodel import QuantModel


def blob_size(qm: QuantModel, max_seq_len: int, mode: str = "fine", **plan_kw) -> int:
    return len(build_blob(qm, plan(Dims.of(qm), max_seq_len, mode, **plan_kw).hash))


def arena_size(qm: QuantModel, max_seq_len: int, mode: str = "fine", **plan_kw) -> int:
    return plan(Dims.of(qm), max_seq_len, mode, **plan_kw).arena_size


def max_fitting_seq_len(qm: QuantModel, budget: int, mode: str = "fine", limit: int | None = None,
                        **plan_kw) -> int:
    """Largest max_seq_len whose arena is <= budget bytes (0 if not even one token fits)."""
    lo, hi = 0, min(limit or qm.max_positions, qm.max_positions)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        try:
            ok = arena_size(qm, mid, mode, **plan_kw) <= budget
        except ValueError:   # tile options that make no sense at this length
            ok = False
        if ok:
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass
class FitReport:
    fits: bool
    arena: int
    blob: int
    text: str


def fit_report(qm: QuantModel, board: Board, max_seq_len: int, mode: str = "fine", **plan_kw) -> FitReport:
    arena = arena_size(qm, max_seq_len, mode, **plan_kw)
    blob = blob_size(qm, max_seq_len, mode, **plan_kw)
    lines = [f"board: {board.name} ({board.cpu}, {'DSP' if board.dsp else 'no DSP'}, "
             f"{board.clock_hz / 1e6:g} MHz)"]
    # The profile lists RAM fastest first; mcubert_add_model() places the arena in the same
    # order (python/mcubert/targets/memory.py), among the regions a devicetree chosen node names.
    homes = [r for r in board.ram if r.size >= arena]
    for r in board.ram:
        verdict = "fits" if r.size >= arena else "too small"
        lines.append(f"  arena {arena} B in {r.name} ({r.size} B): {verdict}"
                     + (f", {r.size - arena} B left" if r.size >= arena else ""))
    flash_ok = blob <= board.flash.size
    lines.append(f"  blob {blob} B in flash ({board.flash.size} B): {'fits' if flash_ok else 'too big'}"
                 + (f", {board.flash.size - blob} B left" if flash_ok else ""))
    best = max_fitting_seq_len(qm, board.largest_ram.size, mode, **plan_kw)
    ram = board.largest_ram
    if best >= qm.max_positions:
        lines.append(f"  longest input: {best} tokens, limited by the model (max positions {qm.max_positions}); "
                     f"{ram.name} ({ram.size} B) would hold more")
    else:
        lines.append(f"  longest input: {best} tokens, limited by the board ({ram.name}, {ram.size} B); "
                     f"the model takes up to {qm.max_positions}")
    fits = bool(homes) and flash_ok
    lines.append(f"fits: {'yes, arena in ' + homes[0].name if fits else 'no'}")
    return FitReport(fits, arena, blob, "\n".join(lines))
