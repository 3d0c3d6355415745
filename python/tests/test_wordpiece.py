# SPDX-License-Identifier: Apache-2.0
"""The build-time tokenizer gives the same ids as Hugging Face's BertTokenizer."""
from __future__ import annotations

import random

import pytest

from mcubert.text.vocab import bert_uncased_tokenizer, encode
from mcubert.text.wordpiece import WordPiece

TEXTS = [
    "Hello, World!", "naïve café résumé", "It's a 10/10 film -- really!!!", "東京は素晴らしい映画です",
    "emoji 😀 test", "a" * 120, "tab\tnew\nline\x00ctrl\u200bzero-width", "unaffable", "Ça va? Über-cool…",
    "don't stop", "$100 & 50% off #1 @user", "  leading and trailing  ", "",
    "the rock is destined to be the 21st century's new \" conan \" and that he's going to make a splash",
    "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ", "ﬁne ligatures", "Straße", "İstanbul", "x" + "\u0301" * 5, "\ufffd\ufffd ok",
    # as the tokenizers library: no final sigma, unassigned code points kept ([UNK]), and its
    # CJK Extension E range (from U+2B920, not U+2B820)
    "ΟΔΟΣ ΑΣ. ΣΑ", "a\U000E0080b \U00040000 x\u0378y", "\U0002B820x\U0002B91F \U0002B920x",
]


@pytest.fixture(scope="module")
def pair():
    tok = bert_uncased_tokenizer()
    vocab = [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
    return tok, WordPiece(vocab)


@pytest.mark.parametrize("max_len", [512, 8])
def test_same_ids_as_transformers(pair, max_len):
    tok, wp = pair
    for t in TEXTS:
        assert wp.encode(t, max_len) == encode(tok, t, max_len), t


def test_random_unicode_agrees(pair):
    """Random mixes of letters, digits, punctuation, accents, CJK, symbols and controls."""
    tok, wp = pair
    rng = random.Random(5)
    pools = ["abcdefghijklmnopqrstuvwxyzABCDEFXYZ0123456789", " \t\n", ".,;:!?'\"()[]{}-_/\\@#$%^&*+=<>~`|",
             "éèêëàâäîïôöùûüçñÉÀÇÑßøåæœ", "的一是不了人我在有他这中", "\u0300\u0301\u0308\u200b\u00a0\u3000",
             "€£¥©®™°±×÷§¶•…–—‘’“”", "😀🎬👍🔥"]
    for _ in range(300):
        t = "".join(rng.choice(rng.choice(pools)) for _ in range(rng.randint(1, 60)))
        assert wp.encode(t, 64) == encode(tok, t, 64), repr(t)


def test_vocab_must_have_special_tokens():
    with pytest.raises(ValueError, match=r"no \[CLS\]"):
        WordPiece(["[PAD]", "[UNK]", "[SEP]", "a"])
    with pytest.raises(ValueError, match="no room"):
        WordPiece(["[UNK]", "[CLS]", "[SEP]"]).encode("x", 1)
