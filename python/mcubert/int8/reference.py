# SPDX-License-Identifier: Apache-2.0
"""Integer reference engine: runs a QuantModel op by op with the numerics of docs/numerics.md.

No op that the C runtime does in integers uses a float here. Tensors are processed whole
(layer-wise); the C fine schedule computes the same elements in another order.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import numerics as nx
from .numerics import unpack_ln
from .qmodel import QuantModel


def _ln(x16: np.ndarray, packed: np.ndarray) -> np.ndarray:
    g, b, e = unpack_ln(packed)
    return nx.layernorm(x16, g, b, e)


def _lin(qm: QuantModel, prefix: str, x: np.ndarray, out: str) -> np.ndarray:
    t = qm.tensors
    acc = nx.linear(x, t[f"{prefix}.w"], t[f"{prefix}.b"], None)
    rq = t[f"{prefix}.rq"]
    fn = {"s8": nx.requant_s8, "s16": nx.requant_s16, "s32": nx.requant_s32}[out]
    return fn(acc, rq[0], rq[1])


class Pair(NamedTuple):
    """A sentence-pair input: ids of [CLS] a [SEP] b [SEP], and n_first, the tokens of [CLS] a [SEP]
    (segment A). Plain token ids are a one-sentence input (all segment A)."""
    ids: np.ndarray
    n_first: int


def as_input(ids, n_first: int | None = None):
    """Token ids (one sentence, n_first None) or a Pair: what classify() takes."""
    ids = np.asarray(ids, np.int64)
    return ids if n_first is None else Pair(ids, int(n_first))


def split_input(x) -> tuple[np.ndarray, int]:
    """(ids, n_first) of an input: a Pair, or token ids (n_first = their length)."""
    if isinstance(x, Pair):
        return np.asarray(x.ids, np.int64).ravel(), int(x.n_first)
    ids = np.asarray(x, np.int64).ravel()
    return ids, len(ids)


def _add_positions(qm: QuantModel, a: np.ndarray) -> np.ndarray:
    """sat16(a + pe) with pe = sat16(requant(P[p])) (dense, one (M, S)) or, for a low-rank table,
    pe = sat16(requant(A'[p] . B'^T[h], M[h], S[h])) per hidden channel h."""
    t = qm.tensors
    n = a.shape[0]
    if qm.pos_rank == 0:
        pm, ps = (int(v) for v in t["pos.rq"])
        return nx.residual_add(a, t["pos"][:n], pm, ps)
    rq = t["pos.rq"]
    pe = nx.requant_s16(nx.linear(t["pos"][:n], t["pos.vt"], None, None), rq[0], rq[1])
    return nx.sat(a.astype(np.int32) + pe.astype(np.int32), nx.INT16_MIN, nx.INT16_MAX).astype(np.int16)


def embed(qm: QuantModel, ids: np.ndarray, n_first: int | None = None) -> np.ndarray:
    """Clustered low-rank word embedding + position embedding (dense or low rank, segment A folded
    in), plus the segment-B row for tokens from n_first on, then LayerNorm -> int8 [n, H]."""
    t = qm.tensors
    H = qm.hidden
    cl = t["emb.cluster_of"].astype(np.int64)
    rows = qm.token_rows()
    a = np.zeros((len(ids), H), np.int16)
    for j, tok in enumerate(ids):
        c, r = cl[tok], rows[tok]
        u = t[f"emb.U.{c}"]
        if u.shape[1]:
            acc = nx.linear(u[r][None], t[f"emb.Vt.{c}"], None, None)[0]
            rq = t[f"emb.rq.{c}"]
            a[j] = nx.requant_s16(acc, rq[0], rq[1])
    r16 = _add_positions(qm, a)
    if n_first is not None and n_first < len(ids):
        r16[n_first:] = nx.sat(r16[n_first:].astype(np.int32) + qm.segment.astype(np.int32),
                               nx.INT16_MIN, nx.INT16_MAX)
    return _ln(r16, t["emb.ln"])


def attention(qm: QuantModel, i: int, h: np.ndarray) -> np.ndarray:
    """Context vectors int8 [n, H] of layer i."""
    n, H, NH, dh = h.shape[0], qm.hidden, qm.heads, qm.head_dim
    q = _lin(qm, f"l{i}.q", h, "s8")
    k = _lin(qm, f"l{i}.k", h, "s8")
    v = _lin(qm, f"l{i}.v", h, "s8")
    sm, ss = qm.scalar(i, "score")
    cm, cs = qm.scalar(i, "ctx")
    lut = qm.layer(i, "softmax_lut")
    ctx = np.zeros((n, H), np.int8)
    for hd in range(NH):
        sl = slice(hd * dh, (hd + 1) * dh)
        scores = nx.requant_s16(nx.linear(q[:, sl], k[:, sl], None, None), sm, ss)
        p = nx.softmax(scores, lut)
        ctx[:, sl] = nx.requant_s8(p.astype(np.int64) @ v[:, sl].astype(np.int64), cm, cs)
    return ctx


def layer(qm: QuantModel, i: int, h: np.ndarray) -> np.ndarray:
    ctx = attention(qm, i, h)
    a = _lin(qm, f"l{i}.o", ctx, "s16")
    h1 = _ln(nx.residual_add(a, h, *qm.scalar(i, "res1")), qm.layer(i, "ln1"))
    f = nx.lut_s8(_lin(qm, f"l{i}.f1", h1, "s8"), qm.layer(i, "gelu_lut"))
    a2 = _lin(qm, f"l{i}.f2", f, "s16")
    return _ln(nx.residual_add(a2, h1, *qm.scalar(i, "res2")), qm.layer(i, "ln2"))


def check_ids(qm: QuantModel, ids, n_first: int | None = None) -> np.ndarray:
    """The checks mcubert_classify_pair() makes, with its error order."""
    ids = np.asarray(ids, np.int64).ravel()
    if not 1 <= len(ids) <= qm.max_positions:
        raise ValueError(f"{len(ids)} tokens: the model takes 1 to {qm.max_positions}")
    if n_first is not None and not 1 <= n_first <= len(ids):
        raise ValueError(f"n_first {n_first}: must be 1..{len(ids)} (the tokens of [CLS] a [SEP])")
    if ids.min() < 0 or ids.max() >= qm.vocab_size:
        raise ValueError(f"token id out of range [0, {qm.vocab_size})")
    return ids


def classify(qm: QuantModel, x) -> np.ndarray:
    """int32 logits [num_labels] of token ids or a Pair; multiply by scales['logit'] for floats."""
    ids, n_first = split_input(x)
    ids = check_ids(qm, ids, n_first)
    h = embed(qm, ids, n_first)
    for i in range(qm.layers):
        h = layer(qm, i, h)
    pooled = nx.lut_s8(_lin(qm, "pool", h[:1], "s8"), qm.tensors["tanh_lut"])
    return _lin(qm, "cls", pooled, "s32")[0]


def agreement(qm: QuantModel, model, samples) -> dict:
    """How closely int8 logits follow the float model: label agreement and logit error."""
    import torch

    model.eval()
    agree, errs, n = 0, [], 0
    with torch.no_grad():
        for x in samples:
            ids, n_first = split_input(x)
            ref = model(**torch_inputs(ids, n_first)).logits[0].numpy()
            q = classify(qm, x).astype(np.float64) * qm.scales["logit"]
            agree += int(np.argmax(ref) == np.argmax(q))
            errs.append(float(np.abs(ref - q).max() / max(np.abs(ref).max(), 1e-9)))
            n += 1
    return {"n": n, "label_agreement": agree / max(n, 1), "max_rel_logit_err": max(errs) if errs else 0.0,
            "mean_rel_logit_err": float(np.mean(errs)) if errs else 0.0}


def torch_inputs(ids, n_first: int) -> dict:
    """input_ids and token_type_ids (batch of one) for the float model."""
    import torch

    ids = torch.as_tensor(np.asarray(ids), dtype=torch.long)[None]
    types = torch.zeros_like(ids)
    types[:, n_first:] = 1
    return {"input_ids": ids, "token_type_ids": types}
