# SPDX-License-Identifier: Apache-2.0
"""Golden token ids for the C tokenizer's on-device test (tests/tokenizer), from the Python
reference (mcubert.text.wordpiece) with a model file's own vocabulary.

    python -m mcubert.targets.tokenizer_golden --model M.mcubert --out golden.h [--seed S] [--random N]

The header holds a fixed list of hand-picked cases (plain English, accents, CJK, emoji, control
and zero-width characters, invalid UTF-8, long inputs that truncate, pairs) and N seeded random
ones, each with its max_ids, the expected status (MCUBERT_OK or MCUBERT_TOKENIZE_TRUNCATED), the
ids and, for a pair, n_first. Text is written as C string literals with octal escapes, so the
invalid bytes reach the tokenizer as they are. tests/tokenizer/src/golden_check.c checks them;
python/tests/test_tokenizer_golden.py runs that check on the host.
"""
from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SEED = 1717
DEFAULT_RANDOM = 240


@dataclass
class Case:
    a: bytes
    b: bytes | None
    max_ids: int
    note: str = ""


# Hand-picked: (text, max_ids) or ((a, b), max_ids). Bytes are sent as they are (invalid UTF-8).
_LONG = "the quick brown fox jumps over the lazy dog, " * 12
FIXED: list[tuple[object, int, str]] = [
    ("", 16, "empty"),
    ("hello world", 16, "plain"),
    ("A gripping, beautifully acted film that stays with you long after the credits roll.", 128, "plain"),
    ("The plot is a mess -- and the dialogue made me cringe from start to finish!", 128, "punctuation"),
    ("don't won't it's 'quoted' \"double\" (paren) [bracket] {brace} <angle>", 128, "ascii punctuation"),
    ("$100 @home #tag 50% a&b x*y 1+1=2 a/b a\\b a|b ~tilde ^caret `tick` _under_", 128, "ascii symbols"),
    ("UPPER lower MiXeD CaSe", 32, "case"),
    ("unbelievably unaffordable antidisestablishmentarianism", 64, "wordpieces"),
    ("naïve café résumé über Ångström façade jalapeño", 64, "accents"),
    ("Ἀθῆναι ΑΣ Σίσυφος ΌΣΟΣ", 64, "greek, final sigma"),
    ("Привет, мир! ёлка Ёж", 64, "cyrillic"),
    ("東京は日本の首都です。中文字符测试", 64, "cjk"),
    ("한국어 텍스트 테스트", 64, "hangul"),
    ("ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３", 64, "fullwidth"),
    ("emoji 😀 👍🏽 ❤️ 🇫🇷 👨‍👩‍👧", 64, "emoji"),
    ("tab\tnew\nline\rreturn\x0bvt\x0cff", 32, "whitespace controls"),
    ("bell\x07 nul\x00 esc\x1b del\x7f c1\x85\x9f", 32, "controls"),
    ("zero\u200bwidth\u200cjoin\u200dmark\ufeffbom\u2060wj", 32, "zero-width"),
    ("soft\u00adhyphen rtl\u202eoverride\u202c", 32, "format characters"),
    ("line\u2028sep\u2029para\u00a0nbsp\u3000ideo\u2003em", 32, "unicode spaces"),
    ("“curly” ‘quotes’ — dash … ellipsis «guillemets» ¡hola! ¿qué?", 64, "unicode punctuation"),
    ("ﬁ ligature ß straße ǅ İstanbul K Ω", 64, "case specials"),
    ("e\u0301 a\u0308 n\u0303 combining", 32, "combining marks"),
    ("\U00020000 \U0002a700 \U0002b740 \U0002f800 \U000e0001 \U0010ffff", 32, "astral"),
    ("[CLS] [SEP] [UNK] [MASK] typed as text", 32, "special token text"),
    (b"ab\xffcd \xe2\x82x \xf0\x9f\x98!", 16, "invalid utf-8"),
    (b"\xc0\x80 overlong \xe0\x80\x80 \xed\xa0\x80 surrogate \xf4\x90\x80\x80 big", 32, "invalid utf-8"),
    (b"\x80\x81\xbf stray \xf5\xff\xfe end \xc3", 32, "invalid utf-8"),
    (b"caf\xc3\xa9 caf\xc3 caf\xe9", 32, "invalid utf-8"),
    ("x" * 101 + " " + "y" * 100, 16, "word over 100 characters"),
    ("supercalifragilisticexpialidocious " * 3, 8, "truncated"),
    (_LONG, 128, "truncated at 128"),
    (_LONG, 2, "max_ids 2"),
    (_LONG, 3, "max_ids 3"),
    ("one two", 4, "exactly fits"),
    ("one two three", 4, "one over"),
    (("how old are you?", "what is your age?"), 32, "pair"),
    (("", "only the second"), 16, "pair, empty first"),
    (("only the first", ""), 16, "pair, empty second"),
    ((_LONG, "short question"), 24, "pair, long first"),
    (("short", _LONG), 24, "pair, long second"),
    ((_LONG, _LONG), 25, "pair, both long, odd room"),
    (("a b c", "d e f"), 3, "pair, max_ids 3"),
    (("naïve 東京", b"bad \xff utf-8 \xe2\x82"), 32, "pair, unicode"),
]

# Random text: characters drawn from these pools (as python/tests/test_tokenizer_c.py does).
_POOLS = [
    lambda r: r.randrange(0x20, 0x7F),
    lambda r: r.choice([0x20, 0x20, 0x09, 0x0A, 0x0D, 0xA0, 0x3000, 0x2028]),
    lambda r: r.randrange(0xC0, 0x250),
    lambda r: r.randrange(0x370, 0x530),
    lambda r: r.randrange(0x300, 0x370),
    lambda r: r.randrange(0x4E00, 0x9FFF),
    lambda r: r.randrange(0xAC00, 0xD7A4),
    lambda r: r.randrange(0x3040, 0x3100),
    lambda r: r.randrange(0x1F300, 0x1FAFF),
    lambda r: r.randrange(0x2000, 0x2070),
    lambda r: r.choice([0x00, 0x07, 0x1B, 0x7F, 0x85, 0x200B, 0x200D, 0xFEFF, 0xAD, 0xE000, 0xFFFD]),
    lambda r: r.randrange(0xFF00, 0xFFF0),
]
_WORDS = ("the film movie great bad plot acting not really very good worst best story "
          "characters fun boring beautiful music ending").split()
_BAD = [b"\xff", b"\xc0\x80", b"\xe0\x80\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xf5", b"\xe2\x82",
        b"\xf0\x9f\x98", b"\xc3", b"\x80", b"\xbf"]
_MAX_IDS = [2, 3, 5, 8, 16, 32, 64, 128]


def _random_text(r: random.Random) -> bytes:
    parts: list[str] = []
    for _ in range(r.randint(1, 24)):
        if r.random() < 0.4:
            parts.append(r.choice(_WORDS) + r.choice(["", " ", " ", ", ", "! "]))
        else:
            cp = r.choice(_POOLS)(r)
            parts.append(chr(0xFFFD if 0xD800 <= cp <= 0xDFFF else cp))
    raw = bytearray("".join(parts).encode())
    if r.random() < 0.25:                      # invalid UTF-8 inserted
        for _ in range(r.randint(1, 3)):
            i = r.randrange(len(raw) + 1)
            raw[i:i] = r.choice(_BAD)
    return bytes(raw)


def _b(x) -> bytes:
    return x if isinstance(x, bytes) else x.encode()


def cases(seed: int = DEFAULT_SEED, n_random: int = DEFAULT_RANDOM) -> list[Case]:
    out = []
    for text, max_ids, note in FIXED:
        if isinstance(text, tuple):
            out.append(Case(_b(text[0]), _b(text[1]), max_ids, note))
        else:
            out.append(Case(_b(text), None, max_ids, note))
    r = random.Random(seed)
    for i in range(n_random):
        if i % 6 == 5:
            out.append(Case(_random_text(r), _random_text(r), r.choice(_MAX_IDS[1:]), "random pair"))
        else:
            out.append(Case(_random_text(r), None, r.choice(_MAX_IDS), "random"))
    return out


@dataclass
class Golden:
    case: Case
    ids: list[int]
    n_first: int
    truncated: bool


def expected(wp, c: Case) -> Golden:
    """The Python reference: bytes decoded as bytes.decode(errors="replace") (the C tokenizer
    then drops U+FFFD), then WordPiece.encode / encode_pair."""
    a = c.a.decode("utf-8", "replace")
    if c.b is None:
        ids = wp.encode(a, c.max_ids)
        return Golden(c, ids, len(ids), len(wp.tokenize(a)) > c.max_ids - 2)
    b = c.b.decode("utf-8", "replace")
    ids, n_first = wp.encode_pair(a, b, c.max_ids)
    return Golden(c, ids, n_first, len(wp.tokenize(a)) + len(wp.tokenize(b)) > c.max_ids - 3)


def c_bytes(data: bytes, width: int = 72) -> str:
    """A C string literal (split over lines) holding exactly these bytes: printable ASCII as
    itself, everything else as a three-digit octal escape (never ambiguous with what follows)."""
    pieces, cur = [], ""
    for byte in data:
        ch = chr(byte)
        if ch in '"\\?':
            s = "\\" + ch
        elif 0x20 <= byte < 0x7F:
            s = ch
        else:
            s = f"\\{byte:03o}"
        if len(cur) + len(s) > width:
            pieces.append(cur)
            cur = ""
        cur += s
    pieces.append(cur)
    return "\n\t  ".join(f'"{p}"' for p in pieces)


def render(goldens: list[Golden], model_name: str, vocab_size: int, seed: int, n_random: int) -> str:
    ids_flat: list[int] = []
    lines = [
        "/*",
        " * SPDX-License-Identifier: Apache-2.0",
        " *",
        f" * Generated by `python -m mcubert.targets.tokenizer_golden` from {model_name} ({vocab_size} tokens),",
        f" * seed {seed}, {n_random} random cases: do not edit. Expected ids from the Python reference",
        " * (mcubert.text.wordpiece). Checked by tests/tokenizer/src/golden_check.c.",
        " */",
        "#ifndef MCUBERT_TOKENIZER_GOLDEN_H_",
        "#define MCUBERT_TOKENIZER_GOLDEN_H_",
        "",
        '#include "golden_check.h"',
        "",
    ]
    entries = []
    for i, g in enumerate(goldens):
        c = g.case
        lines.append(f"/* {i}: {c.note} */")
        lines.append(f"static const char golden_a_{i}[] = {c_bytes(c.a)};")
        if c.b is not None:
            lines.append(f"static const char golden_b_{i}[] = {c_bytes(c.b)};")
        entries.append(
            f"\t{{golden_a_{i}, {len(c.a)}u, {f'golden_b_{i}' if c.b is not None else 'NULL'}, "
            f"{len(c.b) if c.b is not None else 0}u, {1 if c.b is not None else 0}u, {c.max_ids}u, "
            f"{1 if g.truncated else 0}u, {len(g.ids)}u, {g.n_first}u, {len(ids_flat)}u}},")
        ids_flat += g.ids
    lines.append("")
    lines.append(f"#define GOLDEN_NUM_CASES {len(goldens)}u")
    lines.append(f"#define GOLDEN_NUM_IDS {len(ids_flat)}u")
    lines.append(f"#define GOLDEN_MAX_IDS {max(c.case.max_ids for c in goldens)}u")
    lines.append(f"#define GOLDEN_VOCAB_TOKENS {vocab_size}u")
    lines.append("")
    lines.append("static const uint16_t golden_ids[GOLDEN_NUM_IDS] = {")
    for k in range(0, len(ids_flat), 12):
        lines.append("\t" + " ".join(f"{v}," for v in ids_flat[k:k + 12]))
    lines.append("};")
    lines.append("")
    lines.append("static const struct golden_case golden_cases[GOLDEN_NUM_CASES] = {")
    lines += entries
    lines.append("};")
    lines.append("")
    lines.append("#endif /* MCUBERT_TOKENIZER_GOLDEN_H_ */")
    return "\n".join(lines) + "\n"


def generate(model: str | Path, seed: int = DEFAULT_SEED, n_random: int = DEFAULT_RANDOM) -> str:
    from ..int8 import modelfile
    from ..text.wordpiece import WordPiece

    qm = modelfile.load(model)
    if not qm.vocab:
        raise ValueError(f"{model}: the model file has no vocabulary")
    wp = WordPiece(qm.vocab)
    goldens = [expected(wp, c) for c in cases(seed, n_random)]
    return render(goldens, Path(model).name, len(qm.vocab), seed, n_random)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mcubert.targets.tokenizer_golden", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a .mcubert model file with a vocabulary")
    ap.add_argument("--out", required=True, help="the header to write")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--random", type=int, default=DEFAULT_RANDOM, help="random cases beside the fixed ones")
    a = ap.parse_args(argv)
    try:
        text = generate(a.model, a.seed, a.random)
    except (ValueError, FileNotFoundError) as e:
        print(f"mcubert: {e}", file=sys.stderr)
        return 1
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.is_file() or out.read_text() != text:    # unchanged: keep the timestamp
        out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
