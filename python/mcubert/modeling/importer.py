# SPDX-License-Identifier: Apache-2.0
"""`mcubert import`: a user's fine-tuned transformers BertForSequenceClassification as an mcubert
checkpoint.

The word embedding is carried over exactly as one full-rank cluster (U = the table, V = the
identity), so before any compression the import computes the original's logits. Every field the
runtime cannot honour is refused by name, with what is supported.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..int8 import bounds
from ..int8.numerics import ACTIVATIONS
from .config import McuBertConfig, read_checkpoint_config
from .model import McuBertForSequenceClassification


class ImportError_(ValueError):
    """The checkpoint cannot become an mcubert model; the message names the field."""


def check_config(cfg: dict, where: str = "the checkpoint") -> None:
    """Refuse, by name, everything the runtime cannot run."""
    mt = cfg.get("model_type")
    if mt == "mcubert":
        raise ImportError_(f"{where} is already an mcubert checkpoint: quantize it directly")
    if mt != "bert":
        raise ImportError_(f"{where}: model_type {mt!r}; mcubert imports BERT (model_type 'bert': "
                           f"BertForSequenceClassification)")
    archs = cfg.get("architectures") or ["BertForSequenceClassification"]
    if "BertForSequenceClassification" not in archs:
        raise ImportError_(f"{where}: architectures {archs}; mcubert imports BertForSequenceClassification "
                           f"(a classifier head on the pooled [CLS])")
    pos = cfg.get("position_embedding_type", "absolute")
    if pos != "absolute":
        raise ImportError_(f"{where}: position_embedding_type {pos!r}; the runtime has absolute position "
                           f"embeddings only")
    act = cfg.get("hidden_act", "gelu")
    if act not in ACTIVATIONS:
        raise ImportError_(f"{where}: hidden_act {act!r} has no lookup table; supported: {', '.join(ACTIVATIONS)}")
    if cfg.get("is_decoder") or cfg.get("add_cross_attention"):
        raise ImportError_(f"{where}: a decoder (is_decoder/add_cross_attention); mcubert runs encoders")
    labels = int(cfg.get("num_labels", len(cfg.get("id2label") or {}) or 2))
    if cfg.get("problem_type") in ("regression", "multi_label_classification") or labels < 2:
        raise ImportError_(f"{where}: problem_type {cfg.get('problem_type') or 'regression'} with {labels} "
                           f"label(s); the runtime answers single-label classification (argmax of 2+ logits)")
    try:
        bounds.check_model(vocab_size=int(cfg["vocab_size"]), hidden=int(cfg["hidden_size"]),
                           layers=int(cfg["num_hidden_layers"]), heads=int(cfg["num_attention_heads"]),
                           ffn=int(cfg["intermediate_size"]), max_positions=int(cfg["max_position_embeddings"]),
                           num_labels=labels, clusters=1)
    except KeyError as e:
        raise ImportError_(f"{where}: config.json has no {e.args[0]}") from None


@torch.no_grad()
def import_checkpoint(src: str | Path) -> McuBertForSequenceClassification:
    """The mcubert model of a BertForSequenceClassification directory, its word embedding as one
    full-rank cluster (mcubert.training.imports compresses it under a budget)."""
    from transformers import BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    cfg = read_checkpoint_config(src, "a local transformers checkpoint directory (save_pretrained output)")
    check_config(cfg, str(src))
    hf_logging.set_verbosity_error()
    try:
        hf = BertForSequenceClassification.from_pretrained(str(src), attn_implementation="eager").eval()
    except (OSError, ValueError, RuntimeError) as e:
        raise ImportError_(f"{src}: transformers cannot load it ({str(e).splitlines()[0]})") from None
    c = hf.config.to_dict()
    for k in ("model_type", "architectures", "transformers_version", "_name_or_path", "auto_map", "dtype",
              "torch_dtype", "cluster_sizes", "cluster_ranks"):
        c.pop(k, None)
    V, H = hf.config.vocab_size, hf.config.hidden_size
    c.update(cluster_sizes=[V], cluster_ranks=[H], architectures=["McuBertForSequenceClassification"])
    model = McuBertForSequenceClassification(McuBertConfig(**c)).eval()
    sd = {k: v for k, v in hf.state_dict().items() if k != "bert.embeddings.word_embeddings.weight"}
    missing, unexpected = model.load_state_dict(sd, strict=False)
    emb = model.get_input_embeddings()
    missing = [k for k in missing if not k.startswith("bert.embeddings.word_embeddings.")]
    if missing or unexpected:
        raise ImportError_(f"{src}: weights do not match the mcubert model (missing {missing[:3]}, "
                           f"unexpected {unexpected[:3]})")
    w = hf.bert.embeddings.word_embeddings.weight.detach().float()
    emb.U[0].copy_(w)                          # U @ I = the table, bit for bit
    emb.V[0].copy_(torch.eye(H))
    return model.eval()
