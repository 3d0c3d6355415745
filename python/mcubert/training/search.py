# SPDX-License-Identifier: Apache-2.0
"""MCU-aware two-stage search of the clustered low-rank word embedding under a flash budget
(MCUBERT, Yang et al., ICCAD 2024, arXiv 2410.17957). docs/search.md describes the method.

    stage 1  token -> cluster: every token mixes K candidate clusters of fixed ranks with
             softmax(alpha_t / tau), alpha initialised from token frequency;
             loss = KD + penalty * relu(bytes - budget) / budget, bytes from budget.py's exact
             costs (the argmax assignment's, with the soft assignment's gradient, by default)
    stage 2  rank per cluster: soft-rank gates over each cluster's singular directions, same loss,
             never below a floor (the smallest candidate rank); the final ranks meet the budget
             exactly (trim down to the floors, then fill the slack)
    finetune the ClusteredLowRankEmbedding (per-cluster truncated SVD) with the whole student, KD

Every stage trains through train.fit on the student's distillation set (train split + the
unlabelled sentences, teacher logits), checkpoints each epoch, and --resume continues from
the last finished stage and epoch. The output directory is an HF checkpoint that
`mcubert quantize` takes as it is, plus metrics.json and search.log.
"""
from __future__ import annotations

import json
import logging
import math
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import budget as B
from .train import (HiddenDistill, TrainConfig, _dataset, _logger, accuracy, batches, data_of, encode, fit, kd_loss,
                    load_distill_set)


# ---------------------------------------------------------------- configuration


@dataclass
class RunConfig:
    """What the search and the baselines share: data, budget and the fine-tuning recipe."""
    student: str                      # dense student directory (with distill_set.npz)
    out: str
    board: str | None = "nucleo_f746zg"
    reserve: int = B.DEFAULT_RESERVE  # flash left to the application
    firmware_bytes: int | None = None  # default: the board profile's
    budget: int | None = None         # embedding bytes; overrides the board
    finetune_epochs: int = 2
    batch_size: int = 32
    lr: float = 5e-4
    max_len: int = 64
    limit: int | None = None          # first N sentences of each split and of the extra set
    seed: int = 0
    data_seed: int = 0
    data: str | None = None           # the dataset; None: the student's (any other is refused)
    kd_temperature: float = 2.0
    kd_alpha: float = 0.5             # weight of the hard-label loss
    hidden_weight: float | None = None  # hidden-state loss weight; None: the student's own (0 if it had none)
    position_rank: int | None = None  # position table as a rank-r factorisation (None: dense), in the budget
    resume: bool = False


@dataclass
class SearchConfig(RunConfig):
    clusters: int | str = 4           # or "auto": choose_clusters picks the count under the budget
    ranks: list[int] | None = None    # candidate rank per cluster; default ladder_ranks(clusters, hidden)
    init: str = "frequency"           # alpha init: "frequency" or "uniform"
    stage1_epochs: int = 1
    stage2_epochs: int = 1
    penalty: float = 1.0              # lambda of the budget term (with multiplier "dual": its start)
    multiplier: str = "fixed"         # "fixed": lambda = penalty throughout, a hinge on the bytes over
                                      # budget; "dual": lambda follows dual ascent (BudgetMultiplier)
    dual_lr: float = 0.05             # "dual": log-lambda step per training step, per unit of
                                      # (bytes - budget) / budget
    cluster_choice: str = "fisher"    # --clusters auto: "fisher" = the least Fisher-weighted structure
                                      # error; "dev" = the best dev accuracy of each candidate plan on
                                      # the student, with the lowered floor and the rank-0 floor both tried
    cost: str = "hard"                # budget term on the bytes of the argmax assignment / open gates
                                      # with the soft assignment's gradient (straight-through), or
                                      # "soft": on the expected bytes of the soft assignment / gates
    tau_start: float = 1.0            # stage-1 softmax temperature, annealed geometrically
    tau_end: float = 0.1
    alpha_init: float = 1.0           # initial logit of a token's frequency-chosen cluster (others 0)
    alpha_lr: float = 0.05            # effective Adam step of alpha (per step, in logits)
    gate_temp_start: float = 0.5      # stage-2 gate temperature (in ranks), annealed geometrically
    gate_temp_end: float = 0.1
    rank_lr: float = 0.05             # effective Adam step of a cluster's soft rank (ranks per step)
    rank_floor: int | None = None     # stage 2 keeps every cluster at this rank or more (capped at the
                                      # cluster's size); None: the smallest candidate rank of stage 1
    relax: str = "st"                 # forward pass of both stages: "st" = the discrete choice (argmax
                                      # cluster, open gates) with the soft choice's gradient
                                      # (straight-through); "soft" = the soft mixture / gates themselves
    search_positions: bool = False    # stage 2 also gates the (dense) position table's singular
                                      # directions: the position rank is chosen under the same budget
    finetune_from: str = "search"     # the fine-tuning's starting weights: "search" = the stages' trained
                                      # network and factors; "student" = the searched plan (clusters,
                                      # ranks, position rank) applied to the untouched student, as the
                                      # baselines build theirs (per-cluster truncated SVD); "best" = of
                                      # those two and stage 1's starting plan on the student, the one
                                      # with the best dev accuracy (_finetune_start)


def ladder_ranks(k: int, hidden: int, factor: int = 4) -> list[int]:
    """Candidate ranks, cheapest first: hidden / factor^(k-1), ..., hidden / factor, hidden
    (k=4: 2, 8, 32, 128 for hidden 128; 4, 16, 64, 256 for hidden 256).

    The floor is a rank, not 0, so that rare tokens keep a vector: with a rank-0 floor the
    bert-tiny search lost 1.3 points of dev accuracy (docs/results.md). It is 0 only where
    hidden / factor^(k-1) rounds to 0."""
    if k < 1:
        raise ValueError(f"need at least one cluster, got {k}")
    return [hidden // factor ** (k - 1)] + [max(1, hidden // factor ** (k - 2 - i)) for i in range(k - 1)]


# ---------------------------------------------------------------- data


@dataclass
class DistillData:
    extra_ids: list[list[int]]        # unlabelled sentences, in the order fit() appends them
    soft: torch.Tensor                # teacher logits for train[:limit] + extra[:limit]
    counts: np.ndarray                # token frequency over the same sentences
    train_sentences: int
    hidden: dict | None = None        # HiddenDistill arguments when the student was distilled with them

    def new_hidden(self) -> HiddenDistill | None:
        """A fresh hidden-state loss whose maps start from the student's trained ones."""
        if self.hidden is None:
            return None
        h = self.hidden
        hd = HiddenDistill(h["student_hidden"], h["pass"], h["layers"], h["weight"], seq_map=h["seq_map"],
                           relation=h.get("relation"))
        if h["proj"] is not None:
            hd.load_state_dict(h["proj"])
        return hd


def token_counts(sentences, vocab_size: int) -> np.ndarray:
    flat = np.fromiter((t for s in sentences for t in s), np.int64)
    if flat.size and flat.max() >= vocab_size:
        raise ValueError(f"token id {flat.max()} >= vocab_size {vocab_size}")
    return np.bincount(flat, minlength=vocab_size)


def run_data(cfg: RunConfig) -> str:
    """The dataset of a search or baseline run: the student's, which distilled on its train split."""
    own = data_of(cfg.student)
    if cfg.data is not None and cfg.data != own:
        raise ValueError(f"--data {cfg.data}: the student in {cfg.student} was trained on {own}, and the search "
                         f"and baselines distil on the student's data")
    return own


def data_fields(cfg: RunConfig) -> dict:
    """What a run's metrics.json says about its data (quantize reads it into the model file)."""
    data = run_data(cfg)
    ds = _dataset(data, cfg.data_seed)
    return {"data": data, "data_source": ds.source, "labels": ds.labels}


def distill_data(student: str | Path, vocab_size: int, max_len: int = 64, limit: int | None = None,
                 data_seed: int = 0, hidden_weight: float | None = None) -> DistillData:
    """The student's distillation set, sliced like TrainConfig.limit slices the splits, and the
    token frequencies over exactly the sentences training sees (train split + extra). When the
    student learnt the teacher's hidden states (its teacher_pass/ cache), so do later stages,
    with the same weight unless hidden_weight says otherwise."""
    extra, logits = load_distill_set(student)
    train = _dataset(data_of(student), data_seed).splits["train"]
    n_set = len(logits) - len(extra)         # train sentences the set covers (fewer: a --limit student)
    if not 0 <= n_set <= len(train):
        raise ValueError(f"{student}/distill_set.npz has {len(logits)} teacher logits for {len(extra)} extra "
                         f"sentences and a {len(train)}-sentence train split")
    tr_ids, _ = encode(train, max_len, limit)
    if len(tr_ids) > n_set:
        raise ValueError(f"{student}/distill_set.npz covers the first {n_set} train sentences only; "
                         f"use limit <= {n_set}")
    ex = extra[:limit] if limit else extra
    soft = np.concatenate([logits[:len(tr_ids)], logits[n_set:n_set + len(ex)]])
    return DistillData(ex, torch.from_numpy(np.ascontiguousarray(soft, np.float32)),
                       token_counts(tr_ids + ex, vocab_size), len(tr_ids),
                       _hidden_args(Path(student), logits, extra, n_set, len(tr_ids), len(ex), hidden_weight))


def _hidden_args(student: Path, logits, extra, n_set: int, n_tr: int, n_ex: int, weight: float | None):
    from .train import Relation, _load_pass, teacher_layers

    m = json.loads((student / "metrics.json").read_text()) if (student / "metrics.json").is_file() else {}
    own = float(m.get("distill", {}).get("hidden_weight", 0.0))
    weight = own if weight is None else float(weight)
    rel_weight = float(m.get("distill", {}).get("relation_weight", 0.0))
    if not weight and not rel_weight:
        return None
    ntok = sum(len(s) for s in extra)
    tp = None
    if (student / "teacher_pass" / "pass.npz").is_file():
        off = np.load(student / "teacher_pass" / "pass.npz")["offsets"]
        tp = _load_pass(student / "teacher_pass", logits, int(off[-1]))
        if tp is not None and int(off[-1]) - int(off[n_set]) != ntok:
            tp = None
    if tp is None:
        raise ValueError(f"{student}: hidden-state loss asked for (weight {weight}) but there is no matching "
                         f"teacher_pass/ cache; train the student with --hidden-weight, or pass hidden_weight=0")
    ckpt = student / "checkpoint.pt"
    proj = torch.load(ckpt, weights_only=False).get("aux") if ckpt.is_file() else None
    cfg = json.loads((student / "config.json").read_text())
    # the pass always holds the teacher's last layer (teacher_layers ends there)
    layers = teacher_layers(int(cfg["num_hidden_layers"]), max(tp.hidden))
    relation = None
    if rel_weight:
        z = np.load(student / "teacher_pass" / "relation.npz")
        relation = Relation(rel_weight, int(z["heads"]), int(z["layer"]), z["w"], z["b"])
    return {"student_hidden": int(cfg["hidden_size"]), "pass": tp, "layers": layers, "weight": weight,
            "seq_map": np.concatenate([np.arange(n_tr), n_set + np.arange(n_ex)]).astype(np.int64),
            "proj": proj, "relation": relation}


def frequency_order(counts: np.ndarray) -> np.ndarray:
    """Token ids, most frequent first; ties by token id."""
    return np.argsort(-counts, kind="stable")


# ---------------------------------------------------------------- assignments and their bytes


def normalize(cluster_of: np.ndarray, ranks: list[int], hidden: int):
    """Drop empty clusters and clamp each rank to min(size, hidden) (what from_dense accepts).
    Returns (cluster_of, ranks, kept old cluster ids)."""
    cluster_of = np.asarray(cluster_of, np.int64)
    sizes = np.bincount(cluster_of, minlength=len(ranks))
    keep = [c for c in range(len(ranks)) if sizes[c] > 0]
    remap = np.full(len(ranks), -1, np.int64)
    remap[keep] = np.arange(len(keep))
    return remap[cluster_of], [int(min(ranks[c], sizes[c], hidden)) for c in keep], keep


def assignment_bytes(cluster_of, ranks: list[int], hidden: int) -> int:
    """Exact embedding flash bytes of an assignment (after normalize)."""
    of, rk, _ = normalize(cluster_of, ranks, hidden)
    return B.embedding_flash_bytes(np.bincount(of, minlength=len(rk)).tolist(), rk, len(of), hidden)


def _largest(ok, hi: int) -> int:
    """Largest n in [0, hi] with ok(n), for ok monotone (true then false); -1 if none."""
    if not ok(0):
        return -1
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def frequency_buckets(counts: np.ndarray, ranks: list[int], hidden: int, budget: int,
                      seen_only: bool = False) -> tuple[np.ndarray, list[int]]:
    """Frequency-bucketed assignment: `ranks` (highest first; the last one is the tail's).

    Tokens, most frequent first, fill bucket i < last with N * ranks[0] // ranks[i] tokens, so
    every bucket above the tail holds the same U bytes (4x the tokens at 1/4 the rank); the
    tail bucket takes every remaining token. N is the largest whose exact bytes fit `budget`.
    seen_only: tokens with count 0 always go to the tail. Returns (cluster id per token, indexing
    `ranks`; ranks), empty buckets not yet dropped (normalize does)."""
    vocab = len(counts)
    order = frequency_order(counts)
    eligible = int((counts > 0).sum()) if seen_only else vocab
    if any(r <= 0 for r in ranks[:-1]):
        raise ValueError(f"only the tail bucket may have rank 0: {ranks}")

    def sizes(n: int) -> list[int]:
        out, left = [], eligible
        for r in ranks[:-1]:
            out.append(min(left, n * ranks[0] // r))
            left -= out[-1]
        return out + [vocab - sum(out)]

    def of(n: int) -> np.ndarray:
        cl = np.empty(vocab, np.int64)
        cl[order] = np.repeat(np.arange(len(ranks)), sizes(n))
        return cl

    n = _largest(lambda n: assignment_bytes(of(n), ranks, hidden) <= budget, eligible)
    if n < 0:
        raise ValueError(f"budget {budget} B: even every token in the tail bucket (rank {ranks[-1]}) "
                         f"takes {assignment_bytes(of(0), ranks, hidden)} B")
    return of(n), list(ranks)


def fit_to_budget(assign: np.ndarray, counts: np.ndarray, margin: np.ndarray, ranks: list[int],
                  hidden: int, budget: int) -> tuple[np.ndarray, int]:
    """Move the least frequent tokens (ties: smallest preference `margin` for their cluster over
    the cheapest) into the cheapest cluster until the exact bytes fit. Returns (assignment, moved)."""
    cheap = int(np.argmin(ranks))
    cand = np.nonzero(assign != cheap)[0]
    cand = cand[np.lexsort((margin[cand], counts[cand]))]

    def moved(m: int) -> np.ndarray:
        a = assign.copy()
        a[cand[:m]] = cheap
        return a

    if assignment_bytes(assign, ranks, hidden) <= budget:
        return assign.copy(), 0
    # bytes fall as tokens move (ties by the cheapest cluster appearing aside); find the fewest moves
    m = len(cand) - _largest(lambda j: assignment_bytes(moved(len(cand) - j), ranks, hidden) <= budget,
                             len(cand))
    if m > len(cand):
        raise ValueError(f"budget {budget} B: even every token in the cheapest cluster (rank {ranks[cheap]}) "
                         f"takes {assignment_bytes(moved(len(cand)), ranks, hidden)} B")
    return moved(m), m


def trim_to_budget(sizes: list[int], ranks: list[int], svals: list[np.ndarray], vocab: int, hidden: int,
                   budget: int, floors: list[int] | None = None, positions: tuple | None = None):
    """Enforce the budget exactly on per-cluster ranks, by value sigma^2 per byte (size_c + hidden)
    of each cluster's next singular direction (svals[c], sorted):

    1. drop directions, the lowest value first, while the exact bytes exceed the budget, never
       taking a cluster below its floor (floors[c], default 0);
    2. open directions (also past the given ranks, up to len(svals[c]) = min(size, hidden)), the
       highest value first, while they still fit: the slack a costly drop or the soft gates'
       rounding left.
    Returns the ranks. With positions = (svals, rank, max_positions), the low-rank position table
    is one more block (sigma^2 per max_positions + hidden bytes, floor 1, its exact slot bytes in
    the budget), and the result is (ranks, position rank)."""
    floors = [0] * len(ranks) if floors is None else [min(f, len(v)) for f, v in zip(floors, svals)]
    svals, K = list(svals), len(ranks)
    unit = [n + hidden for n in sizes]
    if positions is not None:
        p_sv, p_rank, n_pos = positions
        svals, floors, unit = svals + [p_sv], floors + [min(1, len(p_sv))], unit + [n_pos + hidden]
        ranks = list(ranks) + [p_rank]
    ranks = [max(r, f) for r, f in zip(ranks, floors)]

    def cost(rk):
        c = B.embedding_flash_bytes(sizes, rk[:K], vocab, hidden)
        return c + (B.position_flash_bytes(hidden, n_pos, rk[K] + 1) if positions is not None else 0)

    value = lambda c, i: float(svals[c][i]) ** 2 / unit[c]                     # noqa: E731
    while cost(ranks) > budget:
        cands = [(value(c, ranks[c] - 1), c) for c in range(len(ranks)) if ranks[c] > floors[c]]
        if not cands:
            what = "rank-0 cost" if not any(floors) else f"cost at the floor ranks {floors}"
            raise ValueError(f"budget {budget} B below the {what} of {K} clusters"
                             + (" and the position table" if positions is not None else ""))
        ranks[min(cands)[1]] -= 1
    while True:
        fits = []
        for c in range(len(ranks)):
            if ranks[c] < len(svals[c]):
                more = ranks[:c] + [ranks[c] + 1] + ranks[c + 1:]
                if cost(more) <= budget:
                    fits.append((value(c, ranks[c]), c))
        if not fits:
            break
        ranks[max(fits)[1]] += 1
    return (ranks[:K], ranks[K]) if positions is not None else ranks


# ---------------------------------------------------------------- the number of clusters

AUTO_CLUSTERS = (1, 2, 3, 4)
FISHER_SENTENCES = 4096     # sentences of the distillation set the Fisher pass reads (FWSVD, --clusters auto)


def default_ranks(k: int, hidden: int, vocab: int, budget: int) -> list[int]:
    """The candidate ranks when none are given: ladder_ranks, with the floor lowered when the
    ladder's floor rank for every token is over budget: to the largest rank that fits with the
    other clusters' index tables, and to 0 only when not even rank 1 does. A rank-0 floor costs
    the tokens that the training data never shows (their weight in the loss is 0, at test time
    it is not): 28,924 tokens at rank 0 lost 2 points of test accuracy against adaptive's rank 2
    at 96,000 B (docs/results.md). One cluster is every token at the largest rank that fits
    (SVD's plan): a rank-0 table would leave the stages nothing to train."""
    zeros = np.zeros(vocab, np.int64)
    if k == 1:
        r = _largest(lambda r: assignment_bytes(zeros, [r], hidden) <= budget, hidden)
        if r < 1:
            raise ValueError(f"budget {budget} B: not even rank 1 fits one cluster of {vocab} tokens")
        return [r]
    ranks = ladder_ranks(k, hidden)
    sizes = [vocab - (k - 1)] + [1] * (k - 1)

    def fits(r):                   # every token at the floor, with the index tables of k clusters
        return B.embedding_flash_bytes(sizes, [r] + [0] * (k - 1), vocab, hidden) <= budget

    if ranks[0] > 0 and assignment_bytes(zeros, ranks, hidden) > budget:
        ranks[0] = max(0, _largest(fits, ranks[0] - 1))
    return ranks


def candidate_ladders(k: int, hidden: int, vocab: int, budget: int) -> list[list[int]]:
    """default_ranks(k), and when that lowered the ladder's floor, also the ladder with the floor
    at 0 (the rule before it: frequent tokens keep more rank, the tail none)."""
    lowered = default_ranks(k, hidden, vocab, budget)
    ladder = ladder_ranks(k, hidden)
    out = [lowered]
    if k > 1 and lowered != ladder and lowered[0] > 0:
        out.append([0] + ladder[1:])
    return out


def frequency_plan(counts: np.ndarray, k: int, hidden: int, budget: int,
                   ranks: list[int] | None = None) -> tuple[np.ndarray, list[int]]:
    """Stage 1's starting point for k clusters: frequency buckets over `ranks` (default: ladder_ranks(k,
    hidden) with the floor lowered as default_ranks does when it is over budget). Returns (cluster
    per token, indexing the candidates; candidate ranks, cheapest first)."""
    vocab = len(counts)
    ranks = default_ranks(k, hidden, vocab, budget) if ranks is None else list(ranks)
    desc = np.argsort(ranks, kind="stable")[::-1]
    b, _ = frequency_buckets(counts, [ranks[i] for i in desc], hidden, budget, seen_only=True)
    return desc[b], ranks


def structure_error(dense: torch.Tensor, weight: np.ndarray, cluster_of: np.ndarray, n_clusters: int,
                    budget: int) -> tuple[float, list[int]]:
    """Weighted squared error sum_t w_t |e_t - e'_t|^2 of the best per-cluster low-rank table
    for an assignment, with the ranks opened greedily (value sigma^2 per byte) under the exact
    budget, index tables included. Returns (error / sum_t w_t |e_t|^2, ranks)."""
    vocab, hidden = dense.shape
    w = torch.as_tensor(np.sqrt(np.maximum(weight, 0)), dtype=torch.float64)[:, None]
    e = w * dense.double()
    sizes = np.bincount(cluster_of, minlength=n_clusters).tolist()
    svals = [torch.linalg.svdvals(e[torch.as_tensor(np.nonzero(cluster_of == c)[0])]).numpy() if sizes[c]
             else np.zeros(0) for c in range(n_clusters)]
    ranks = trim_to_budget(sizes, [0] * n_clusters, svals, vocab, hidden, budget)
    total = float(e.pow(2).sum())
    left = sum(float((sv[r:] ** 2).sum()) for sv, r in zip(svals, ranks))
    return left / total if total > 0 else 0.0, ranks


def choose_clusters(dense: torch.Tensor, counts: np.ndarray, weight: np.ndarray, budget: int,
                    candidates=AUTO_CLUSTERS, dev_score=None) -> tuple[int, list[dict]]:
    """The number of clusters (and the candidate ranks), chosen before stage 1 by what it costs in
    flash: every cluster adds to the index tables (ceil(log2 K) bits a token), which at small
    budgets is worth more as rank. For each K, stage 1's frequency plan is scored by
    structure_error under the exact budget (weight: the Fisher information of each row); the
    smallest error wins, ties to fewer clusters. Counts that do not fit are skipped.

    dev_score: a function (cluster_of, ranks) -> dev accuracy of that plan on the student, with
    the dev set's size as dev_score.n. Then every ladder of candidate_ladders is a candidate (the
    lowered floor and the rank-0 floor). The candidates within one standard error of the best dev
    accuracy (sqrt(a (1 - a) / n)) are level, and among them the smallest error wins, then fewer
    clusters: dev accuracy rules out what the Fisher score cannot see (tokens the distillation set
    never shows weigh nothing in it), and a dev difference below the noise decides nothing.
    Returns (K, one row per candidate; the chosen row has "chosen": true and its "candidates")."""
    hidden, vocab = dense.shape[1], dense.shape[0]
    rows = []
    for k in candidates:
        try:
            ladders = candidate_ladders(k, hidden, vocab, budget) if dev_score else [None]
        except ValueError as e:
            if not str(e).startswith("budget "):
                raise
            rows.append({"clusters": k, "fits": False})
            continue
        for ladder in ladders:
            try:
                of0, ranks = frequency_plan(counts, k, hidden, budget, ladder)
                of, rk0, _ = normalize(of0, ranks, hidden)
                n = int(of.max()) + 1
                err, rk = structure_error(dense, weight, of, n, budget)
            except ValueError as e:
                if not str(e).startswith("budget "):
                    raise
                rows.append({"clusters": k, "fits": False, **({"candidates": ladder} if ladder else {})})
                continue
            sizes = np.bincount(of, minlength=n).tolist()
            row = {"clusters": k, "fits": True, "candidates": ranks, "sizes": sizes, "ranks": rk,
                   "bytes": B.embedding_flash_bytes(sizes, rk, len(of), hidden), "error": round(err, 6)}
            if dev_score:
                # the plan stage 1 starts from: the candidate ranks themselves
                row["dev_accuracy"] = round(float(dev_score(of, rk0)), 6)
            rows.append(row)
    ok = [r for r in rows if r["fits"]]
    if not ok:
        raise ValueError(f"budget {budget} B: no cluster count in {list(candidates)} fits")
    if dev_score:
        top = max(r["dev_accuracy"] for r in ok)
        se = math.sqrt(top * (1 - top) / max(1, int(dev_score.n)))
        ok = [r for r in ok if r["dev_accuracy"] >= top - se - 1e-9]
    best = min(ok, key=lambda r: (r["error"], r["clusters"]))
    best["chosen"] = True
    return best["clusters"], rows


def plan_dev_scorer(cfg: RunConfig, dense: torch.Tensor):
    """dev_score for choose_clusters: the student with its word table cut to a plan (per-cluster
    truncated SVD of `dense`, as the baselines build theirs), dev accuracy at cfg.max_len."""
    from ..modeling.model import compress_embedding

    dev_ids, dev_y = _dev_set(cfg)
    model = load_student(cfg.student, cfg.position_rank)

    def score(cluster_of: np.ndarray, ranks: list[int]) -> float:
        compress_embedding(model, torch.as_tensor(np.asarray(cluster_of), dtype=torch.long), list(ranks), dense=dense)
        return accuracy(model, dev_ids, dev_y)
    score.n = len(dev_y)
    return score


# ---------------------------------------------------------------- searchable embeddings


def budget_penalty(soft: torch.Tensor, hard, budget: int, penalty: float, cost: str = "hard") -> torch.Tensor:
    """penalty * relu(bytes - budget) / budget. cost "soft": bytes = the soft (expected) bytes;
    "hard": bytes = the hard bytes (argmax assignment, open gates) in value, the soft bytes'
    gradient (straight-through), so the term only acts while the discrete choice is over budget."""
    if cost == "hard":
        soft = soft + (torch.as_tensor(hard, dtype=soft.dtype) - soft).detach()
    elif cost != "soft":
        raise ValueError(f"cost must be 'hard' or 'soft', got {cost!r}")
    return penalty * torch.relu(soft - budget) / budget


class BudgetMultiplier(nn.Module):
    """The budget term's weight by dual ascent on the constraint bytes <= budget, as a buffer (a
    resumed stage continues with it). The term is the fixed one's, lambda * relu(bytes - budget)
    / budget (budget_penalty, its `cost` reading of bytes). After each training step lambda is
    multiplied by exp(lr * (bytes - budget) / budget): exponentiated, so the step does not depend
    on lambda's scale. It grows while the discrete choice is over budget, until even the tokens
    the task loss pulls hardest move, and shrinks back while the choice fits, never below its
    start. So where the fixed weight keeps a stage within budget, dual ascent changes nothing.
    (A plain Lagrangian, lambda * (bytes - budget) without the relu, keeps pushing bytes down
    under budget while lambda decays: at 136,616 B it cost 1.3 dev points, docs/search.md.)"""

    CEILING = 1e4

    def __init__(self, start: float, lr: float):
        super().__init__()
        if not start > 0 or not lr > 0:
            raise ValueError(f"dual ascent needs penalty > 0 and dual_lr > 0, got {start} and {lr}")
        self.start, self.lr = float(start), float(lr)
        self.register_buffer("value", torch.tensor(float(start), dtype=torch.float64))

    def term(self, soft: torch.Tensor, hard, budget: int, cost: str, training: bool) -> torch.Tensor:
        out = budget_penalty(soft, hard, budget, float(self.value), cost)   # float(): a copy
        if training:
            g = (float(hard if cost == "hard" else soft.detach()) - budget) / budget
            with torch.no_grad():
                self.value.mul_(math.exp(self.lr * g)).clamp_(self.start, self.CEILING)
        return out


def _budget_term(cfg: SearchConfig, mult: BudgetMultiplier | None, soft, hard, budget: int, training: bool):
    if mult is None:
        return budget_penalty(soft, hard, budget, cfg.penalty, cfg.cost)
    return mult.term(soft, hard, budget, cfg.cost, training)


def _multiplier(cfg: SearchConfig) -> BudgetMultiplier | None:
    if cfg.multiplier not in ("fixed", "dual"):
        raise ValueError(f"multiplier must be 'fixed' or 'dual', got {cfg.multiplier!r}")
    return BudgetMultiplier(cfg.penalty, cfg.dual_lr) if cfg.multiplier == "dual" else None


def _end_state(summary: dict, mult: BudgetMultiplier | None, chosen_bytes: float) -> None:
    """What a stage's own discrete choice cost before the budget fix-up, and lambda at the end."""
    summary["chosen_bytes_end"] = int(round(chosen_bytes))
    if mult is not None:
        summary["multiplier_end"] = float(mult.value)


def _relax(relax: str) -> str:
    if relax not in ("st", "soft"):
        raise ValueError(f"relax must be 'st' or 'soft', got {relax!r}")
    return relax


def rank_gates(rho: torch.Tensor, n: int, temp: float, relax: str, soft_only: bool = False) -> torch.Tensor:
    """Gates of n sorted directions at soft rank rho: sigmoid((rho - i - 1/2) / T). relax "st":
    open (1) or closed (0) in value, the sigmoid's gradient, so that a gate parked at 1/2 does
    not give half a direction that the hard rank does not pay for."""
    i = torch.arange(n, dtype=torch.float32)
    soft = torch.sigmoid((rho - i - 0.5) / temp)
    if relax == "soft" or soft_only:
        return soft
    return soft + ((rho - i - 0.5 > 0).to(soft.dtype) - soft).detach()


def _anneal(start: float, end: float, step: int, total: int) -> float:
    return start * (end / start) ** min(1.0, step / max(1, total))


class SoftAssignEmbedding(nn.Module):
    """Stage 1: token t's vector is sum_k softmax(alpha_t / tau)_k U_k[t] V_k, where candidate
    cluster k (rank r_k) covers every token and starts as the rank-r_k truncated SVD of the
    dense table. alpha is stored divided by alpha_scale, so Adam moves it alpha_scale times
    faster than the weights (fit() has one learning rate)."""

    def __init__(self, dense: torch.Tensor, ranks: list[int], alpha0: torch.Tensor, alpha_scale: float,
                 tau: tuple[float, float], total_steps: int, relax: str = "soft"):
        super().__init__()
        self.relax = _relax(relax)
        self.vocab_size, self.hidden_size = dense.shape
        self.ranks = [int(r) for r in ranks]
        u, s, vt = torch.linalg.svd(dense.double(), full_matrices=False)
        self.U = nn.ParameterList([nn.Parameter(u[:, :r].float().contiguous()) for r in self.ranks])
        self.V = nn.ParameterList([nn.Parameter((s[:r, None] * vt[:r]).float()) for r in self.ranks])
        self.alpha_scale = float(alpha_scale)
        self.alpha = nn.Parameter(alpha0.float() / self.alpha_scale)
        self.tau_range, self.total_steps = tau, int(total_steps)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    @property
    def tau(self) -> float:
        return _anneal(*self.tau_range, int(self.step), self.total_steps)

    def logits(self) -> torch.Tensor:
        return self.alpha * self.alpha_scale

    def probs(self, ids: torch.Tensor | None = None) -> torch.Tensor:
        a = self.logits() if ids is None else self.logits()[ids]
        return torch.softmax(a / self.tau, -1)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        flat = input_ids.reshape(-1)
        p = self.probs(flat)
        if self.relax == "st":
            # the argmax cluster's row in value, the softmax's gradient: the model trains on the
            # assignment it will ship (a soft mix is a row no cluster can hold)
            hard = torch.nn.functional.one_hot(p.argmax(1), p.shape[1]).to(p.dtype)
            p = p + (hard - p).detach()
        out = self.V[-1].new_zeros(flat.numel(), self.hidden_size)
        for k, r in enumerate(self.ranks):
            if r:
                out = out + p[:, k:k + 1] * (self.U[k][flat] @ self.V[k])
        return out.view(*input_ids.shape, self.hidden_size)

    @torch.no_grad()
    def candidate_table(self, k: int) -> torch.Tensor:
        if not self.ranks[k]:
            return self.V[-1].new_zeros(self.vocab_size, self.hidden_size)
        return self.U[k] @ self.V[k]

    @torch.no_grad()
    def hard_table(self, assign: np.ndarray) -> torch.Tensor:
        """Every token's row from its own candidate cluster."""
        a = torch.as_tensor(assign)
        out = self.V[-1].new_zeros(self.vocab_size, self.hidden_size)
        for k, r in enumerate(self.ranks):
            sel = (a == k).nonzero().squeeze(1)
            if r and len(sel):
                out[sel] = self.U[k][sel] @ self.V[k]
        return out


class GatedRankEmbedding(nn.Module):
    """Stage 2: fixed clusters; cluster c's rows are U_c diag(g_c) V_c over its singular
    directions (sorted), with soft-rank gates g_ci = sigmoid((rho_c - i - 1/2) / T): rho_c is
    a learnable rank, the gate of direction i is open (> 1/2) iff i < rho_c - 1/2. rho_c never
    goes below the cluster's floor: the paper's hard floor, so that rare tokens keep a vector."""

    def __init__(self, cluster_of: np.ndarray, us: list[torch.Tensor], vs: list[torch.Tensor], rho0: list[float],
                 rank_scale: float, temp: tuple[float, float], total_steps: int, floors: list[int] | None = None,
                 relax: str = "soft"):
        super().__init__()
        self.relax = _relax(relax)
        self.floors = [0] * len(us) if floors is None else [int(f) for f in floors]
        cl = torch.as_tensor(np.asarray(cluster_of), dtype=torch.long)
        self.vocab_size, self.hidden_size = len(cl), vs[0].shape[1]
        self.sizes = torch.bincount(cl, minlength=len(us)).tolist()
        order = torch.sort(cl, stable=True).indices
        starts = torch.cumsum(torch.tensor([0] + self.sizes[:-1]), 0)
        row = torch.empty_like(cl)
        row[order] = torch.arange(len(cl)) - starts[cl[order]]
        self.register_buffer("token_cluster", cl)
        self.register_buffer("token_row", row)
        self.U = nn.ParameterList([nn.Parameter(u.float().contiguous()) for u in us])
        self.V = nn.ParameterList([nn.Parameter(v.float().contiguous()) for v in vs])
        self.rank_scale = float(rank_scale)
        self.rho = nn.Parameter(torch.tensor(rho0, dtype=torch.float32) / self.rank_scale)
        self.temp_range, self.total_steps = temp, int(total_steps)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    @property
    def temp(self) -> float:
        return _anneal(*self.temp_range, int(self.step), self.total_steps)

    def soft_ranks(self) -> torch.Tensor:
        """rho in ranks, never below the cluster's floor (the gates below it stay open)."""
        return torch.maximum(self.rho * self.rank_scale, torch.tensor(self.floors, dtype=torch.float32))

    def gates(self, c: int, soft_only: bool = False) -> torch.Tensor:
        return rank_gates(self.soft_ranks()[c], self.V[c].shape[0], self.temp, self.relax, soft_only)

    def hard_ranks(self) -> list[int]:
        rho = self.soft_ranks().detach()
        return [int(((rho[c] - torch.arange(v.shape[0]) - 0.5) > 0).sum()) for c, v in enumerate(self.V)]

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        flat = input_ids.reshape(-1)
        cluster, row = self.token_cluster[flat], self.token_row[flat]
        out = self.V[0].new_zeros(flat.numel(), self.hidden_size)
        for c in range(len(self.V)):
            pos = (cluster == c).nonzero().squeeze(1)
            if len(pos) and self.V[c].shape[0]:
                out = out.index_copy(0, pos, (self.U[c][row[pos]] * self.gates(c)) @ self.V[c])
        return out.view(*input_ids.shape, self.hidden_size)

    @torch.no_grad()
    def table(self) -> torch.Tensor:
        return self(torch.arange(self.vocab_size))


class GatedPositions(nn.Module):
    """Stage 2 with search_positions: the position table as U diag(g) V over its first `m`
    singular directions, gated like a cluster (g_i = sigmoid((rho - i - 1/2) / T), rho >= 1, on
    the word embedding's temperature schedule, `temp_of`), in place of BertEmbeddings' table."""

    def __init__(self, table: torch.Tensor, m: int, rho0: float, rank_scale: float, temp_of, relax: str = "soft"):
        super().__init__()
        self.relax = relax
        u, s, vt = torch.linalg.svd(table.double(), full_matrices=False)
        self.U = nn.Parameter(u[:, :m].float().contiguous())
        self.V = nn.Parameter((s[:m, None] * vt[:m]).float().contiguous())
        self.rank_scale = float(rank_scale)
        self.rho = nn.Parameter(torch.tensor(float(rho0)) / self.rank_scale)
        self.temp_of = temp_of

    def soft_rank(self) -> torch.Tensor:
        return torch.clamp(self.rho * self.rank_scale, min=1.0)

    def gates(self, soft_only: bool = False) -> torch.Tensor:
        return rank_gates(self.soft_rank(), self.V.shape[0], self.temp_of(), self.relax, soft_only)

    def hard_rank(self) -> int:
        return int(((self.soft_rank().detach() - torch.arange(self.V.shape[0]) - 0.5) > 0).sum())

    @property
    def weight(self) -> torch.Tensor:
        return (self.U * self.gates()) @ self.V

    def forward(self, position_ids: torch.Tensor) -> torch.Tensor:
        return (self.U[position_ids] * self.gates()) @ self.V


# ---------------------------------------------------------------- helpers


def _log(out: Path) -> logging.Logger:
    return _logger(out, "search", str(out.resolve()))


def load_student(student: str | Path, position_rank: int | None = None):
    """The dense student; with position_rank, its position table as a rank-r truncated SVD
    (modeling.compress_positions), which every later stage then trains and counts."""
    from ..modeling.model import McuBertForSequenceClassification, compress_positions

    model = McuBertForSequenceClassification.from_pretrained(str(student))
    if position_rank and not getattr(model.config, "position_rank", 0):
        compress_positions(model, int(position_rank))
    return model


def fisher_rows(cfg: RunConfig, dense: torch.Tensor, dd, sentences: int = FISHER_SENTENCES) -> np.ndarray:
    """Empirical Fisher of each word-embedding row: the squared gradient of the distillation
    loss (kd_loss without hidden states) summed over the row and over batches of 32, on a
    seeded sample of the distillation set (train split + extra), the student in eval mode.
    Cached in the student directory per (sentences, max_len, limit, seed)."""
    cache = Path(cfg.student) / f"fisher-n{sentences}-L{cfg.max_len}-l{cfg.limit or 0}-s{cfg.seed}.npy"
    if cache.is_file():
        f = np.load(cache)
        if f.shape == (dense.shape[0],):
            return f
    tr_ids, tr_y = encode(_dataset(run_data(cfg), cfg.data_seed).splits["train"], cfg.max_len, cfg.limit)
    ids = tr_ids + dd.extra_ids
    y = np.concatenate([tr_y, np.full(len(dd.extra_ids), -1, np.int64)])
    rng = np.random.default_rng(cfg.seed)
    pick = np.sort(rng.choice(len(ids), size=min(sentences, len(ids)), replace=False))
    model = load_student(cfg.student, cfg.position_rank)
    emb = torch.nn.Embedding.from_pretrained(dense.clone().float(), freeze=False)
    model.set_input_embeddings(emb)
    model.eval()
    kd = kd_loss(dd.soft, cfg.kd_temperature, cfg.kd_alpha)
    fisher = torch.zeros(dense.shape[0], dtype=torch.float64)
    for x, m, yb, idx in batches([ids[i] for i in pick], y[pick], 32):
        model.zero_grad(set_to_none=True)
        kd(model, x, m, yb, pick[idx]).backward()
        fisher += emb.weight.grad.double().pow(2).sum(1)
    f = fisher.numpy()
    np.save(cache, f)
    return f


def resolve_budget(cfg: RunConfig, model) -> dict:
    """Embedding budget: --budget, else board flash - firmware - reserve - rest of the model."""
    rest = B.rest_flash_bytes(model)
    if cfg.budget is not None:
        return {"budget": int(cfg.budget), "rest_bytes": rest, "source": "explicit"}
    if not cfg.board:
        raise ValueError("give a board profile or an explicit embedding budget")
    from ..targets import boards

    b = boards.get(cfg.board)
    fw = cfg.firmware_bytes if cfg.firmware_bytes is not None else b.firmware_bytes
    return {"budget": B.embedding_budget(b, rest, fw, cfg.reserve), "rest_bytes": rest, "source": "board",
            "board": b.name, "flash": b.flash.size, "firmware_bytes": fw, "reserve": int(cfg.reserve)}


def _train_cfg(cfg: RunConfig, out: Path, epochs: int) -> TrainConfig:
    return TrainConfig(out=str(out), epochs=epochs, batch_size=cfg.batch_size, lr=cfg.lr, max_len=cfg.max_len,
                       seed=cfg.seed, limit=cfg.limit, data_seed=cfg.data_seed, data=run_data(cfg))


def _steps(cfg: RunConfig, dd: DistillData, epochs: int) -> int:
    return -(-(dd.train_sentences + len(dd.extra_ids)) // cfg.batch_size) * epochs


WORD, POS = "bert.embeddings.word_embeddings.", "bert.embeddings.position_embeddings."


def _rest_state(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items() if not k.startswith(WORD)}


def _with_embedding(cfg: RunConfig, emb: nn.Module, rest: dict | None, positions: tuple | None = None):
    """The student with `emb` as word embedding and (when given) the other weights from `rest`;
    positions = (table, rank): the searched position table as its rank-`rank` factorisation."""
    from ..modeling.model import compress_positions

    model = load_student(cfg.student, cfg.position_rank)
    model.set_input_embeddings(emb)
    if rest is not None:
        skip = (WORD, POS) if positions is not None else (WORD,)
        missing, unexpected = model.load_state_dict({k: v for k, v in rest.items() if not k.startswith(skip)},
                                                    strict=False)
        if unexpected or any(not k.startswith(skip) for k in missing):
            raise ValueError(f"state mismatch: missing {missing}, unexpected {unexpected}")
    if positions is not None:
        with torch.no_grad():
            model.bert.embeddings.position_embeddings.weight.copy_(positions[0])
        compress_positions(model, int(positions[1]))
    return model


def _copy_tokenizer(src: str | Path, dst: Path) -> None:
    for f in Path(src).iterdir():
        if f.is_file() and (f.name.startswith("tokenizer") or f.name in ("vocab.txt", "special_tokens_map.json")):
            shutil.copy2(f, dst / f.name)


def _stopped(stop_after, stage: str, epochs: int) -> int | None:
    return stop_after[1] if stop_after and stop_after[0] == stage and stop_after[1] < epochs else None


def finetune_and_save(cfg: RunConfig, model, table: torch.Tensor, cluster_of: np.ndarray, ranks: list[int],
                      dd: DistillData, info: dict, log: logging.Logger, stop_after=None) -> dict | None:
    """Compress the word embedding to (cluster_of, ranks) by per-cluster truncated SVD of `table`,
    fine-tune the whole student with KD for cfg.finetune_epochs, save the checkpoint, tokenizer and
    metrics.json to cfg.out. Returns the metrics (None when stop_after interrupted the run)."""
    from ..modeling.model import compress_embedding

    out = Path(cfg.out)
    compress_embedding(model, torch.as_tensor(np.asarray(cluster_of), dtype=torch.long), list(ranks), dense=table)
    emb = model.get_input_embeddings()
    emb_bytes = B.embedding_flash_bytes(emb.sizes, emb.ranks, emb.vocab_size, emb.hidden_size)
    if emb_bytes > info["budget"]:
        raise AssertionError(f"internal error: {emb_bytes} B embedding over the {info['budget']} B budget")
    log.info(f"finetune: sizes {emb.sizes} ranks {emb.ranks}, {emb_bytes} B of {info['budget']} B")
    t0 = time.time()
    hd = dd.new_hidden()
    kd = kd_loss(dd.soft, cfg.kd_temperature, cfg.kd_alpha, hd)
    stop = _stopped(stop_after, "finetune", cfg.finetune_epochs)
    m = fit(model, _train_cfg(cfg, out / "finetune", cfg.finetune_epochs), loss_fn=kd, resume=True,
            desc="finetune", stop_after=stop, extra_ids=dd.extra_ids, aux=hd, select_best=True)
    if stop is not None:
        return None
    model.save_pretrained(out)
    _copy_tokenizer(cfg.student, out)
    model_bytes = B.model_flash_bytes(model)
    metrics = {
        "dev_accuracy": m["dev_accuracy"], "test_accuracy": m["test_accuracy"],
        "cluster_sizes": list(emb.sizes), "cluster_ranks": list(emb.ranks),
        "embedding_bytes": emb_bytes, "model_bytes": model_bytes, **info,
        "finetune_seconds": round(time.time() - t0, 1),
        "train_sentences": m["train_sentences"], "unlabelled_sentences": m["unlabelled_sentences"],
        "selected_epoch": m["selected_epoch"],
    }
    log.info(f"final: {json.dumps(metrics)}")
    return metrics


def _write_metrics(out: Path, metrics: dict) -> None:
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")


# options that only the fine-tuning reads: a resumed run with another value keeps stages 1 and 2
FINETUNE_ONLY = ("finetune_from",)
# what a run recorded before an option existed ran with
OLD_DEFAULTS = {"finetune_from": "search", "multiplier": "fixed", "dual_lr": 0.05, "cluster_choice": "fisher"}


def _as_recorded(config: dict) -> dict:
    """A recorded search's options, those it predates filled in with what it ran with."""
    return {**OLD_DEFAULTS, **config}


def _fresh(out: Path, resume: bool, stages: tuple[str, ...], config: dict) -> None:
    """Without resume, forget this output directory's earlier stage results. With resume, refuse
    a directory whose half-finished stages were made with other options (run_config.json):
    resuming them would mix two configurations; where only FINETUNE_ONLY options differ, the
    fine-tuning alone starts over. config: the run's options, recorded."""
    f = out / "run_config.json"
    mine = {k: v for k, v in json.loads(json.dumps(config)).items() if k not in ("out", "resume")}
    if resume:
        if f.is_file():
            old = json.loads(f.read_text())
            if any(k in mine for k in OLD_DEFAULTS):
                old = _as_recorded(old)
            diff = sorted(k for k in old.keys() | mine.keys() if old.get(k) != mine.get(k))
            if diff and set(diff) <= set(FINETUNE_ONLY):
                _forget(out, ("finetune",))
                diff = []
            if diff:
                raise ValueError(f"--resume: {out} holds a run with another {diff[0]} ({old.get(diff[0])!r}, "
                                 f"now {mine.get(diff[0])!r}); use another --out, or drop --resume")
    else:
        _forget(out, stages)
    f.write_text(json.dumps(mine, indent=2) + "\n")


def _forget(out: Path, stages: tuple[str, ...]) -> None:
    """Drop these stages' directories and the finished run's metrics.json."""
    for s in stages:
        if (out / s).is_dir():
            shutil.rmtree(out / s)
    if (out / "metrics.json").is_file():
        (out / "metrics.json").unlink()


def summary(m: dict) -> str:
    """The lines `mcubert search` / `mcubert baseline` print."""
    lines = [f"{m.get('method', 'search')}: clusters {m['cluster_sizes']} ranks {m['cluster_ranks']}",
             f"embedding {m['embedding_bytes']} B of budget {m['budget']} B"
             + (f" ({m['board']}: flash {m['flash']} - firmware {m['firmware_bytes']} - reserve {m['reserve']}"
                f" - rest of model {m['rest_bytes']})" if m.get("source") == "board" else ""),
             f"whole model blob {m['model_bytes']} B",
             f"float accuracy: dev {m['dev_accuracy']:.4f}, test {m['test_accuracy']:.4f}"]
    return "\n".join(lines)


# ---------------------------------------------------------------- the search


def _stage1(cfg: SearchConfig, dd: DistillData, info: dict, out: Path, log, stop_after):
    dirs = out / "stage1"
    student = load_student(cfg.student, cfg.position_rank)
    vocab, hidden = student.config.vocab_size, student.config.hidden_size
    dense = student.get_input_embeddings().dense().detach()
    budget = info["budget"]
    ranks = sorted(cfg.ranks) if cfg.ranks else default_ranks(cfg.clusters, hidden, vocab, budget)
    if len(ranks) != cfg.clusters and cfg.ranks:
        raise ValueError(f"{len(ranks)} candidate ranks for {cfg.clusters} clusters")
    if any(not 0 <= r <= hidden for r in ranks):
        raise ValueError(f"candidate ranks {ranks} not in [0, hidden {hidden}]")
    K = len(ranks)
    if not cfg.ranks and ranks != ladder_ranks(cfg.clusters, hidden):
        log.info(f"ladder {ladder_ranks(cfg.clusters, hidden)} over budget for all {vocab} tokens: "
                 f"candidates {ranks}")
    if cfg.cost not in ("hard", "soft"):
        raise ValueError(f"cost must be 'hard' or 'soft', got {cfg.cost!r}")
    # frequency init: the frequency-bucket rule over the candidates, highest rank first; tokens
    # never seen in the distillation set start in the cheapest cluster
    desc = np.argsort(ranks, kind="stable")[::-1]
    if cfg.init == "frequency":
        b, _ = frequency_buckets(dd.counts, [ranks[k] for k in desc], hidden, budget, seen_only=True)
        init = desc[b]
        alpha0 = torch.zeros(vocab, K)
        alpha0[torch.arange(vocab), torch.as_tensor(init)] = cfg.alpha_init
    elif cfg.init == "uniform":
        init = np.full(vocab, int(np.argmin(ranks)))
        alpha0 = torch.zeros(vocab, K)
    else:
        raise ValueError(f"init must be 'frequency' or 'uniform', got {cfg.init!r}")
    total = _steps(cfg, dd, cfg.stage1_epochs)
    emb = SoftAssignEmbedding(dense, ranks, alpha0, cfg.alpha_lr / cfg.lr, (cfg.tau_start, cfg.tau_end), total,
                               cfg.relax)
    mult = _multiplier(cfg)
    if mult is not None:
        emb.multiplier = mult               # in the module's state: checkpoints carry lambda
    model = _with_embedding(cfg, emb, None)
    del student
    fixed = B.embedding_fixed_bytes(K, vocab, hidden) + hidden * sum(ranks)
    r = torch.tensor(ranks, dtype=torch.float32)
    hd = dd.new_hidden()
    kd = kd_loss(dd.soft, cfg.kd_temperature, cfg.kd_alpha, hd)
    log.info(f"stage 1: candidates {ranks}, budget {budget} B, init {cfg.init} "
             f"({np.bincount(init, minlength=K).tolist()} tokens per candidate), {total} steps")

    def loss(mdl, x, m, y, idx):
        if mdl.training:
            emb.step += 1
        p = emb.probs()
        choice = p.argmax(1)
        # dual ascent drives the measured bytes to the budget, so it measures them exactly: empty
        # clusters cost nothing (the fixed term counts every candidate's V and index bits, which at
        # small budgets is over budget with every token at rank 0, and lambda would never stop)
        hard = assignment_bytes(choice.numpy(), ranks, hidden) if mult is not None else fixed + r[choice].sum()
        return kd(mdl, x, m, y, idx) + _budget_term(cfg, mult, fixed + (p.sum(0) * r).sum(), hard, budget,
                                                    mdl.training)

    t0 = time.time()
    stop = _stopped(stop_after, "stage1", cfg.stage1_epochs)
    m = fit(model, _train_cfg(cfg, dirs, cfg.stage1_epochs), loss_fn=loss, resume=True, desc="stage1",
            stop_after=stop, extra_ids=dd.extra_ids, aux=hd)
    if stop is not None:
        return None
    with torch.no_grad():
        a = emb.logits()
        argmax = a.argmax(1).numpy()
        cheap = int(np.argmin(ranks))
        margin = (a[torch.arange(vocab), torch.as_tensor(argmax)] - a[:, cheap]).numpy()
        expected = float(fixed + (emb.probs().sum(0) * r).sum())
    assign, moved = fit_to_budget(argmax, dd.counts, margin, ranks, hidden, budget)
    cluster_of, cranks, keep = normalize(assign, ranks, hidden)
    res = {
        "cluster_of": cluster_of, "ranks": cranks, "candidates": keep, "candidate_ranks": ranks,
        "argmax": argmax, "init": init, "moved": moved,
        "E1": emb.hard_table(assign), "D": emb.candidate_table(int(np.argmax(ranks))),
        "rest": _rest_state(model),
        "summary": {"dev_accuracy": m["dev_accuracy"], "argmax_sizes": np.bincount(argmax, minlength=K).tolist(),
                    "init_sizes": np.bincount(init, minlength=K).tolist(), "moved_to_cheapest": moved,
                    "changed_from_init": int((argmax != init).sum()), "expected_bytes_end": round(expected),
                    "bytes": assignment_bytes(assign, ranks, hidden), "seconds": round(time.time() - t0, 1)},
    }
    _end_state(res["summary"], mult, assignment_bytes(argmax, ranks, hidden))
    log.info(f"stage 1 done: {json.dumps(res['summary'])}; clusters {np.bincount(cluster_of).tolist()} "
             f"ranks {cranks}")
    torch.save(res, dirs / "result.pt")
    return res


def _gate_positions(cfg: SearchConfig, model, emb: GatedRankEmbedding, s1: dict, budget: int, hidden: int, log):
    """search_positions: put gates on the stage-1 position table (installed in `model`). The
    budget becomes word embedding + positions, with the dense table's bytes; the position rank
    starts at the largest that keeps stage 1's bytes (as the clusters start at theirs)."""
    table = s1["rest"].get(POS + "weight")
    if table is None:
        raise ValueError("searching the position rank needs a dense position table (no --position-rank R)")
    n_pos = table.shape[0]
    m = B.max_position_rank(hidden, n_pos)
    if m < 1:
        raise ValueError(f"no position rank is cheaper than the dense {n_pos} x {hidden} table")
    dense = B.position_flash_bytes(hidden, n_pos)
    joint = budget + dense
    left = joint - B.embedding_flash_bytes(emb.sizes, emb.hard_ranks(), emb.vocab_size, hidden)
    rho0 = max([r for r in range(1, m + 1) if B.position_flash_bytes(hidden, n_pos, r + 1) <= left], default=1)
    pos = GatedPositions(table, m, float(rho0), cfg.rank_lr / cfg.lr, lambda: emb.temp, cfg.relax)
    model.bert.embeddings.position_embeddings = pos
    log.info(f"stage 2: position table {n_pos} x {hidden} gated, start rank {rho0} of {m}; "
             f"budget {budget} B + dense positions {dense} B = {joint} B")
    return pos, joint


def _stage2(cfg: SearchConfig, dd: DistillData, info: dict, out: Path, log, stop_after, s1: dict):
    dirs = out / "stage2"
    cluster_of, r1 = s1["cluster_of"], s1["ranks"]
    E1, D = s1["E1"].double(), s1["D"].double()
    vocab, hidden = E1.shape
    K, budget = len(r1), info["budget"]
    us, vs = [], []
    for c in range(K):
        rows = torch.as_tensor(np.nonzero(cluster_of == c)[0])
        e, d = E1[rows], D[rows]
        n, full = len(rows), min(len(rows), hidden)
        if r1[c]:
            u1, s_, v1 = torch.linalg.svd(e, full_matrices=False)
            U1, V1, basis = u1[:, :r1[c]], s_[:r1[c], None] * v1[:r1[c]], v1[:r1[c]]
        else:
            U1, V1, basis = e.new_zeros(n, 0), e.new_zeros(0, hidden), e.new_zeros(0, hidden)
        # directions beyond the stage-1 rank: the top candidate's rows, off the stage-1 row space
        u2, s2, v2 = torch.linalg.svd(d - (d @ basis.T) @ basis, full_matrices=False)
        m2 = full - r1[c]
        us.append(torch.cat([U1, u2[:, :m2]], 1))
        vs.append(torch.cat([V1, s2[:m2, None] * v2[:m2]], 0))
    total = _steps(cfg, dd, cfg.stage2_epochs)
    floor = min(s1["candidate_ranks"]) if cfg.rank_floor is None else int(cfg.rank_floor)
    floors = [min(floor, r, v.shape[0]) for r, v in zip(r1, vs)]   # never above where stage 1 left it
    emb = GatedRankEmbedding(cluster_of, us, vs, [float(x) for x in r1], cfg.rank_lr / cfg.lr,
                             (cfg.gate_temp_start, cfg.gate_temp_end), total, floors, cfg.relax)
    mult = _multiplier(cfg)
    if mult is not None:
        emb.multiplier = mult
    model = _with_embedding(cfg, emb, s1["rest"])
    sizes = torch.tensor(emb.sizes, dtype=torch.float32)
    fixed = B.embedding_fixed_bytes(K, vocab, hidden)
    pos = None
    if cfg.search_positions:
        pos, budget = _gate_positions(cfg, model, emb, s1, budget, hidden, log)
    hd = dd.new_hidden()
    kd = kd_loss(dd.soft, cfg.kd_temperature, cfg.kd_alpha, hd)
    log.info(f"stage 2: clusters {emb.sizes}, start ranks {r1}, floors {floors}, "
             f"max ranks {[v.shape[0] for v in vs]}, {total} steps")

    def pos_bytes(rank):
        # factor width rank + 1 (segment A folded in) and the per-channel (M, S) slot
        n = pos.U.shape[0]
        return (n + hidden) * (rank + 1) + B.position_flash_bytes(hidden, n, 1) - (n + hidden)

    def soft_bytes():
        b = fixed + sum((sizes[c] + hidden) * emb.gates(c, soft_only=True).sum() for c in range(K))
        return b + pos_bytes(pos.gates(soft_only=True).sum()) if pos is not None else b

    def loss(mdl, x, m, y, idx):
        if mdl.training:
            emb.step += 1
        hard = fixed + sum((sizes[c] + hidden) * r for c, r in enumerate(emb.hard_ranks()))
        if pos is not None:
            hard += B.position_flash_bytes(hidden, pos.U.shape[0], pos.hard_rank() + 1)
        return kd(mdl, x, m, y, idx) + _budget_term(cfg, mult, soft_bytes(), hard, budget, mdl.training)

    t0 = time.time()
    stop = _stopped(stop_after, "stage2", cfg.stage2_epochs)
    m = fit(model, _train_cfg(cfg, dirs, cfg.stage2_epochs), loss_fn=loss, resume=True, desc="stage2",
            stop_after=stop, extra_ids=dd.extra_ids, aux=hd)
    if stop is not None:
        return None
    table = emb.table().detach()
    gate_ranks = emb.hard_ranks()
    svals = [torch.linalg.svdvals(table[torch.as_tensor(np.nonzero(cluster_of == c)[0])].double()).numpy()
             for c in range(K)]          # min(size_c, hidden) values each
    extra = {}
    if pos is None:
        ranks = trim_to_budget(emb.sizes, gate_ranks, svals, vocab, hidden, budget, floors)
    else:
        with torch.no_grad():
            ptab = pos.weight.detach().float()
        n_pos = ptab.shape[0]
        ranks, prank = trim_to_budget(emb.sizes, gate_ranks, svals, vocab, hidden, budget, floors,
                                      positions=(torch.linalg.svdvals(ptab.double()).numpy()[:pos.V.shape[0]],
                                                 pos.hard_rank(), n_pos))
        pbytes = B.position_flash_bytes(hidden, n_pos, prank + 1)
        extra = {"positions": (ptab, prank)}
        pos_summary = {"position_rank": prank, "position_gate_rank": pos.hard_rank(),
                       "position_soft_rank": round(float(pos.soft_rank().detach()), 2), "position_bytes": pbytes,
                       "position_dense_bytes": B.position_flash_bytes(hidden, n_pos),
                       "embedding_budget": budget - pbytes}
    res = {
        "cluster_of": cluster_of, "ranks": ranks, "table": table.float(), "rest": _rest_state(model), **extra,
        "summary": {"dev_accuracy": m["dev_accuracy"],
                    "soft_ranks": [round(float(x), 2) for x in emb.soft_ranks().detach()],
                    "gate_ranks": gate_ranks, "ranks": ranks, "floors": floors,
                    "directions_dropped": sum(max(0, g - r) for g, r in zip(gate_ranks, ranks)),
                    "directions_added": sum(max(0, r - g) for g, r in zip(gate_ranks, ranks)),
                    "expected_bytes_end": round(float(soft_bytes().detach())),
                    "bytes": B.embedding_flash_bytes(emb.sizes, ranks, vocab, hidden),
                    "seconds": round(time.time() - t0, 1)},
    }
    if pos is not None:
        res["summary"].update(pos_summary)
    gate_bytes = B.embedding_flash_bytes(emb.sizes, gate_ranks, vocab, hidden)
    if pos is not None:
        gate_bytes += B.position_flash_bytes(hidden, pos.U.shape[0], pos.hard_rank() + 1)
    _end_state(res["summary"], mult, gate_bytes)
    log.info(f"stage 2 done: {json.dumps(res['summary'])}")
    torch.save(res, dirs / "result.pt")
    return res


FINETUNE_STARTS = ("search", "student", "best")


def _dev_set(cfg: RunConfig):
    return encode(_dataset(run_data(cfg), cfg.data_seed).splits["dev"], cfg.max_len, cfg.limit)


def _finetune_start(cfg: SearchConfig, kind: str, s1: dict, s2: dict):
    """(model, table, cluster_of, ranks) the fine-tuning starts from:
    search   the stages' trained network, stage 2's table and plan;
    student  stage 2's plan on the untouched student (its table cut by per-cluster SVD, as the
             baselines build theirs; a searched position rank cut from its position table);
    start    stage 1's starting plan (the frequency buckets over the chosen ladder) on the
             untouched student: the search's own starting point."""
    if kind == "search":
        return _with_embedding(cfg, nn.Identity(), s2["rest"], s2.get("positions")), s2["table"], \
            s2["cluster_of"], s2["ranks"]
    from ..modeling.model import compress_positions
    model = load_student(cfg.student, None if "positions" in s2 else cfg.position_rank)
    if "positions" in s2:
        compress_positions(model, int(s2["positions"][1]))   # as _with_embedding does, from the student's table
    table = model.get_input_embeddings().dense().detach()
    if kind == "student":
        return model, table, s2["cluster_of"], s2["ranks"]
    of, rk, _ = normalize(s1["init"], s1["candidate_ranks"], table.shape[1])
    return model, table, of, rk


def search(cfg: SearchConfig, stop_after: tuple[str, int] | None = None) -> dict | None:
    """Run (or with cfg.resume, continue) the two-stage search and the fine-tuning; returns the
    metrics written to cfg.out/metrics.json. stop_after=(stage, epochs) ends the run after that
    many epochs of "stage1", "stage2" or "finetune", as an interruption would (tests of resume);
    it then returns None."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    _fresh(out, cfg.resume, ("stage1", "stage2", "finetune"), asdict(cfg))
    log = _log(out)
    if cfg.resume and (out / "metrics.json").is_file():
        m = json.loads((out / "metrics.json").read_text())
        if _as_recorded(m.get("config") or {}) == json.loads(json.dumps(asdict(cfg))):
            log.info("resume: already finished")
            return m
    log.info(f"search config {json.dumps(asdict(cfg))}")
    if cfg.search_positions and cfg.position_rank:
        raise ValueError("the search chooses the position rank itself: give no --position-rank R with it")
    if cfg.finetune_from not in FINETUNE_STARTS:
        raise ValueError(f"finetune_from must be one of {', '.join(FINETUNE_STARTS)}, got {cfg.finetune_from!r}")
    student = load_student(cfg.student, cfg.position_rank)
    vocab = student.config.vocab_size
    info = resolve_budget(cfg, student)
    dense = student.get_input_embeddings().dense().detach()
    del student
    dd = distill_data(cfg.student, vocab, cfg.max_len, cfg.limit, cfg.data_seed, cfg.hidden_weight)
    log.info(f"budget {json.dumps(info)}; {dd.train_sentences} train + {len(dd.extra_ids)} extra sentences, "
             f"{int((dd.counts > 0).sum())} distinct tokens seen")
    asked = cfg
    if cfg.clusters == "auto":
        if cfg.ranks:
            raise ValueError("--clusters auto chooses the candidate ranks too: give no --ranks with it")
        if cfg.cluster_choice not in ("fisher", "dev"):
            raise ValueError(f"cluster_choice must be 'fisher' or 'dev', got {cfg.cluster_choice!r}")
        scorer = plan_dev_scorer(cfg, dense) if cfg.cluster_choice == "dev" else None
        k, rows = choose_clusters(dense, dd.counts, fisher_rows(cfg, dense, dd), info["budget"], dev_score=scorer)
        chosen = next(r for r in rows if r.get("chosen"))
        how = "dev accuracy of each plan" if scorer else "Fisher-weighted error under the budget"
        log.info(f"clusters: {k} of {list(AUTO_CLUSTERS)}, candidates {chosen['candidates']}, by {how}: "
                 f"{json.dumps(rows)}")
        cfg = replace(cfg, clusters=k, ranks=list(chosen["candidates"]))
        info = {**info, "clusters_chosen": k, "cluster_choice": rows}
    del dense

    times = {}
    for name, run in (("stage1", lambda: _stage1(cfg, dd, info, out, log, stop_after)),
                      ("stage2", lambda: _stage2(cfg, dd, info, out, log, stop_after, s1))):
        path = out / name / "result.pt"
        if path.is_file():
            log.info(f"resume: {name} already finished")
        else:
            t0 = time.time()
            if run() is None:
                log.info(f"stopped during {name} (stop_after={stop_after})")
                return None
            times[name] = round(time.time() - t0, 1)
        # the next stage always starts from the saved result: resumed and uninterrupted runs agree
        res = torch.load(path, weights_only=False)
        if name == "stage1":
            s1 = res
    s2 = res
    starts = {}
    if cfg.finetune_from == "best":
        from ..modeling.model import compress_embedding
        kinds = ("search", "student") + (() if "positions" in s2 else ("start",))
        dev_ids, dev_y = _dev_set(cfg)
        built = {}
        for kind in kinds:
            built[kind] = mdl, tab, of, rk = _finetune_start(cfg, kind, s1, s2)
            # finetune_and_save cuts the same table to the same plan again: the chosen model is reused
            compress_embedding(mdl, torch.as_tensor(np.asarray(of), dtype=torch.long), list(rk), dense=tab)
            starts[kind] = accuracy(mdl, dev_ids, dev_y)
        start = max(kinds, key=lambda k: starts[k])      # ties: the earlier kind
        log.info(f"finetune start by dev accuracy: {json.dumps(starts)} -> {start}")
        model, table, cluster_of, ranks = built[start]
        del built
    else:
        start = cfg.finetune_from
        model, table, cluster_of, ranks = _finetune_start(cfg, start, s1, s2)
    if "positions" in s2:
        # the word embedding gets what the position table left of both budgets
        info = {**info, "budget": s2["summary"]["embedding_budget"], "rest_bytes": B.rest_flash_bytes(model),
                "position_rank": s2["summary"]["position_rank"], "positions_searched": True}
    t0 = time.time()
    log.info(f"finetune from {start}")
    m = finetune_and_save(cfg, model, table, cluster_of, ranks, dd, info, log, stop_after)
    if m is None:
        log.info(f"stopped during finetune (stop_after={stop_after})")
        return None
    times["finetune"] = round(time.time() - t0, 1)
    m = {"method": "search", **m, **data_fields(cfg), "stage1": s1["summary"], "stage2": s2["summary"],
         "finetune_start": start, **({"start_dev_accuracy": starts} if starts else {}),
         "seconds_this_run": times, "config": asdict(asked)}
    _write_metrics(out, m)
    return m
