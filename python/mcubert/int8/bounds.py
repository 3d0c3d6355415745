# SPDX-License-Identifier: Apache-2.0
"""The model and tile bounds that `mcubert_init` enforces, read from the C header.

`include/mcubert/mcubert.h` holds them once, as `#define MCUBERT_MAX_<NAME> <n>u`; this module
parses those lines, so the toolchain refuses exactly the models the runtime would refuse with
MCUBERT_ERR_CONFIG, before it writes anything. The lower bounds (every dimension at least 1,
heads dividing hidden, max_seq_len within max_positions) are the ones `check_schedule` in
src/mcubert_init.c applies.
"""
from __future__ import annotations

import re
from pathlib import Path

HEADER = Path(__file__).resolve().parents[3] / "include" / "mcubert" / "mcubert.h"
_NAMES = ("VOCAB", "HIDDEN", "LAYERS", "HEAD_DIM", "FFN", "POSITIONS", "LABELS", "CLUSTERS", "TILE")


class BoundsError(ValueError):
    """A model or schedule the C runtime would refuse (MCUBERT_ERR_CONFIG)."""


def read_header(path: Path = HEADER) -> dict[str, int]:
    """{"VOCAB": 65535, ...}: every MCUBERT_MAX_* the header defines."""
    try:
        text = path.read_text()
    except OSError as e:
        raise RuntimeError(f"cannot read the runtime's bounds from {path} ({e.strerror}): mcubert needs its "
                           f"checkout (pip install -e python)") from e
    found = {m[1]: int(m[2]) for m in re.finditer(r"^#define MCUBERT_MAX_(\w+) (\d+)u?\s*$", text, re.M)}
    missing = [n for n in _NAMES if n not in found]
    if missing:
        raise RuntimeError(f"{path} defines no MCUBERT_MAX_{missing[0]}")
    return found


MAX = read_header()


def _range(what: str, value: int, hi: int, macro: str | None, lo: int = 1) -> None:
    if not lo <= int(value) <= hi:
        why = f"MCUBERT_MAX_{macro} in include/mcubert/mcubert.h" if macro else "the runtime's limit"
        raise BoundsError(f"{what} {value} is outside {lo}..{hi} ({why}); mcubert_init would refuse "
                          f"this model with MCUBERT_ERR_CONFIG")


def check_model(*, vocab_size: int, hidden: int, layers: int, heads: int, ffn: int, max_positions: int,
                num_labels: int, clusters: int) -> None:
    """Raise BoundsError naming the first dimension the runtime refuses."""
    _range("vocab_size", vocab_size, MAX["VOCAB"], "VOCAB")
    _range("hidden_size", hidden, MAX["HIDDEN"], "HIDDEN")
    _range("num_hidden_layers", layers, MAX["LAYERS"], "LAYERS")
    _range("num_attention_heads", heads, hidden, None)
    if hidden % heads:
        raise BoundsError(f"num_attention_heads {heads} does not divide hidden_size {hidden}")
    _range("head dimension (hidden_size / num_attention_heads)", hidden // heads, MAX["HEAD_DIM"], "HEAD_DIM")
    _range("intermediate_size", ffn, MAX["FFN"], "FFN")
    _range("max_position_embeddings", max_positions, MAX["POSITIONS"], "POSITIONS")
    _range("num_labels", num_labels, MAX["LABELS"], "LABELS")
    _range("embedding clusters", clusters, MAX["CLUSTERS"], "CLUSTERS")


def check_config(cfg, clusters: int | None = None) -> None:
    """check_model for a transformers BertConfig-like object (new-model, quantize)."""
    check_model(vocab_size=cfg.vocab_size, hidden=cfg.hidden_size, layers=cfg.num_hidden_layers,
                heads=cfg.num_attention_heads, ffn=cfg.intermediate_size,
                max_positions=cfg.max_position_embeddings, num_labels=cfg.num_labels,
                clusters=clusters if clusters is not None else len(getattr(cfg, "cluster_sizes", None) or [0]))


def check_schedule(max_seq_len: int, max_positions: int, q_tile: int | None = None,
                   ffn_tile: int | None = None) -> None:
    """The sequence length and, in the fine schedule, the tiles."""
    if not 1 <= int(max_seq_len) <= max_positions:
        raise BoundsError(f"max_seq_len {max_seq_len} is outside 1..{max_positions} (the model's max positions)")
    for name, t in (("q_tile", q_tile), ("ffn_tile", ffn_tile)):
        if t is not None:
            _range(name, t, MAX["TILE"], "TILE")
