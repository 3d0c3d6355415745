# SPDX-License-Identifier: Apache-2.0
"""Baselines for the embedding search, on the same split, flash budget, distillation set and
fine-tuning recipe (search.finetune_and_save: per-cluster truncated SVD of the dense student's
table, then KD for cfg.finetune_epochs):

    svd       one cluster, the largest rank that fits
    fwsvd     Fisher-weighted SVD (Hsu et al., ICLR 2022): svd's rank, but the directions kept
              are the top right singular vectors of diag(sqrt(I_t)) E, I_t = token t's summed
              squared gradient of the distillation loss (fisher_rows); each row of E is then
              projected onto them (E V V^T), so tokens the loss never touched keep their
              projection instead of being divided by a zero weight
    adaptive  frequency buckets a la Baevski & Auli (adaptive input): ranks hidden, hidden/4,
              hidden/16, hidden/64 (at least 1; 128/32/8/2 for bert-tiny), bucket i < last holds
              N * 4^i tokens (the same U bytes each), the last bucket every other token; N the
              largest that fits. If even N = 0 does not fit, the last bucket gets rank 0.
    prune     vocabulary pruning: the N most frequent tokens dense (rank min(hidden, N)), the rest
              in a rank-0 cluster; N the largest that fits
    dense     the uncompressed student, evaluated only (it does not fit the budget)

Frequencies: search.distill_data (train split + extra sentences of the distillation set).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from . import budget as B
from .search import (RunConfig, _fresh, _log, _write_metrics, assignment_bytes, data_fields, distill_data,
                     finetune_and_save, fisher_rows, frequency_buckets, frequency_order, load_student, normalize,
                     resolve_budget)

KINDS = ("svd", "fwsvd", "adaptive", "prune", "dense")


def svd_plan(vocab: int, hidden: int, budget: int) -> tuple[np.ndarray, list[int]]:
    r = max((r for r in range(hidden + 1) if B.embedding_flash_bytes([vocab], [r], vocab, hidden) <= budget),
            default=-1)
    if r <= 0:
        raise ValueError(f"budget {budget} B: not even rank 1 fits one cluster of {vocab} tokens")
    return np.zeros(vocab, np.int64), [r]


def fwsvd_table(dense: torch.Tensor, fisher: np.ndarray, rank: int) -> torch.Tensor:
    """Rank-`rank` table: every row of `dense` projected onto the top right singular vectors of
    the Fisher-row-weighted table. Rows with no Fisher weight get a tiny one (1e-6 of the mean),
    so they still count a little but never steer the subspace."""
    f = torch.as_tensor(fisher, dtype=torch.float64)
    pos = f[f > 0]
    w = torch.sqrt(f + (1e-6 * pos.mean() if len(pos) else 1.0))
    e = dense.double()
    _, _, vt = torch.linalg.svd(w[:, None] * e, full_matrices=False)
    v = vt[:rank]
    return ((e @ v.T) @ v).float()


def prune_plan(counts: np.ndarray, hidden: int, budget: int) -> tuple[np.ndarray, list[int]]:
    vocab = len(counts)
    order = frequency_order(counts)

    def plan(n: int):
        cl = np.ones(vocab, np.int64)
        cl[order[:n]] = 0
        return cl, [min(hidden, n), 0]

    lo, hi = 0, vocab - 1           # keep at least one token in the rank-0 cluster
    if assignment_bytes(*plan(1), hidden) > budget:
        raise ValueError(f"budget {budget} B: not even one dense token fits")
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if assignment_bytes(*plan(mid), hidden) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return plan(lo)


def adaptive_ranks(hidden: int, buckets: int = 4, factor: int = 4) -> list[int]:
    out = [hidden]
    while len(out) < buckets and out[-1] // factor >= 1:
        out.append(out[-1] // factor)
    return out


def adaptive_plan(counts: np.ndarray, hidden: int, budget: int, buckets: int = 4) -> tuple[np.ndarray, list[int]]:
    ranks = adaptive_ranks(hidden, buckets)
    try:
        return frequency_buckets(counts, ranks, hidden, budget)
    except ValueError:
        return frequency_buckets(counts, ranks[:-1] + [0], hidden, budget)


def baseline(kind: str, cfg: RunConfig, stop_after: tuple[str, int] | None = None) -> dict | None:
    """Build, fine-tune and save one baseline to cfg.out (dense: evaluate only); returns its
    metrics (also in cfg.out/metrics.json)."""
    if kind not in KINDS:
        raise ValueError(f"unknown baseline {kind!r}; choose from {', '.join(KINDS)}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    _fresh(out, cfg.resume, ("finetune",), {"kind": kind, **asdict(cfg)})
    log = _log(out)
    if cfg.resume and (out / "metrics.json").is_file():
        m = json.loads((out / "metrics.json").read_text())
        if m.get("config") == json.loads(json.dumps({"kind": kind, **asdict(cfg)})):
            return m
    log.info(f"baseline {kind} config {json.dumps(asdict(cfg))}")
    model = load_student(cfg.student, cfg.position_rank)
    vocab, hidden = model.config.vocab_size, model.config.hidden_size
    info = resolve_budget(cfg, model)
    if kind == "dense":
        return _dense(cfg, model, info, out)
    dd = distill_data(cfg.student, vocab, cfg.max_len, cfg.limit, cfg.data_seed, cfg.hidden_weight)
    budget = info["budget"]
    table = model.get_input_embeddings().dense().detach()
    if kind in ("svd", "fwsvd"):
        cl, ranks = svd_plan(vocab, hidden, budget)
    elif kind == "prune":
        cl, ranks = prune_plan(dd.counts, hidden, budget)
    else:
        cl, ranks = adaptive_plan(dd.counts, hidden, budget)
    cl, ranks, _ = normalize(cl, ranks, hidden)
    t0 = time.time()
    if kind == "fwsvd":
        table = fwsvd_table(table, fisher_rows(cfg, table, dd), ranks[0])
        log.info(f"fwsvd: Fisher pass and weighted SVD at rank {ranks[0]}, {time.time() - t0:.0f} s")
    m = finetune_and_save(cfg, model, table, cl, ranks, dd, info, log, stop_after)
    if m is None:
        return None
    m = {"method": kind, **m, **data_fields(cfg), "position_rank": cfg.position_rank, "seconds_this_run": {"finetune": round(time.time() - t0, 1)},
         "config": {"kind": kind, **asdict(cfg)}}
    _write_metrics(out, m)
    return m


def _dense(cfg: RunConfig, model, info: dict, out: Path) -> dict:
    from .search import run_data
    from .train import _dataset, accuracy, encode

    splits = _dataset(run_data(cfg), cfg.data_seed).splits
    acc = {s: accuracy(model, *encode(splits[s], cfg.max_len, cfg.limit)) for s in ("dev", "test")}
    emb = model.get_input_embeddings()
    m = {"method": "dense", **data_fields(cfg), "dev_accuracy": acc["dev"], "test_accuracy": acc["test"],
         "cluster_sizes": list(emb.sizes), "cluster_ranks": list(emb.ranks),
         "embedding_bytes": B.embedding_flash_bytes(emb.sizes, emb.ranks, emb.vocab_size, emb.hidden_size),
         "model_bytes": B.model_flash_bytes(model), **info, "config": {"kind": "dense", **asdict(cfg)}}
    logging.getLogger(f"mcubert.search.{out.resolve()}").info(f"dense: {json.dumps(m)}")
    _write_metrics(out, m)
    return m
