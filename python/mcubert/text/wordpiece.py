# SPDX-License-Identifier: Apache-2.0
"""A dependency-free BERT (uncased) WordPiece tokenizer.

`west build` tokenises a sample's sentences through this module, so a firmware build needs
numpy and jinja2 only, not transformers. It follows the Hugging Face BertTokenizer
(BertNormalizer, BertPreTokenizer, WordPiece) step by step; python/tests/test_wordpiece.py
checks that both give the same ids.
"""
from __future__ import annotations

import unicodedata

MAX_CHARS_PER_WORD = 100


def _is_control(c: str) -> bool:
    # Cc, Cf, Co, Cs as the tokenizers library (is_other): unassigned code points (Cn) stay
    # and become [UNK], as in transformers' BertTokenizer.
    return c not in "\t\n\r" and unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")


def _is_whitespace(c: str) -> bool:
    return c in " \t\n\r" or unicodedata.category(c) == "Zs"


def _is_punctuation(c: str) -> bool:
    o = ord(c)
    if 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_cjk(o: int) -> bool:
    # 0x2B920, not Google BERT's 0x2B820: the tokenizers library's range, which transformers runs
    return (0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2A6DF
            or 0x2A700 <= o <= 0x2B73F or 0x2B740 <= o <= 0x2B81F or 0x2B920 <= o <= 0x2CEAF
            or 0xF900 <= o <= 0xFAFF or 0x2F800 <= o <= 0x2FA1F)


def normalize(text: str) -> str:
    """Clean, space out CJK characters, lowercase and strip accents (BertNormalizer)."""
    out = []
    for c in text:
        if c in "\0\ufffd" or _is_control(c):
            continue
        if _is_whitespace(c):
            out.append(" ")
        elif _is_cjk(ord(c)):
            out.append(f" {c} ")
        else:
            out.append(c)
    # per character, as the tokenizers library: str.lower() would apply Greek final sigma
    text = "".join(c.lower() for c in "".join(out))
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def pre_tokenize(text: str) -> list[str]:
    """Split on whitespace and make every punctuation character its own word."""
    words: list[str] = []
    for chunk in text.split():
        cur = ""
        for c in chunk:
            if _is_punctuation(c):
                if cur:
                    words.append(cur)
                words.append(c)
                cur = ""
            else:
                cur += c
        if cur:
            words.append(cur)
    return words


class WordPiece:
    """Greedy longest-match-first WordPiece over a vocabulary list (token i has id i)."""

    def __init__(self, vocab: list[str], unk: str = "[UNK]", cls: str = "[CLS]", sep: str = "[SEP]"):
        self.ids = {t: i for i, t in enumerate(vocab)}
        for t in (unk, cls, sep):
            if t not in self.ids:
                raise ValueError(f"vocabulary has no {t} token")
        self.unk, self.cls, self.sep = self.ids[unk], self.ids[cls], self.ids[sep]

    def word_ids(self, word: str) -> list[int]:
        if len(word) > MAX_CHARS_PER_WORD:
            return [self.unk]
        out, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.ids:
                    out.append(self.ids[piece])
                    break
                end -= 1
            if end == start:
                return [self.unk]
            start = end
        return out

    def tokenize(self, text: str) -> list[int]:
        return [i for w in pre_tokenize(normalize(text)) for i in self.word_ids(w)]

    def encode(self, text: str, max_len: int) -> list[int]:
        """[CLS] text [SEP], truncated to max_len tokens like transformers' truncation=True."""
        if max_len < 2:
            raise ValueError(f"max_len {max_len} leaves no room for [CLS] and [SEP]")
        return [self.cls] + self.tokenize(text)[: max_len - 2] + [self.sep]

    def encode_pair(self, text: str, text_pair: str, max_len: int) -> tuple[list[int], int]:
        """[CLS] a [SEP] b [SEP] truncated to max_len tokens, and n_first (the tokens of
        [CLS] a [SEP]); truncation as transformers' 'longest_first' (pair_lengths)."""
        if max_len < 3:
            raise ValueError(f"max_len {max_len} leaves no room for [CLS] and two [SEP]")
        a, b = self.tokenize(text), self.tokenize(text_pair)
        na, nb = pair_lengths(len(a), len(b), max_len - 3)
        first = [self.cls] + a[:na] + [self.sep]
        return first + b[:nb] + [self.sep], len(first)


def pair_lengths(n1: int, n2: int, room: int) -> tuple[int, int]:
    """Tokens kept of each side of a pair with `room` tokens for both: the rule of the
    tokenizers library's LongestFirst truncation (the shorter side keeps what it can, up to
    half; an odd token goes to the longer side, or to the second when they tie)."""
    if n1 + n2 <= room:
        return n1, n2
    swap = n1 > n2
    lo, hi = (n2, n1) if swap else (n1, n2)
    hi = lo if lo > room else max(lo, room - lo)
    if lo + hi > room:
        lo = room // 2
        hi = lo + room % 2
    return (hi, lo) if swap else (lo, hi)
