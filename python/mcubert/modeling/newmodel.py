# SPDX-License-Identifier: Apache-2.0
"""Seeded random McuBert classifiers: test fixtures for the int8 pipeline, no training involved."""

import torch
from torch import nn

from .config import make_config
from .embedding import contiguous_clusters
from .model import McuBertForSequenceClassification, compress_embedding
from ..int8 import bounds
from ..text.vocab import bert_uncased_tokenizer


@torch.no_grad()
def new_model(preset: str, clusters: int, ranks: list[int], seed: int, out: str, **overrides):
    """Random model with `clusters` contiguous embedding clusters of the given ranks, saved to `out`.

    The bert-base-uncased tokenizer is saved alongside; it only matches the model when vocab_size
    is 30522 (smaller vocab_size overrides are for tests, where ids >= vocab_size must not be fed).
    """
    ranks = [int(r) for r in ranks]
    if len(ranks) != clusters:
        raise ValueError(f"got {len(ranks)} ranks for {clusters} clusters")
    config = make_config(preset, **overrides)
    bounds.check_config(config, clusters=clusters)      # before anything is written
    torch.manual_seed(seed)
    model = McuBertForSequenceClassification(config)  # transformers' normal(0, initializer_range) init

    # Fresh-init LayerNorms are exactly (1, 0) and biases exactly 0, which would let int8 scale and
    # zero-point bugs hide; perturb them so every tensor carries information.
    for m in model.modules():
        if isinstance(m, nn.LayerNorm):
            m.weight.copy_(1 + 0.1 * torch.randn_like(m.weight))
            m.bias.copy_(0.1 * torch.randn_like(m.bias))
        elif isinstance(m, nn.Linear) and m.bias is not None:
            m.bias.copy_(0.02 * torch.randn_like(m.bias))

    dense = torch.randn(config.vocab_size, config.hidden_size) * config.initializer_range
    compress_embedding(model, contiguous_clusters(config.vocab_size, clusters), ranks, dense=dense)

    model.save_pretrained(out)
    bert_uncased_tokenizer().save_pretrained(out)
    return model.eval()
