# SPDX-License-Identifier: Apache-2.0
"""Post-training int8 quantization of a McuBertForSequenceClassification (docs/numerics.md)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..data import datasets
from ..int8 import bounds
from ..int8 import numerics as nx
from ..int8.numerics import pack_ln, unpack_ln  # noqa: F401  (re-exported)
from ..int8.qmodel import QuantModel
from ..int8.reference import Pair, as_input, split_input, torch_inputs  # noqa: F401  (Pair re-exported)

RES_QMAX = 16384        # residual grids keep 2x headroom below int16
LOGIT_QMAX = 2**20


@dataclass
class CalibConfig:
    samples: int = 64
    max_len: int = 128
    seed: int = 0


def random_calibration_ids(vocab_size: int, cfg: CalibConfig, max_positions: int) -> list[np.ndarray]:
    rng = np.random.default_rng(cfg.seed)
    hi = min(cfg.max_len, max_positions)
    lo = min(2, hi)       # a one-position model is calibrated on one-token inputs
    return [rng.integers(0, vocab_size, size=int(rng.integers(lo, hi + 1))) for _ in range(cfg.samples)]


class _MaxAbs:
    """Forward hooks that record max |activation| per name."""

    def __init__(self):
        self.values: dict[str, float] = {}
        self.handles = []

    def _put(self, name, t):
        v = float(t.detach().abs().max())
        self.values[name] = max(self.values.get(name, 0.0), v)

    def output(self, module, name):
        self.handles.append(module.register_forward_hook(lambda m, i, o: self._put(name, o)))

    def input(self, module, name):
        self.handles.append(module.register_forward_pre_hook(lambda m, i: self._put(name, i[0])))

    def close(self):
        for h in self.handles:
            h.remove()


@torch.no_grad()
def calibrate(model, samples: list[np.ndarray]) -> dict[str, float]:
    """Max |x| of every quantized activation over the calibration inputs (one sequence at a time)."""
    model.eval()
    bert = model.bert
    rec = _MaxAbs()
    rec.input(bert.embeddings.LayerNorm, "emb.sum")
    rec.output(bert.embeddings.LayerNorm, "h0")
    for i, layer in enumerate(bert.encoder.layer):
        att = layer.attention
        rec.output(att.self.query, f"l{i}.q")
        rec.output(att.self.key, f"l{i}.k")
        rec.output(att.self.value, f"l{i}.v")
        rec.input(att.output.dense, f"l{i}.ctx")
        rec.input(att.output.LayerNorm, f"l{i}.r1")
        rec.output(att.output.LayerNorm, f"l{i}.h1")
        rec.output(layer.intermediate.dense, f"l{i}.f1")
        rec.input(layer.output.LayerNorm, f"l{i}.r2")
        rec.output(layer.output.LayerNorm, f"h{i + 1}")
    rec.output(bert.pooler.dense, "pool.in")
    rec.output(model.classifier, "logits")
    try:
        for x in tqdm(samples, desc="calibrate", leave=False, disable=len(samples) < 200 or None):
            model(**torch_inputs(*split_input(x)))
    finally:
        rec.close()
    return rec.values


def _np(t) -> np.ndarray:
    return t.detach().to(torch.float64).cpu().numpy()


def _linear(lin, s_in: float, s_out: float) -> dict[str, np.ndarray]:
    w, sw = nx.quantize_weight_per_channel(_np(lin.weight))
    return {"w": w, "b": nx.quantize_bias(_np(lin.bias), s_in * sw),
            "rq": nx.quantize_multipliers(s_in * sw / s_out)}


def _ln(ln, s_in: float, s_out: float) -> np.ndarray:
    g, b, e = nx.layernorm_params(_np(ln.weight), _np(ln.bias), ln.eps, s_in, s_out, ln.weight.shape[0])
    return pack_ln(g, b, e)


def _rq1(real: float) -> list[int]:
    return list(nx.quantize_multiplier(real))


def _positions(embeddings, s_e: float) -> dict[str, np.ndarray]:
    """The position table with segment A (token type 0) folded in, on the embedding-sum grid s_e.

    Dense: "pos" int8 [max_pos][H] with one (M, S) pair "pos.rq". Low rank (LowRankPositions,
    P = A @ B): one extra column folds t0 exactly, A' = [A | c] and B' = [B ; t0 / c] with
    c = max|A| (so the column costs A' no int8 range); "pos" is A' int8 [max_pos][r+1] per tensor,
    "pos.vt" is B'^T int8 [H][r+1] per channel and "pos.rq" per-channel (M[H], S[H])."""
    from ..modeling.embedding import LowRankPositions

    t0 = _np(embeddings.token_type_embeddings.weight[0])
    pe = embeddings.position_embeddings
    if not isinstance(pe, LowRankPositions):
        pos = _np(pe.weight) + t0
        s_p = nx.scale_of(np.abs(pos).max(), nx.INT8_MAX)
        return {"pos": nx.quantize_tensor(pos, s_p), "pos.rq": np.array(_rq1(s_p / s_e), np.int32)}
    a, b = _np(pe.A), _np(pe.B)
    c = float(np.abs(a).max()) or 1.0
    a1 = np.hstack([a, np.full((a.shape[0], 1), c)])
    b1 = np.vstack([b, t0[None] / c])
    s_a = nx.scale_of(c, nx.INT8_MAX)
    vt, s_b = nx.quantize_weight_per_channel(b1.T)
    return {"pos": nx.quantize_tensor(a1, s_a), "pos.vt": vt, "pos.rq": nx.quantize_multipliers(s_a * s_b / s_e)}


def quantize_model(model, samples: list[np.ndarray], vocab: list[str] | None = None) -> QuantModel:
    """Integer model from a float model and calibration token-id sequences."""
    cfg = model.config
    bounds.check_config(cfg)
    act = nx.activation(getattr(cfg, "hidden_act", "gelu"))      # refuses an activation with no table
    if not len(samples):
        raise ValueError("no calibration inputs: quantization needs at least one")
    mx = calibrate(model, samples)
    bert = model.bert
    H, NH = cfg.hidden_size, cfg.num_attention_heads
    dh = H // NH
    s8 = lambda name: nx.scale_of(mx[name], nx.INT8_MAX)      # noqa: E731
    s16 = lambda name: nx.scale_of(mx[name], RES_QMAX)        # noqa: E731
    scales: dict[str, float] = {}
    t: dict[str, np.ndarray] = {}

    # --- embedding: per-cluster U (per-tensor) and V^T (per hidden channel)
    emb = bert.embeddings.word_embeddings
    s_e, s_h = s16("emb.sum"), s8("h0")
    scales.update({"emb.sum": s_e, "h0": s_h})
    cluster_of = emb.token_cluster.cpu().numpy().astype(np.int64)
    K = len(cfg.cluster_sizes)
    t["emb.cluster_of"] = cluster_of.astype(np.uint8)
    rows = emb.token_row.cpu().numpy()
    for c in range(K):
        members = np.nonzero(cluster_of == c)[0]
        if not np.array_equal(rows[members], np.arange(len(members))):
            raise ValueError(f"cluster {c}: rows are not in token-id order")
        u, v = _np(emb.U[c]), _np(emb.V[c])
        r = u.shape[1]
        s_u = nx.scale_of(np.abs(u).max() if u.size else 0.0, nx.INT8_MAX)
        vt, s_v = nx.quantize_weight_per_channel(v.T) if r else (np.zeros((H, 0), np.int8), np.ones(H))
        t[f"emb.U.{c}"] = nx.quantize_tensor(u, s_u)
        t[f"emb.Vt.{c}"] = vt
        t[f"emb.rq.{c}"] = nx.quantize_multipliers(s_u * s_v / s_e)
    t.update(_positions(bert.embeddings, s_e))
    t["emb.ln"] = _ln(bert.embeddings.LayerNorm, s_e, s_h)
    # segment B: its difference to segment A (folded into pos), added on the sum's int16 grid
    types = _np(bert.embeddings.token_type_embeddings.weight)
    seg = types[1] - types[0] if len(types) > 1 else np.zeros(H)
    t["seg"] = nx.quantize_tensor(seg, s_e, nx.INT16_MIN, nx.INT16_MAX, np.int16)

    # --- encoder layers
    for i, layer in enumerate(bert.encoder.layer):
        att = layer.attention
        s_q, s_k, s_v = s8(f"l{i}.q"), s8(f"l{i}.k"), s8(f"l{i}.v")
        s_ctx, s_r1, s_h1 = s8(f"l{i}.ctx"), s16(f"l{i}.r1"), s8(f"l{i}.h1")
        s_f1, s_r2, s_h2 = s8(f"l{i}.f1"), s16(f"l{i}.r2"), s8(f"h{i + 1}")
        # the activation's output scale covers the LUT's whole input range, so the LUT never clips
        s_g = nx.scale_of(float(np.abs(act(np.arange(-128, 128, dtype=np.float64) * s_f1)).max()), nx.INT8_MAX)
        for name, lin, so in (("q", att.self.query, s_q), ("k", att.self.key, s_k), ("v", att.self.value, s_v)):
            for k, arr in _linear(lin, s_h, so).items():
                t[f"l{i}.{name}.{k}"] = arr
        for k, arr in _linear(att.output.dense, s_ctx, s_r1).items():
            t[f"l{i}.o.{k}"] = arr
        for k, arr in _linear(layer.intermediate.dense, s_h1, s_f1).items():
            t[f"l{i}.f1.{k}"] = arr
        for k, arr in _linear(layer.output.dense, s_g, s_r2).items():
            t[f"l{i}.f2.{k}"] = arr
        t[f"l{i}.ln1"] = _ln(att.output.LayerNorm, s_r1, s_h1)
        t[f"l{i}.ln2"] = _ln(layer.output.LayerNorm, s_r2, s_h2)
        t[f"l{i}.softmax_lut"] = nx.softmax_lut(nx.SCORE_GRID)
        t[f"l{i}.gelu_lut"] = nx.gelu_lut(s_f1, s_g, cfg.hidden_act)
        t[f"l{i}.scalars"] = np.array(
            _rq1(s_q * s_k / (math.sqrt(dh) * nx.SCORE_GRID)) + _rq1(s_v / (256.0 * s_ctx))
            + _rq1(s_h / s_r1) + _rq1(s_h1 / s_r2), np.int32)
        scales.update({f"l{i}.{n}": v for n, v in (("q", s_q), ("k", s_k), ("v", s_v), ("ctx", s_ctx),
                       ("r1", s_r1), ("h1", s_h1), ("f1", s_f1), ("g", s_g), ("r2", s_r2))})
        scales[f"h{i + 1}"] = s_h2
        s_h = s_h2

    # --- pooler (tanh LUT, output scale 1/127) and classifier (int32 logits)
    s_pin = s8("pool.in")
    for k, arr in _linear(bert.pooler.dense, s_h, s_pin).items():
        t[f"pool.{k}"] = arr
    t["tanh_lut"] = nx.tanh_lut(s_pin)
    s_logit = nx.scale_of(mx["logits"], LOGIT_QMAX)
    for k, arr in _linear(model.classifier, 1.0 / nx.INT8_MAX, s_logit).items():
        t[f"cls.{k}"] = arr
    scales.update({"pool.in": s_pin, "logit": s_logit})

    config = {
        "vocab_size": int(cfg.vocab_size), "hidden_size": int(H), "num_layers": int(cfg.num_hidden_layers),
        "num_heads": int(NH), "ffn_size": int(cfg.intermediate_size),
        "max_positions": int(cfg.max_position_embeddings), "num_labels": int(cfg.num_labels),
        "cluster_sizes": [int(x) for x in cfg.cluster_sizes], "cluster_ranks": [int(x) for x in cfg.cluster_ranks],
        "id2label": {str(k): str(v) for k, v in (cfg.id2label or {}).items()},
        "layer_norm_eps": float(cfg.layer_norm_eps),
        "hidden_act": str(cfg.hidden_act),
        "text_pair": bool(getattr(cfg, "text_pair", False)),
    }
    return QuantModel(config=config, tensors=t, scales=scales, vocab=vocab)


# ---------------------------------------------------------------- `mcubert quantize`

@dataclass
class Quantized:
    qm: QuantModel
    model: object               # the float model, for the agreement report
    samples: list[np.ndarray]
    source: str                 # what the calibration inputs were


def load_checkpoint(checkpoint: str | Path):
    """McuBertForSequenceClassification from a directory, or a ValueError saying why not."""
    from ..modeling.config import read_checkpoint_config
    from ..modeling.model import McuBertForSequenceClassification

    d = Path(checkpoint)
    cfg = read_checkpoint_config(d, "a checkpoint directory: the output of `mcubert import`, `train`, `search`, "
                                    "`baseline` or `new-model`")
    if cfg.get("model_type") != "mcubert":
        kind = cfg.get("model_type")
        hint = (f"run `mcubert import {d} --out DIR` first, then quantize DIR" if kind == "bert" else
                "mcubert quantizes what `mcubert import`, `train`, `search`, `baseline` or `new-model` wrote")
        raise ValueError(f"{d}: model_type {kind!r} is not an mcubert checkpoint; {hint}")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()        # a load report would bury the one line that matters
        model = McuBertForSequenceClassification.from_pretrained(str(d)).eval()
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as e:
        raise ValueError(f"{d}: cannot load the checkpoint ({type(e).__name__}: {str(e).splitlines()[0]})") from None
    bounds.check_config(model.config)
    return model


def checkpoint_vocab(checkpoint: str | Path, vocab_size: int):
    """(tokenizer, vocab list) saved beside the checkpoint when it matches vocab_size, else (None, None)."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(checkpoint))
    except (OSError, ValueError, TypeError):
        return None, None
    if len(tok) != vocab_size:
        return None, None
    return tok, [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]


def provenance_of(checkpoint: str | Path) -> dict:
    """What the checkpoint directory says about how it was made (its metrics.json, if any)."""
    import json

    from .. import __version__

    d = Path(checkpoint)
    prov = {"tool": f"mcubert {__version__}", "checkpoint": d.resolve().name}
    f = d / "metrics.json"
    if f.is_file():
        try:
            m = json.loads(f.read_text())
        except (OSError, ValueError):
            m = {}
        if m.get("method"):
            prov["embedding"] = m["method"]
        if "distill" in m:
            prov["embedding"] = "dense (distilled student)"
        for k in ("dev_accuracy", "test_accuracy"):
            if isinstance(m.get(k), (int, float)):
                prov[f"float_{k}"] = round(float(m[k]), 4)
        if "train_sentences" in m:
            prov["train_sentences"] = m["train_sentences"]
        if m.get("data"):
            prov["data"] = m["data"]
            prov["training_data"] = m.get("data_source") or m["data"]
    if "training_data" not in prov and ("float_test_accuracy" in prov or "train_sentences" in prov):
        prov["data"], prov["training_data"] = datasets.BUILTIN, datasets.BUILTIN_SOURCE     # runs before datasets
    return prov


def quantize_checkpoint(checkpoint: str | Path, *, samples: int = 64, max_len: int = 128, seed: int = 0,
                        sentences: list[str] | None = None, sentences_from: str | None = None,
                        split: str | None = None, data: str | None = None) -> Quantized:
    """The `mcubert quantize` step: load, pick calibration inputs (random ids, given sentences, or
    a split of `data`, by default the dataset the checkpoint was trained on), quantize, and record
    provenance."""
    from ..text.vocab import encode_example, split_pair_line

    if samples < 1:
        raise ValueError(f"samples {samples}: calibration needs at least 1")
    if max_len < 1:
        raise ValueError(f"max_len {max_len}: must be at least 1")
    model = load_checkpoint(checkpoint)
    cfg = model.config
    L = min(max_len, cfg.max_position_embeddings)
    tok, vocab = checkpoint_vocab(checkpoint, cfg.vocab_size)
    if sentences is not None or split:
        if tok is None:
            raise ValueError("calibrating on text needs the checkpoint's tokenizer (saved beside it, with "
                             f"vocab_size {cfg.vocab_size} tokens); without one, drop --data/--split")
        if split:
            ds = datasets.load(data or provenance_of(checkpoint).get("data"))
            if ds.pair != bool(cfg.text_pair):
                kind = {True: "sentence pairs", False: "single sentences"}
                raise ValueError(f"the checkpoint takes {kind[bool(cfg.text_pair)]}, dataset {ds.name} has "
                                 f"{kind[ds.pair]}")
            pool = ds.splits[split]
            pick = np.random.default_rng(seed).permutation(len(pool))[:samples]
            texts = [(pool[i].text, pool[i].text_pair) for i in sorted(pick)]
            sentences_from = f"the {ds.name} {split} split"
        else:
            texts = [split_pair_line(s, bool(cfg.text_pair)) for s in sentences[:samples]]
        ids = [as_input(*encode_example(tok, a, b, L)) for a, b in texts[:samples]]
        source = f"{len(ids)} {'sentence pairs' if cfg.text_pair else 'sentences'} from {sentences_from}"
    else:
        ids = random_calibration_ids(cfg.vocab_size, CalibConfig(samples=samples, max_len=max_len, seed=seed),
                                     cfg.max_position_embeddings)
        if cfg.text_pair:                   # segment B from the middle on, so its row is calibrated too
            ids = [Pair(x, max(1, len(x) // 2)) for x in ids]
        source = f"{len(ids)} random token sequences"
    qm = quantize_model(model, ids, vocab=vocab)
    qm.provenance = {**provenance_of(checkpoint), "calibration": source}
    return Quantized(qm, model, ids, source)
