# SPDX-License-Identifier: Apache-2.0
"""The C tokenizer (src/mcubert_tokenize.c) gives the ids of the Python reference
(mcubert.text.wordpiece) and of transformers' BertTokenizer, on real text, random Unicode,
invalid UTF-8 and inputs longer than the token limit; the blob and the API refuse bad input
with their error codes."""
from __future__ import annotations

import random
import struct
import unicodedata
from pathlib import Path

import pytest

from mcubert.export import tokenizer_blob as tb
from mcubert.targets import host
from mcubert.targets.tokenizer_c import TRUNCATED, CTokenizer, run_tok_runner, tok_runner
from mcubert.text.vocab import bert_uncased_tokenizer, encode, encode_pair
from mcubert.text.wordpiece import WordPiece

E = host.ERR
HERE = Path(__file__).parent


def _divergent() -> frozenset[int]:
    out = set()
    for line in (HERE / "tokenizer_divergence.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            a, _, b = line.partition("..")
            out.update(range(int(a, 16), int(b or a, 16) + 1))
    return frozenset(out)


DIVERGENT = _divergent()


@pytest.fixture(scope="module")
def toks():
    tok = bert_uncased_tokenizer()
    vocab = [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
    c = CTokenizer(vocab)
    assert c.status == E["MCUBERT_OK"]
    return tok, WordPiece(vocab), c, vocab


def _hf(tok, texts: list[str], max_len: int) -> list[list[int]]:
    return tok(texts, truncation=True, max_length=max_len)["input_ids"]


def _check(toks, texts: list[str], max_len: int, excuse: bool = False) -> int:
    """C == Python on every text; == transformers too, bar texts holding a documented
    divergent code point when `excuse`. Returns how many texts were excused."""
    tok, wp, c, _ = toks
    excused = 0
    for t, hf in zip(texts, _hf(tok, texts, max_len)):
        ref = wp.encode(t, max_len)
        assert c.encode(t, max_len) == ref, repr(t)
        if hf != ref:
            assert excuse and any(ord(ch) in DIVERGENT for ch in t), repr(t)
            excused += 1
    return excused


# ---------------------------------------------------------------- generated tables

def test_unicode_tables_regenerate_identically():
    assert tb.render_unicode_tables() == tb.TABLES_C.read_text()


def test_unicode_version_matches_python(toks):
    assert toks[2].unicode_version() == tb.unicode_version_word()
    assert tb.TABLES_C.read_text().count(f"Unicode {unicodedata.unidata_version}") == 1


# ---------------------------------------------------------------- real text

def test_rotten_tomatoes_sentences(toks):
    from mcubert.data import corpus

    texts = [e.text for split in corpus.load().values() for e in split]
    assert len(texts) > 10000
    _check(toks, texts, 512)
    _check(toks, texts[:2000], 16)      # truncated


@pytest.mark.parametrize("name", ["tweets", "bbc-news"])
def test_dataset_texts(toks, name):
    from mcubert.data import datasets

    texts = [x for split in datasets.load(name).splits.values() for e in split
             for x in (e.text, e.text_pair) if x is not None]
    assert texts
    _check(toks, texts, 512)
    if name == "bbc-news":
        assert max(len(toks[1].tokenize(t)) for t in texts) > 510   # articles over the limit
        _check(toks, texts[:300], 128)


# ---------------------------------------------------------------- random Unicode

_POOLS = [
    lambda r: r.randrange(0x110000),                       # any plane
    lambda r: r.randrange(0x10000),
    lambda r: r.randrange(0x20, 0x7F),
    lambda r: r.randrange(0xC0, 0x250),                    # accented Latin
    lambda r: r.randrange(0x300, 0x370),                   # combining marks
    lambda r: r.choice([r.randrange(0x4E00, 0xA000), r.randrange(0x3400, 0x4DC0), r.randrange(0x20000, 0x2A6E0),
                        r.randrange(0xF900, 0xFB00), r.randrange(0x2B800, 0x2BA00), r.randrange(0x2F800, 0x2FA20)]),
    lambda r: r.choice([r.randrange(0x1F300, 0x1FB00), 0x200D, 0xFE0F, 0x1F3FB]),   # emoji, ZWJ, VS16, skin
    lambda r: r.choice([r.randrange(0x20), r.randrange(0x7F, 0xA0)]),              # controls
    lambda r: r.choice([0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2028, 0x2029, 0xFEFF, 0xA0, 0x1680, 0x3000,
                        0x85, 0xAD, 0x2060, r.randrange(0x2000, 0x200B), 0x20, 0x09, 0x0A, 0x0D]),
    lambda r: r.choice([r.randrange(0xAC00, 0xD7A4), r.randrange(0x1100, 0x1200)]),  # Hangul
    lambda r: r.randrange(0x370, 0x530),                   # Greek, Cyrillic, Armenian
    lambda r: r.choice([r.randrange(0xE000, 0xF900), r.randrange(0xF0000, 0x110000), 0xFFFD, 0, 0xFFFE]),
    lambda r: r.choice([0x130, 0x1E9E, 0x3A3, 0x2126, 0x212A, 0xFB01, 0xDF, 0x345, 0x1D15E, 0x344, 0xF73]),
]


def random_text(r: random.Random) -> str:
    out = []
    for _ in range(r.randint(1, 40)):
        cp = r.choice(_POOLS)(r)
        if 0xD800 <= cp <= 0xDFFF:
            cp = 0xFFFD
        out.append(chr(cp))
    return "".join(out)


def test_random_unicode_20000(toks):
    r = random.Random(17)
    texts = [random_text(r) for _ in range(20000)]
    excused = _check(toks, texts, 512, excuse=True)
    assert excused < len(texts) // 100          # the divergence is rare, not the rule
    _check(toks, texts[:3000], 12, excuse=True)


def _mangle(r: random.Random, raw: bytes) -> bytes:
    bad = [bytes([r.randrange(0x80, 0x100)]), b"\xc0\x80", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
           b"\xf5", b"\xff", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc3", b"\xf0\x80", bytes([r.randrange(0xC2, 0xF5)])]
    out = bytearray(raw)
    for _ in range(r.randint(1, 4)):
        i = r.randrange(len(out) + 1)
        out[i:i] = r.choice(bad)
    return bytes(out)


def test_invalid_utf8_is_replaced_and_dropped(toks):
    """Each invalid sequence is what bytes.decode(errors="replace") makes U+FFFD, then dropped."""
    tok, wp, c, _ = toks
    r = random.Random(3)
    raws = [_mangle(r, random_text(r).encode()) for _ in range(5000)]
    texts = [x.decode("utf-8", "replace") for x in raws]
    hfs = _hf(tok, texts, 64)
    for raw, t, hf in zip(raws, texts, hfs):
        ref = wp.encode(t, 64)
        assert c.encode(raw, 64) == ref, raw
        assert hf == ref or any(ord(ch) in DIVERGENT for ch in t), raw
    # a bad byte never swallows the character after it, and never splits a word
    assert c.encode(b"ab\xffcd \xe2\x82x \xf0\x9f\x98!", 16) == wp.encode("abcd x !", 16)


# ---------------------------------------------------------------- lengths and pairs

@pytest.mark.parametrize("max_len", [2, 3, 7, 8, 9, 128])
def test_truncation_status(toks, max_len):
    tok, wp, c, _ = toks
    text = "the quick brown fox jumps over the lazy dog " * 20
    full = len(wp.tokenize(text))
    for k in range(0, 12):
        t = " ".join(text.split()[:k])
        st, ids = c.encode_status(t, max_len)
        assert ids == wp.encode(t, max_len) == encode(tok, t, max_len)
        assert st == (TRUNCATED if len(wp.tokenize(t)) > max_len - 2 else E["MCUBERT_OK"]), (t, max_len)
    assert full > max_len


def test_pairs_longest_first(toks):
    from mcubert.data import corpus

    tok, wp, c, _ = toks
    texts = [e.text for e in corpus.load()["test"]][:400]
    r = random.Random(11)
    for i in range(600):
        a, b = r.choice(texts), r.choice(texts + [""])
        if i % 5 == 0:
            a = a * r.randint(2, 6)
        L = r.choice([3, 4, 5, 8, 16, 33, 64, 512])
        st, ids, nf = c.encode_pair_status(a, b, L)
        ref, ref_nf = wp.encode_pair(a, b, L)
        assert (ids, nf) == (ref, ref_nf), (a, b, L)
        if L >= 5:
            assert (ids, nf) == encode_pair(tok, a, b, L), (a, b, L)
        cut = len(wp.tokenize(a)) + len(wp.tokenize(b)) > L - 3
        assert st == (TRUNCATED if cut else E["MCUBERT_OK"])


# ---------------------------------------------------------------- deliberate choices

def test_special_token_text_is_plain_text(toks):
    """transformers matches "[SEP]" typed in the text as the special token; the device does
    not: text from a UART must not inject control tokens (docs/tokenizer.md)."""
    tok, wp, c, _ = toks
    t = "a [SEP] b [CLS]"
    assert c.encode(t, 32) == wp.encode(t, 32)
    assert encode(tok, t, 32) != c.encode(t, 32)
    assert 102 not in c.encode(t, 32)[1:-1] and 101 not in c.encode(t, 32)[1:]


def test_no_reordering_of_spacing_marks_with_combining_class(toks):
    """NFD reorders combining marks by class; the C tables work per code point, so the 25
    non-Mn marks with a combining class (e.g. U+1D16D, U+1D165) keep their order (docs)."""
    tok, wp, c, _ = toks
    t = "x\U0001D16D\U0001D165"
    assert unicodedata.normalize("NFD", t) != t
    assert c.encode(t, 16) == [101, *wp.word_ids("x\U0001D16D\U0001D165"), 102]


def test_divergent_code_points_listed_are_unassigned_to_transformers(toks):
    tok, wp, c, _ = toks
    sample = sorted(DIVERGENT)[::7]
    texts = [f"a{chr(cp)}b" for cp in sample]
    for cp, t, hf in zip(sample, texts, _hf(tok, texts, 16)):
        assert c.encode(t, 16) == wp.encode(t, 16)
        assert hf != wp.encode(t, 16), hex(cp)
        assert unicodedata.category(chr(cp))[0] in "MPCS", hex(cp)   # marks, punctuation, format, symbol


@pytest.mark.slow
def test_divergence_list_is_exact(toks):
    """Every code point, between two letters: transformers and the C tokenizer differ exactly
    on the listed ones."""
    tok, wp, c, _ = toks
    cps = [i for i in range(0x110000) if not 0xD800 <= i <= 0xDFFF]
    texts = [f"a{chr(i)}b" for i in cps]
    found = set()
    for k in range(0, len(texts), 100000):
        for cp, t, hf in zip(cps[k:k + 100000], texts[k:k + 100000], _hf(tok, texts[k:k + 100000], 16)):
            if hf != c.encode(t, 16):
                found.add(cp)
    assert found == DIVERGENT


# ---------------------------------------------------------------- the blob and errors

def test_flash_budget(toks):
    """bert-base-uncased: vocabulary blob plus Unicode tables within the issue's 110,000 B
    (docs/tokenizer.md reports the split)."""
    split = {}
    blob = tb.vocab_blob(toks[3], split=split)
    assert blob == toks[2].blob and split["total"] == len(blob)
    assert sum(v for k, v in split.items() if k not in ("total", "entries", "map_records")) == len(blob)
    assert len(blob) + tb.tables_flash_bytes() <= 110_000
    assert struct.unpack_from("<I", blob, 16)[0] == 30522


TABLE0 = tb.HEADER_SIZE          # descriptor words: entries, shift, blocks, index, data, data length,
                                 # id offset, id bits, id base, model, longest


def _desc(b, k: int, field: int) -> int:
    return struct.unpack_from("<I", b, TABLE0 + 4 * (tb.TABLE_WORDS * k + field))[0]


def _set_desc(b, k: int, field: int, value: int) -> None:
    struct.pack_into("<I", b, TABLE0 + 4 * (tb.TABLE_WORDS * k + field), value)


def _bad_blob(blob: bytes, case: str) -> bytes:
    b = bytearray(blob)
    if case == "short":
        return bytes(b[:40])
    if case == "truncated":
        return bytes(b[:-4])
    if case == "magic":
        b[0] ^= 1
        return bytes(b)
    if case == "crc":
        b[-7] ^= 0x40
        return bytes(b)
    if case == "version":
        struct.pack_into("<I", b, 4, 1)
    elif case == "unicode":
        struct.pack_into("<I", b, 32, 0x0D0000)
    elif case == "special_id":
        struct.pack_into("<I", b, 20, 30522)
    elif case == "token_id":            # the first explicit id of table 0 set to all ones (>= 30522)
        o = _desc(b, 0, 6)
        struct.pack_into("<H", b, o, struct.unpack_from("<H", b, o)[0] | 0x7FFF)
    elif case == "implicit_ids":        # table 2's implicit ids run past the vocabulary
        _set_desc(b, 2, 8, 30522 - _desc(b, 2, 0) + 1)
    elif case == "index":
        o = _desc(b, 0, 3) + 3
        b[o] ^= 1
    elif case == "longest":
        _set_desc(b, 0, 10, 256)
    elif case == "shorter_longest":     # a token longer than the table says
        _set_desc(b, 0, 10, _desc(b, 0, 10) - 1)
    elif case == "blocks":
        _set_desc(b, 1, 2, _desc(b, 1, 2) + 1)
    elif case == "stream":              # a flipped bit in the token text: unsorted, a bad code, or out of step
        o = _desc(b, 0, 4) + 100
        b[o] ^= 0x10
    elif case == "data_length":
        _set_desc(b, 1, 5, _desc(b, 1, 5) - 1)
    elif case == "code":                # a Huffman code with more codes of length 1 than exist
        m = _desc(b, 0, 9)
        o = m + struct.unpack_from("<H", b, m)[0]
        b[o + 1] = 3
    elif case == "context_map":
        b[struct.unpack_from("<I", b, 52)[0] + 97] = 200
    elif case == "map_order":           # two map records swapped
        m = struct.unpack_from("<I", b, 36)[0]
        b[m:m + 16] = b[m + 8:m + 16] + b[m:m + 8]
    elif case == "map_seq":             # a sequence record pointing past the sequences
        m, n = struct.unpack_from("<II", b, 36)
        for i in range(n):
            a = struct.unpack_from("<I", b, m + 8 * i)[0]
            if (a >> 21) & 3 == tb.OP_SEQ:
                struct.pack_into("<I", b, m + 8 * i + 4, 1 << 20)
                break
        else:
            raise AssertionError("no sequence record")
    elif case == "map_range":           # a constant above U+10FFFF
        m, n = struct.unpack_from("<II", b, 36)
        for i in range(n):
            if (struct.unpack_from("<I", b, m + 8 * i)[0] >> 21) & 3 == tb.OP_CONST:
                struct.pack_into("<I", b, m + 8 * i + 4, 0x110000)
                break
    else:
        raise AssertionError(case)
    return tb.fix_crc(bytes(b))


BAD_BLOBS = [
    ("short", "MCUBERT_ERR_TRUNCATED"), ("truncated", "MCUBERT_ERR_TRUNCATED"), ("magic", "MCUBERT_ERR_MAGIC"),
    ("version", "MCUBERT_ERR_VERSION"), ("unicode", "MCUBERT_ERR_VERSION"), ("crc", "MCUBERT_ERR_CRC"),
    *((c, "MCUBERT_ERR_LAYOUT") for c in (
        "special_id", "token_id", "implicit_ids", "index", "longest", "shorter_longest", "blocks", "stream",
        "data_length", "code", "context_map", "map_order", "map_seq", "map_range")),
]


@pytest.mark.parametrize("case,code", BAD_BLOBS)
def test_bad_blob_refused(toks, case, code):
    assert CTokenizer(_bad_blob(toks[2].blob, case)).status == E[code]


def test_api_errors(toks):
    tok, wp, c, vocab = toks
    assert CTokenizer(c.blob, scratch_len=c.lib.mcubert_tokenize_buffer_size() - 1).status == E["MCUBERT_ERR_SCRATCH"]
    assert c.encode_status("x", 1)[0] == E["MCUBERT_ERR_MAX_IDS"]
    assert c.encode_pair_status("x", "y", 2)[0] == E["MCUBERT_ERR_MAX_IDS"]
    dead = CTokenizer(_bad_blob(c.blob, "magic"))             # a failed init leaves it unusable
    assert dead.encode_status("x", 8)[0] == E["MCUBERT_ERR_ARG"]
    assert c.lib.mcubert_tokenize(c._vocab, None, 3, None, 8, None) == E["MCUBERT_ERR_ARG"]
    assert c.encode_status(b"", 8) == (E["MCUBERT_OK"], [101, 102])
    for err in (E["MCUBERT_ERR_MAX_IDS"], E["MCUBERT_ERR_SCRATCH"], TRUNCATED):
        assert host.strerror(err) != "unknown error"


def test_vocab_blob_refuses_bad_vocabularies():
    with pytest.raises(ValueError, match=r"no \[SEP\]"):
        tb.vocab_blob(["[UNK]", "[CLS]", "a"])
    with pytest.raises(ValueError, match="duplicate"):
        tb.vocab_blob(["[UNK]", "[CLS]", "[SEP]", "a", "a"])


def test_other_vocabulary_random_text(toks):
    """The map holds only what matters to the vocabulary at hand: on a vocabulary with another
    alphabet (a sample of bert-base-uncased plus accented letters, Greek and CJK that the
    normaliser never outputs, which are left out), C still equals the Python reference."""
    _, _, _, vocab = toks
    r = random.Random(5)
    extra = ["é", "##é", "Σ", "σ", "##σ", "ß", "ss", "##ss", "ǆ", "dž", "ı", "i", "##i", "æ", "ø", "ﬁ", "fi",
             "中", "##中", "中国", "ᄀ", "##ᅡ", "!", "##!", "ab!", "a b"]
    small = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + sorted(set(r.sample(vocab[1000:], 3000)) - set(extra)) + extra
    c, ref = CTokenizer(small), WordPiece(small)
    assert c.status == E["MCUBERT_OK"]
    texts = [random_text(r) for _ in range(3000)]
    texts += ["ÉCOLE éé ǅungla ǄA ΣΑΣ ß ẞ İstanbul ﬁsh ＡＢ 中国人 한국어 Ωmega ǈ", "DŽ dž Ǆ"]
    for t in texts:
        assert c.encode(t, 64) == ref.encode(t, 64), ascii(t)


def test_small_vocabulary(toks):
    """A vocabulary of a few tokens: [UNK] for the unknown, ## pieces, punctuation."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "!", "aff", "##!"]
    c, wp = CTokenizer(vocab), WordPiece(vocab)
    for t in ["unaffable!", "aff un", "affable", "x!", "!!", "UNAFF", ""]:
        assert c.encode(t, 16) == wp.encode(t, 16), t


# ---------------------------------------------------------------- sanitizers

def _items(r: random.Random, n: int) -> list[tuple[bytes, bytes | None, int]]:
    items = []
    for i in range(n):
        a = random_text(r).encode()
        if i % 3 == 0:
            a = _mangle(r, a)
        b = random_text(r).encode() if i % 4 == 0 else None
        items.append((a * (1 + i % 7), b, r.choice([2, 3, 5, 16, 128])))
    return items


@pytest.mark.slow
def test_sanitized_runner_matches_python(toks):
    """The batch runner under ASan/UBSan, on random text, invalid UTF-8 and pairs."""
    tok, wp, c, _ = toks
    r = random.Random(23)
    items = _items(r, 1500)
    got = run_tok_runner(tok_runner("host", "sanitize"), c.blob, items)
    for (a, b, L), (st, ids, nf) in zip(items, got):
        ta = a.decode("utf-8", "replace")
        if b is None:
            assert ids == (wp.encode(ta, L) if L >= 2 else []), a
        else:
            ref = wp.encode_pair(ta, b.decode("utf-8", "replace"), L) if L >= 3 else ([], 0)
            assert (ids, nf) == ref, (a, b, L)


# ---------------------------------------------------------------- mcubert tokenize

SHIPPED = Path(__file__).resolve().parents[2] / "samples" / "bert_classify" / "model" / "sentiment_tiny.mcubert"


def test_cli_engines_agree_with_transformers(toks, tmp_path, capsys):
    from mcubert.cli import main

    tok = toks[0]
    lines = ["A fine, funny film.", "naïve café 東京 ΑΣ", "", "the " * 200, "😀 x\u200by"]
    f = tmp_path / "some.txt"
    f.write_bytes(("\n".join(lines) + "\n").encode().replace(b"film", b"fi\xfflm"))
    outs = {}
    for engine in ("c", "python"):
        assert main(["tokenize", str(SHIPPED), "--file", str(f), "--engine", engine, "--max-seq-len", "64"]) == 0
        outs[engine] = capsys.readouterr().out
    assert outs["c"] == outs["python"]
    texts = [t.replace("film", "fi\ufffdlm") for t in lines]
    assert outs["c"].splitlines() == [",".join(map(str, ids)) for ids in _hf(tok, texts, 64)]
    assert main(["tokenize", str(SHIPPED), "--text", "two\nlines"]) == 0
    assert capsys.readouterr().out == "101,2048,102\n101,3210,102\n"


@pytest.mark.parametrize("args,msg", [
    (["--text", "x", "--max-seq-len", "1"], "no room for [CLS] and [SEP]"),
    (["--file", "/no/such.txt"], "no such file"),
    (["--text", "x", "--engine", "rust"], "invalid choice"),
    ([], "one of the arguments --text --file is required"),
])
def test_cli_errors(args, msg, capsys):
    from mcubert.cli import main

    assert main(["tokenize", str(SHIPPED), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert msg in err[-1] and err[-1].startswith(("error: ", "mcubert tokenize: error: "))


def test_cli_model_without_vocabulary(small_qm, tmp_path, capsys):
    from mcubert.cli import main
    from mcubert.int8 import modelfile

    assert not small_qm.vocab
    p = tmp_path / "novocab.mcubert"
    modelfile.save(small_qm, p)
    assert main(["tokenize", str(p), "--text", "x"]) == 2
    assert capsys.readouterr().err.strip() == "error: this model file has no vocabulary to tokenize with"


# ---------------------------------------------------------------- emulated cores

BERT_TINY_128_M7 = 57_951_920   # instructions of one bert-tiny classification at 128 tokens (docs/results.md)


@pytest.mark.slow
@pytest.mark.parametrize("core", ["cortex-m7", "cortex-m3"])
def test_emulated_core_matches_python(toks, core):
    """A subset on QEMU: Rotten Tomatoes sentences, random text, invalid UTF-8 and pairs;
    a sentence costs well under 2 % of a bert-tiny classification."""
    import os

    missing = host.cross_tools_missing()
    if missing and not os.environ.get("MCUBERT_REQUIRE_QEMU"):
        pytest.skip(f"no {', '.join(missing)}")
    from mcubert.data import corpus

    tok, wp, c, _ = toks
    sentences = [e.text for e in corpus.load()["test"]][:300]
    items = [(t.encode(), None, 128) for t in sentences] + _items(random.Random(29), 300)
    (got, spent, init) = run_tok_runner(tok_runner(core), c.blob, items, counts=True)
    for (a, b, L), (st, ids, nf) in zip(items, got):
        ta = a.decode("utf-8", "replace")
        if b is None:
            assert ids == (wp.encode(ta, L) if L >= 2 else []), a
        else:
            assert (ids, nf) == (wp.encode_pair(ta, b.decode("utf-8", "replace"), L) if L >= 3 else ([], 0))
    per_sentence = spent[:len(sentences)]
    assert 0 < max(per_sentence) < 0.02 * BERT_TINY_128_M7
    assert init > 0


# ---------------------------------------------------------------- libFuzzer

@pytest.mark.slow
def test_fuzz_target_and_corpus_against_python(toks, tmp_path):
    """tests/fuzz/fuzz_tokenize.c for MCUBERT_FUZZ_RUNS inputs (default 1500; a count, not a time,
    so that a loaded machine does not fail it) from seeds, then every text of the grown corpus
    through the C tokenizer (ctypes) against wordpiece.py."""
    import os
    import re
    import shutil
    import subprocess

    if shutil.which("clang") is None:
        pytest.skip("clang is not installed (the libFuzzer target needs it)")
    tok, wp, c, _ = toks
    exe = host.build("fuzz") / "mcubert_fuzz_tokenize"
    (tmp_path / "vocab.bin").write_bytes(c.blob)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    r = random.Random(31)
    seeds = [b"\x00\x40" + s.encode() for s in ["A naïve café!", "東京 ΑΣ 😀", "x" * 300]]
    seeds += [b"\x00" + bytes([r.choice([0, 1, 2, 3, 8, 128])]) + _mangle(r, random_text(r).encode())
              for _ in range(40)]
    seeds += [b"\x01\x05\x04only one side", b"\x01\x02\x00", b"\x02" + struct.pack("<IB", 40, 1)]
    for i, s in enumerate(seeds):
        (corpus / f"seed{i}").write_bytes(s)
    want = int(os.environ.get("MCUBERT_FUZZ_RUNS", "1500"))
    res = subprocess.run([str(exe), str(corpus), f"-runs={want}", "-max_len=600", "-timeout=10",
                          "-rss_limit_mb=4096"],
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, "MCUBERT_FUZZ_VOCAB": str(tmp_path / "vocab.bin")})
    assert res.returncode == 0, res.stderr[-3000:]
    runs = re.findall(r"Done (\d+) runs", res.stderr)
    assert runs and int(runs[-1]) >= want, res.stderr[-2000:]
    checked = 0
    for f in corpus.iterdir():
        data = f.read_bytes()
        if len(data) < 2 or data[0] & 3 != 0 or data[1] < 2:
            continue
        text = data[2:]
        assert c.encode(text, data[1]) == wp.encode(text.decode("utf-8", "replace"), data[1]), data
        checked += 1
    assert checked >= 40


# ---------------------------------------------------------------- generated C source

TOKENIZE_MAIN_C = r"""
#include <stdio.h>
#include <string.h>
#include "sentiment_tiny_vocab.h"

int main(int argc, char **argv)
{
	static struct mcubert_vocab v;
	static uint8_t scratch[MCUBERT_TOKENIZE_BUFFER_SIZE];
	uint16_t ids[64];
	size_t n;
	int err = mcubert_vocab_init(&v, sentiment_tiny_vocab, sizeof(sentiment_tiny_vocab), scratch,
				     sizeof(scratch));

	if (err != MCUBERT_OK) {
		printf("init %s\n", mcubert_strerror(err));
		return 1;
	}
	for (int i = 1; i < argc; i++) {
		err = mcubert_tokenize(&v, argv[i], strlen(argv[i]), ids, 64, &n);
		for (size_t k = 0; k < n; k++) {
			printf(k ? ",%u" : "%u", (unsigned)ids[k]);
		}
		printf(" %d\n", err);
	}
	return 0;
}
"""


def test_generate_tokenizer_source_compiles_and_matches(toks, tmp_path, capsys):
    """`mcubert generate --tokenizer` writes <name>_vocab.h/.c; a C program built from them and
    the runtime's sources gives the Python reference's ids."""
    import shutil
    import subprocess

    from cmake_sources import runtime_sources
    from mcubert.cli import main
    from mcubert.int8 import modelfile

    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no host C compiler")
    out = tmp_path / "gen"
    assert main(["generate", str(SHIPPED), "--max-seq-len", "64", "--out-dir", str(out), "--tokenizer"]) == 0
    assert "sentiment_tiny_vocab.c" in capsys.readouterr().out
    (tmp_path / "main.c").write_text(TOKENIZE_MAIN_C)
    exe = tmp_path / "tok"
    subprocess.run([cc, "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", f"-I{host.REPO / 'include'}", f"-I{out}",
                    str(tmp_path / "main.c"), str(out / "sentiment_tiny_vocab.c"), *runtime_sources(), "-o", str(exe)],
                   check=True)
    texts = ["A fine, funny film.", "naïve café 東京 ΑΣ", "the " * 80]
    lines = subprocess.run([str(exe), *texts], capture_output=True, text=True, check=True).stdout.splitlines()
    wp = WordPiece(modelfile.load(SHIPPED).vocab)
    assert lines == [f"{','.join(map(str, wp.encode(t, 64)))} {TRUNCATED if len(wp.tokenize(t)) > 62 else 0}"
                     for t in texts]
