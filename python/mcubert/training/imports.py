# SPDX-License-Identifier: Apache-2.0
"""`mcubert import` with a flash budget: the imported checkpoint's word embedding compressed to fit.

Without a budget the embedding is carried over exactly (mcubert.modeling.importer). With one,
`svd` keeps the largest rank of one truncated SVD of the whole table whose bytes fit the
budget; it needs no data. `adaptive` and `search` learn from data and fine-tune, so they run in
the pipeline, not here.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..modeling.importer import ImportError_, import_checkpoint
from . import budget as B

METHODS = ("svd", "adaptive", "search")
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def svd_rank_for(model, embedding_budget: int) -> int:
    """Largest rank of a one-cluster embedding whose flash bytes fit the budget (0 if none does)."""
    V, H = model.config.vocab_size, model.config.hidden_size
    fits = [r for r in range(H + 1) if B.embedding_flash_bytes([V], [r], V, H) <= embedding_budget]
    if not fits:
        raise ValueError(f"an embedding budget of {embedding_budget} B holds not even a rank-0 table "
                         f"({B.embedding_flash_bytes([V], [0], V, H)} B)")
    return fits[-1]


def import_to(src: str | Path, out: str | Path, budget: int | None = None, board: str | None = None,
              reserve: int = B.DEFAULT_RESERVE, method: str = "svd") -> dict:
    """Import `src` into the mcubert checkpoint directory `out`; returns what was done."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    model = import_checkpoint(src)
    info = {"embedding": "exact (one full-rank cluster)", "model_bytes": B.model_flash_bytes(model)}
    if budget is not None or board is not None:
        if method != "svd":
            raise ImportError_(f"--method {method} learns from data and fine-tunes: run `mcubert pipeline "
                               f"--teacher-init {src}` for it; `import --method svd` needs no data")
        rest = B.rest_flash_bytes(model)
        emb_budget = budget if budget is not None else B.embedding_budget(board, rest, reserve=reserve)
        r = svd_rank_for(model, emb_budget)
        model = import_checkpoint(src, svd_rank=r)
        info = {"embedding": f"truncated SVD, rank {r}", "budget": emb_budget,
                "model_bytes": B.model_flash_bytes(model)}
    out = Path(out)
    model.save_pretrained(out)
    copied = [f for f in TOKENIZER_FILES if (Path(src) / f).is_file()]
    for f in copied:
        shutil.copyfile(Path(src) / f, out / f)
    info["tokenizer"] = copied
    return info
