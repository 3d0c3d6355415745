# SPDX-License-Identifier: Apache-2.0
"""Task-specific data augmentation for distillation (Tang et al. 2019, "Distilling task-specific
knowledge from BERT into simple neural networks"; TinyBERT's augmentation is the same idea):
variants of each training sentence with words masked, words swapped for a neighbour in the
teacher's word-embedding space, and random n-grams. Only the teacher labels them, so the
student sees the teacher's function on many more in-domain inputs than 10 k sentences.

Works on WordPiece ids, so no second tokenizer pass and no extra model are needed."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class AugmentConfig:
    per_sentence: int = 8          # variants per training sentence (before de-duplication)
    p_mask: float = 0.1            # a word becomes [MASK]
    p_swap: float = 0.1            # a whole-word token becomes one of its embedding neighbours
    p_ngram: float = 0.25          # the variant is a random n-gram of the sentence
    max_ngram: int = 5
    neighbours: int = 8
    seed: int = 0


def words(ids: list[int], cont: np.ndarray) -> list[list[int]]:
    """Group a [CLS] ... [SEP] id list into words (a word is a token plus its ## pieces)."""
    out: list[list[int]] = []
    for t in ids[1:-1]:
        if out and cont[t]:
            out[-1].append(t)
        else:
            out.append([t])
    return out


@torch.no_grad()
def neighbour_table(emb: torch.Tensor, candidates: np.ndarray, whole: np.ndarray, k: int) -> dict[int, np.ndarray]:
    """For each candidate token, its k nearest whole-word tokens by cosine similarity."""
    e = torch.nn.functional.normalize(emb.float(), dim=1)
    pool = torch.from_numpy(np.flatnonzero(whole))
    table = {}
    for i in range(0, len(candidates), 1024):
        c = torch.from_numpy(candidates[i:i + 1024])
        sim = e[c] @ e[pool].T
        top = sim.topk(k + 1, dim=1).indices
        for j, t in enumerate(c.tolist()):
            nb = pool[top[j]].numpy()
            table[t] = nb[nb != t][:k]
    return table


def augment(train_ids: list[list[int]], vocab: list[str], emb: torch.Tensor, cfg: AugmentConfig) -> list[list[int]]:
    """Unique augmented id lists ([CLS] ... [SEP]) that are not training sentences themselves."""
    cont = np.array([v.startswith("##") for v in vocab])
    whole = np.array([v.isalpha() and not v.startswith("##") for v in vocab])
    cls_id, sep_id, mask_id = vocab.index("[CLS]"), vocab.index("[SEP]"), vocab.index("[MASK]")
    seen = np.unique(np.concatenate([np.array(s[1:-1], np.int64) for s in train_ids if len(s) > 2]))
    nbr = neighbour_table(emb, seen[whole[seen]], whole, cfg.neighbours)
    rng = np.random.default_rng(cfg.seed)
    have = {tuple(s) for s in train_ids}
    out: list[list[int]] = []
    for s in train_ids:
        ws = words(s, cont)
        if not ws:
            continue
        pair = [sep_id] in ws           # [CLS] a [SEP] b [SEP]: keep the middle [SEP], no n-grams
        for _ in range(cfg.per_sentence):
            new = []
            for w in ws:
                r = rng.random()
                if w == [sep_id]:
                    new.append(w)
                elif r < cfg.p_mask:
                    new.append([mask_id])
                elif r < cfg.p_mask + cfg.p_swap and len(w) == 1 and w[0] in nbr and len(nbr[w[0]]):
                    new.append([int(rng.choice(nbr[w[0]]))])
                else:
                    new.append(w)
            if not pair and rng.random() < cfg.p_ngram and len(new) > 1:
                n = int(rng.integers(1, min(cfg.max_ngram, len(new)) + 1))
                i = int(rng.integers(0, len(new) - n + 1))
                new = new[i:i + n]
            v = tuple([cls_id] + [t for w in new for t in w] + [sep_id])
            if v not in have:
                have.add(v)
                out.append(list(v))
    return out
