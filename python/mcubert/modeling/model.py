# SPDX-License-Identifier: Apache-2.0
"""BERT sequence classifier whose word embedding is a ClusteredLowRankEmbedding."""

import torch
from torch import nn
from transformers import AutoModelForSequenceClassification, BertModel, BertPreTrainedModel
from transformers.modeling_outputs import SequenceClassifierOutput

from .config import McuBertConfig
from .embedding import ClusteredLowRankEmbedding, LowRankPositions, clusters_from_sizes

SEP_ID = 102        # [SEP] in the bert-base-uncased vocabulary, when a config names none


class McuBertForSequenceClassification(BertPreTrainedModel):
    config_class = McuBertConfig
    # Eager attention only: calibration hooks on the Linear/LayerNorm submodules must see the same
    # arithmetic the firmware runs, and sdpa/flash kernels would bypass the explicit softmax path.
    _supports_sdpa = False
    _supports_flash_attn = False
    _supports_flex_attn = False
    _supports_attention_backend = False

    def __init__(self, config: McuBertConfig):
        if config._attn_implementation not in (None, "eager"):
            raise ValueError(f"mcubert runs eager attention only, got {config._attn_implementation!r}")
        config._attn_implementation = "eager"
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=True)
        # Contiguous clusters for now; from_pretrained overwrites the token -> cluster buffers.
        self.bert.embeddings.word_embeddings = ClusteredLowRankEmbedding(
            config.vocab_size,
            config.hidden_size,
            clusters_from_sizes(config.cluster_sizes),
            config.cluster_ranks,
            init_std=config.initializer_range,
        )
        if config.position_rank:
            self.bert.embeddings.position_embeddings = LowRankPositions(
                config.max_position_embeddings, config.position_rank, config.hidden_size,
                init_std=config.initializer_range)
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    @torch.no_grad()
    def _init_weights(self, module):
        # The clustered embedding and the low-rank positions initialise themselves in __init__ (BertModel's
        # post_init runs before they exist, and the generic init does not know them); everything else gets
        # the usual BERT init.
        if isinstance(module, (ClusteredLowRankEmbedding, LowRankPositions)):
            return
        super()._init_weights(module)

    def get_input_embeddings(self) -> ClusteredLowRankEmbedding:
        return self.bert.embeddings.word_embeddings

    def set_input_embeddings(self, value: nn.Module):
        self.bert.embeddings.word_embeddings = value

    def resize_token_embeddings(self, *args, **kwargs):
        raise NotImplementedError("resize the vocab by building a new ClusteredLowRankEmbedding (compress_embedding)")

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None) -> SequenceClassifierOutput:
        if token_type_ids is None and self.config.text_pair:
            token_type_ids = segment_ids(input_ids, getattr(self.config, "sep_token_id", None))
        out = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, return_dict=True)
        logits = self.classifier(self.dropout(out.pooler_output))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
        return SequenceClassifierOutput(loss=loss, logits=logits)


def segment_ids(input_ids: torch.Tensor, sep_id: int | None = None) -> torch.Tensor:
    """token_type_ids of [CLS] a [SEP] b [SEP] rows: 1 after the first [SEP], else 0 (padding
    after the last [SEP] gets 1 too; the attention mask hides it). n_first = first [SEP] + 1."""
    is_sep = (input_ids == (SEP_ID if sep_id is None else sep_id)).long()
    return ((is_sep.cumsum(-1) - is_sep) > 0).long()


def with_segments(model):
    """Make a plain transformers BERT (the teacher) derive segment ids as McuBert does with
    config.text_pair: a forward pre-hook fills token_type_ids from input_ids when not given."""
    def hook(_module, args, kwargs):
        x = kwargs.get("input_ids", args[0] if args else None)
        if kwargs.get("token_type_ids") is None and x is not None:
            kwargs["token_type_ids"] = segment_ids(x, getattr(model.config, "sep_token_id", None))
        return args, kwargs

    model.register_forward_pre_hook(hook, with_kwargs=True)
    return model


@torch.no_grad()
def compress_embedding(model: McuBertForSequenceClassification, cluster_of, ranks: list[int], dense=None):
    """Replace the word embedding by a per-cluster truncated SVD of its current dense table
    (or of `dense`, a (vocab x hidden) table, when given)."""
    old = model.get_input_embeddings()
    new = ClusteredLowRankEmbedding.from_dense(old.dense() if dense is None else dense, cluster_of, ranks)
    new.train(old.training)
    model.set_input_embeddings(new)
    # Config sizes/ranks describe the parameter shapes; the buffers carry the assignment itself.
    model.config.cluster_sizes = list(new.sizes)
    model.config.cluster_ranks = list(new.ranks)
    return model


@torch.no_grad()
def compress_positions(model: McuBertForSequenceClassification, rank: int):
    """Replace the position table by its rank-`rank` truncated SVD (LowRankPositions); sets
    config.position_rank. The int8 model then stores rank + 1 columns (segment A folded in)."""
    emb = model.bert.embeddings
    old = emb.position_embeddings
    if not 0 < rank < model.config.hidden_size:
        raise ValueError(f"position rank {rank} not in [1, hidden_size {model.config.hidden_size})")
    new = LowRankPositions.from_dense(old.weight.detach(), rank)
    new.train(old.training)
    emb.position_embeddings = new
    model.config.position_rank = int(rank)
    return model


AutoModelForSequenceClassification.register(McuBertConfig, McuBertForSequenceClassification)
