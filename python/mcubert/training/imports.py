# SPDX-License-Identifier: Apache-2.0
"""`mcubert import` with a flash budget: the imported checkpoint's word embedding compressed to fit.

Without a budget the embedding is carried over exactly (mcubert.modeling.importer). With one:
- `svd` keeps the largest rank of one truncated SVD of the whole table that fits; no data.
- `adaptive` buckets tokens by their frequency in a dataset's train split (`data`), most
  frequent at the highest rank, as the pipeline's adaptive baseline does, without its fine-tuning.
- `search` trains (stage 1 and 2 gates, fine-tuning), so it runs in the pipeline, not here.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from ..modeling.importer import ImportError_, import_checkpoint
from . import budget as B

METHODS = ("svd", "adaptive", "search")
TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def _train_counts(src: str | Path, data: str, vocab_size: int):
    """Token frequencies of a dataset's train split, tokenized with the checkpoint's tokenizer."""
    from transformers import AutoTokenizer

    from ..data import datasets
    from .search import token_counts

    try:
        tok = AutoTokenizer.from_pretrained(str(src))
    except (OSError, ValueError) as e:
        raise ImportError_(f"--method adaptive counts tokens with the checkpoint's tokenizer, and {src} has none "
                           f"({str(e).splitlines()[0]})") from None
    texts = [e.text for e in datasets.load(data).splits["train"]]
    return token_counts(tok(texts, truncation=True, max_length=512)["input_ids"], vocab_size)


def import_to(src: str | Path, out: str | Path, budget: int | None = None, board: str | None = None,
              reserve: int = B.DEFAULT_RESERVE, method: str = "svd", data: str | None = None) -> dict:
    """Import `src` into the mcubert checkpoint directory `out`; returns what was done."""
    import numpy as np
    import torch

    from ..modeling.model import compress_embedding
    from .baselines import adaptive_plan, svd_plan
    from .search import normalize

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    model = import_checkpoint(src)
    info = {"embedding": "exact (one full-rank cluster)", "model_bytes": B.model_flash_bytes(model)}
    if budget is not None or board is not None:
        if method == "search":
            raise ImportError_(f"--method search trains its gates and fine-tunes: run `mcubert pipeline "
                               f"--teacher-init {src}` for it (`import` offers svd and adaptive)")
        if method == "adaptive" and not data:
            raise ImportError_("--method adaptive needs --data: the token frequencies come from its train split")
        V, H = model.config.vocab_size, model.config.hidden_size
        rest = B.rest_flash_bytes(model)
        emb_budget = budget if budget is not None else B.embedding_budget(board, rest, reserve=reserve)
        if method == "svd":
            cluster_of, ranks = svd_plan(V, H, emb_budget)
        else:
            cluster_of, ranks = adaptive_plan(_train_counts(src, data, V), H, emb_budget)
        cluster_of, ranks, _ = normalize(cluster_of, ranks, H)
        dense = model.get_input_embeddings().dense().detach()
        compress_embedding(model, torch.as_tensor(np.asarray(cluster_of)), ranks, dense=dense)
        emb = model.get_input_embeddings()
        what = f"truncated SVD, rank {ranks[0]}" if method == "svd" else \
            "adaptive: " + ", ".join(f"{n} tokens at rank {r}" for n, r in zip(emb.sizes, emb.ranks))
        info = {"embedding": what, "budget": emb_budget, "model_bytes": B.model_flash_bytes(model)}
    out = Path(out)
    model.save_pretrained(out)
    copied = [f for f in TOKENIZER_FILES if (Path(src) / f).is_file()]
    for f in copied:
        shutil.copyfile(Path(src) / f, out / f)
    info["tokenizer"] = copied
    return info
