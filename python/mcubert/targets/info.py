# SPDX-License-Identifier: Apache-2.0
"""`mcubert info`: what a user needs to know about a model file before flashing it."""
from __future__ import annotations

from pathlib import Path

from ..export.blob import build_blob
from ..export.planner import Dims, plan
from ..int8 import modelfile
from ..int8.qmodel import QuantModel
from ..presets import preset_of

INFO_SEQ_LEN = 128
_PROVENANCE_ORDER = ("embedding", "training_data", "data", "train_sentences", "checkpoint", "calibration",
                     "float_dev_accuracy", "float_test_accuracy", "int8_test_accuracy", "test_sentences",
                     "tool")


def describe(qm: QuantModel, path: str | Path | None = None) -> str:
    L = min(INFO_SEQ_LEN, qm.max_positions)
    p = plan(Dims.of(qm), L)
    blob = len(build_blob(qm, p.hash))
    preset = preset_of(qm.layers, qm.hidden, qm.heads, qm.ffn)
    lines = []
    if path is not None:
        lines.append(f"file: {path} ({Path(path).stat().st_size:,} B, format version "
                     f"{modelfile.file_version(path)})")
    lines += [
        f"preset: {preset or 'custom'} ({qm.layers} layers, hidden {qm.hidden}, {qm.heads} heads of "
        f"{qm.head_dim}, FFN {qm.ffn})",
        f"vocabulary: {qm.vocab_size:,} tokens" + ("" if qm.vocab else " (no token strings: pass ids)"),
        f"max positions: {qm.max_positions}" + (
            f", low rank (factors {qm.pos_rank} wide: rank {qm.pos_rank - 1} + segment A)" if qm.pos_rank else ""),
        f"labels ({qm.num_labels}): {', '.join(qm.labels)}",
        "input: sentence pairs ([CLS] a [SEP] b [SEP], mcubert_classify_pair)" if qm.is_pair else
        "input: one sentence ([CLS] text [SEP], mcubert_classify)",
        f"embedding: {len(qm.cluster_sizes)} clusters",
    ]
    for c, (n, r) in enumerate(zip(qm.cluster_sizes, qm.cluster_ranks)):
        lines.append(f"  cluster {c}: {n:>6,} tokens, rank {r}")
    lines += [f"blob: {blob:,} B (weights and index tables, in flash)",
              f"arena at {L} tokens: {p.arena_size:,} B (fine schedule, q_tile {p.q_tile}, ffn_tile {p.ffn_tile})"]
    prov = qm.provenance or {}
    if prov:
        lines.append("provenance:")
        for k in sorted(prov, key=lambda k: (_PROVENANCE_ORDER.index(k) if k in _PROVENANCE_ORDER else 99, k)):
            v = prov[k]
            lines.append(f"  {k.replace('_', ' ')}: {v:.4f}" if isinstance(v, float) else f"  {k.replace('_', ' ')}: {v}")
    else:
        lines.append("provenance: not recorded (a format version 1 file)")
    return "\n".join(lines)
