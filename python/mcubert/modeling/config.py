# SPDX-License-Identifier: Apache-2.0
"""Model configuration: a BertConfig plus the clustered low-rank embedding layout."""

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, BertConfig

from ..presets import PRESETS  # noqa: F401  (re-exported)


# transformers 5 configs are strict dataclasses: new fields are declared, not set in __init__.
@strict
class McuBertConfig(BertConfig):
    model_type = "mcubert"

    # Tokens per cluster (sums to vocab_size) and the rank of each cluster (0 = zero vectors).
    # None means one cluster over the whole vocab at rank hidden_size; filled in __post_init__.
    cluster_sizes: list[int] | None = None
    cluster_ranks: list[int] | None = None
    # A classifier has no output embedding to tie to.
    tie_word_embeddings: bool = False
    # Trained on sentence pairs ([CLS] a [SEP] b [SEP]): without token_type_ids, forward() gives
    # segment B to the tokens after the first [SEP] (segment_ids), as the device does from n_first.
    text_pair: bool = False
    # Rank r of a low-rank position table P = A @ B (A: max_positions x r, B: r x hidden); 0 = dense.
    # The int8 model stores r + 1 columns (segment A folded in), which the runtime bounds by hidden.
    position_rank: int = 0

    def __post_init__(self, **kwargs):
        if self.cluster_sizes is None:
            self.cluster_sizes = [self.vocab_size]
        if self.cluster_ranks is None:
            self.cluster_ranks = [self.hidden_size] * len(self.cluster_sizes)
        # json gives lists already; tuples would fail the strict list[int] check
        self.cluster_sizes = [int(n) for n in self.cluster_sizes]
        self.cluster_ranks = [int(r) for r in self.cluster_ranks]
        super().__post_init__(**kwargs)
        self.validate_clusters()
        self.validate_position_rank()

    @property
    def num_clusters(self) -> int:
        return len(self.cluster_sizes)

    # validate_* methods also run on save_pretrained (strict dataclass validation)
    def validate_clusters(self):
        sizes, ranks = self.cluster_sizes, self.cluster_ranks
        if len(sizes) != len(ranks):
            raise ValueError(f"cluster_sizes has {len(sizes)} entries but cluster_ranks has {len(ranks)}")
        if sum(sizes) != self.vocab_size:
            raise ValueError(f"cluster_sizes sum to {sum(sizes)}, expected vocab_size {self.vocab_size}")
        if any(n < 0 for n in sizes):
            raise ValueError(f"negative cluster size in {sizes}")
        for c, (n, r) in enumerate(zip(sizes, ranks)):
            if not 0 <= r <= self.hidden_size:
                raise ValueError(f"cluster {c} (size {n}): rank {r} not in [0, hidden_size {self.hidden_size}]")


    def validate_position_rank(self):
        r = self.position_rank
        if not 0 <= r < self.hidden_size:
            raise ValueError(f"position_rank {r} not in [0, hidden_size {self.hidden_size}): the int8 factors "
                             f"are r + 1 wide (segment A folded in) and the runtime takes at most hidden_size")


# Lets AutoConfig.from_pretrained read our config.json.
AutoConfig.register("mcubert", McuBertConfig)

DEFAULTS = dict(
    vocab_size=30522,
    max_position_embeddings=512,
    type_vocab_size=2,
    num_labels=2,
    hidden_act="gelu",  # exact erf GELU; the firmware implements the same
    layer_norm_eps=1e-12,
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    initializer_range=0.02,
)


def make_config(preset: str, **overrides) -> McuBertConfig:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    return McuBertConfig(**{**DEFAULTS, **PRESETS[preset], **overrides})


def read_checkpoint_config(checkpoint, what: str = "a checkpoint directory (save_pretrained output)") -> dict:
    """config.json of a checkpoint directory as a dict, or a ValueError saying what is wrong."""
    import json
    from pathlib import Path

    d = Path(checkpoint)
    if not d.exists():
        raise ValueError(f"{d}: no such directory (give {what})")
    if not d.is_dir():
        raise ValueError(f"{d} is a file (give {what})")
    f = d / "config.json"
    if not f.is_file():
        raise ValueError(f"{d}: no config.json, so it is not {what}")
    try:
        cfg = json.loads(f.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{f}: not valid JSON ({e})") from None
    if not isinstance(cfg, dict):
        raise ValueError(f"{f}: not a config object")
    return cfg
