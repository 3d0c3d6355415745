# SPDX-License-Identifier: Apache-2.0
"""The quantized model: integer tensors plus the config, as stored in a .mcubert file."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Per-layer integer tensors, in the order the blob stores them (src/mcubert_blob.h).
LAYER_TENSORS = (
    "q.w", "q.b", "q.rq", "k.w", "k.b", "k.rq", "v.w", "v.b", "v.rq",
    "o.w", "o.b", "o.rq", "f1.w", "f1.b", "f1.rq", "f2.w", "f2.b", "f2.rq",
    "ln1", "ln2", "softmax_lut", "gelu_lut", "scalars",
)
# scalars: score M,S; ctx M,S; res1 M,S; res2 M,S
SCALARS = ("score", "ctx", "res1", "res2")
CONFIG_KEYS = ("vocab_size", "hidden_size", "num_layers", "num_heads", "ffn_size", "max_positions",
               "num_labels", "cluster_sizes", "cluster_ranks")


@dataclass
class QuantModel:
    """Config (vocab_size, hidden_size, num_layers, num_heads, ffn_size, max_positions,
    num_labels, cluster_sizes, cluster_ranks, id2label) plus named integer tensors."""

    config: dict
    tensors: dict[str, np.ndarray]
    scales: dict[str, float] = field(default_factory=dict)
    vocab: list[str] | None = None
    # How the model was made (modelfile version 2): embedding method, training data, accuracy.
    provenance: dict = field(default_factory=dict)

    # ---- convenient views
    @property
    def hidden(self) -> int:
        return int(self.config["hidden_size"])

    @property
    def layers(self) -> int:
        return int(self.config["num_layers"])

    @property
    def heads(self) -> int:
        return int(self.config["num_heads"])

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def ffn(self) -> int:
        return int(self.config["ffn_size"])

    @property
    def vocab_size(self) -> int:
        return int(self.config["vocab_size"])

    @property
    def max_positions(self) -> int:
        return int(self.config["max_positions"])

    @property
    def num_labels(self) -> int:
        return int(self.config["num_labels"])

    @property
    def cluster_sizes(self) -> list[int]:
        return [int(x) for x in self.config["cluster_sizes"]]

    @property
    def cluster_ranks(self) -> list[int]:
        return [int(x) for x in self.config["cluster_ranks"]]

    @property
    def pos_rank(self) -> int:
        """Columns k of the low-rank position factors ("pos" [max_pos][k], "pos.vt" [H][k]; the
        float rank + 1, segment A folded in), or 0 for a dense "pos" [max_pos][H]."""
        vt = self.tensors.get("pos.vt")
        return 0 if vt is None else int(vt.shape[1])

    @property
    def labels(self) -> list[str]:
        id2label = self.config.get("id2label") or {}
        return [str(id2label.get(str(i), id2label.get(i, f"LABEL_{i}"))) for i in range(self.num_labels)]

    @property
    def segment(self) -> np.ndarray:
        """int16 [H]: segment B minus segment A on the embedding-sum grid. Files made before
        sentence pairs have none: their segment B equals segment A (zeros)."""
        seg = self.tensors.get("seg")
        return np.zeros(self.hidden, np.int16) if seg is None else np.asarray(seg, np.int16)

    @property
    def is_pair(self) -> bool:
        """Trained on sentence pairs ([CLS] a [SEP] b [SEP])."""
        return bool(self.config.get("text_pair"))

    def layer(self, i: int, name: str) -> np.ndarray:
        return self.tensors[f"l{i}.{name}"]

    def scalar(self, i: int, name: str) -> tuple[int, int]:
        s = self.layer(i, "scalars")
        k = SCALARS.index(name)
        return int(s[2 * k]), int(s[2 * k + 1])

    def token_rows(self) -> np.ndarray:
        """Row of every token inside its cluster (tokens keep id order within a cluster)."""
        cl = self.tensors["emb.cluster_of"].astype(np.int64)
        rows = np.zeros_like(cl)
        for c in range(len(self.cluster_sizes)):
            idx = np.nonzero(cl == c)[0]
            rows[idx] = np.arange(len(idx))
        return rows

    def weight_bytes(self) -> int:
        return int(sum(t.nbytes for t in self.tensors.values()))
