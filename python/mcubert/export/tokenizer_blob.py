# SPDX-License-Identifier: Apache-2.0
"""The C tokenizer's data: the vocabulary blob and the generated Unicode tables.

Vocabulary blob (little-endian; src/mcubert_tokenize.c reads it in place, e.g. from flash):

    0  u32 magic "MCTK"         4  u32 version
    8  u32 total length        12  u32 CRC-32 (zlib's, as the model blob) of [16, total)
   16  u32 vocab size          20  u32 [UNK] id    24 u32 [CLS] id    28 u32 [SEP] id
   32  u32 Unicode version the blob was made for, (major << 16) | (minor << 8) | micro
   36  table 0: word-initial tokens;  60  table 1: "##" continuations, "##" stripped
       each: u32 entries, u32 blocks, u32 index offset, u32 data offset, u32 data length,
             u32 longest token in bytes
   84  the tables' block indexes (u32 per block: entry offset within data) and data

A table's entries are sorted by their UTF-8 bytes and front-coded in blocks of BLOCK
entries: a header byte (shared-prefix length << 4 | suffix length; 0xFF then two bytes when
either is over 14), the suffix bytes, the id as u16. A block's first entry shares nothing, so
a binary search over block starts, then a scan of one block, finds a token.

Tokens no normalised word can ever be (any holding whitespace or punctuation, bar one
punctuation character alone: "[CLS]", "[unused0]", "##.") are left out.
"""
from __future__ import annotations

import argparse
import struct
import sys
import unicodedata
from pathlib import Path

import jinja2

from ..text import wordpiece as wp
from .blob import fix_crc  # noqa: F401  (re-exported: tests patch blobs and fix the CRC)

TEMPLATE_DIR = Path(__file__).parent / "templates"
REPO = Path(__file__).resolve().parents[3]
TABLES_C = REPO / "src" / "mcubert_unicode_tables.c"

MAGIC = 0x4B54434D  # "MCTK"
VERSION = 1
HEADER_SIZE = 84
BLOCK = 16
MAX_TOKEN_BYTES = 255

# character classes of a normalised code point, and record ops (src/mcubert_tokenize.c)
LETTER, PUNCT, SPACE = 0, 1, 2
OP_DROP, OP_SPACE, OP_IDENT, OP_DELTA, OP_CONST, OP_STRIDE2, OP_SEQ, OP_HANGUL = range(8)
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3  # syllables: NFD is arithmetic (Unicode ch. 3.12)


def unicode_version() -> tuple[int, int, int]:
    major, minor, micro = (int(x) for x in unicodedata.unidata_version.split("."))
    return major, minor, micro


def unicode_version_word() -> int:
    a, b, c = unicode_version()
    return (a << 16) | (b << 8) | c


def char_class(c: str) -> int:
    if c.isspace():        # what str.split() in wordpiece.pre_tokenize splits on
        return SPACE
    return PUNCT if wp._is_punctuation(c) else LETTER


def char_rule(cp: int) -> tuple[tuple[tuple[int, int], ...], bool]:
    """What wordpiece.normalize makes of one code point: (code point, class) pairs, and whether
    it is a CJK ideograph that gets a word of its own."""
    if 0xD800 <= cp <= 0xDFFF:
        return (), False
    out, cjk = wp.normalize(chr(cp)), wp._is_cjk(cp)
    if cjk:
        out = out[1:-1]  # the padding: the cjk flag stands for it
    return tuple((ord(c), char_class(c)) for c in out), cjk


def unicode_records() -> tuple[list[tuple[int, int, int, int, int]], list[int]]:
    """Run-length records (start, op, class, cjk, value) covering 0..0x10FFFF, and the
    sequence table (length, then code point | class << 21) of OP_SEQ records."""
    recs: list[list[int]] = []
    seqs: list[int] = []
    n = 0  # code points in the last record

    def fits(r, cp, outs, cjk):
        start, op, cls, rcjk, value = r
        if cjk != rcjk:
            return False
        if op == OP_HANGUL:
            return HANGUL_FIRST <= cp <= HANGUL_LAST
        if op == OP_DROP:
            return not outs
        if op == OP_SPACE:
            return bool(outs) and all(c == SPACE for _, c in outs)
        if op == OP_SEQ or len(outs) != 1 or outs[0][1] != cls or outs[0][1] == SPACE:
            return False
        o = outs[0][0]
        if op == OP_IDENT:
            return o == cp
        if op == OP_DELTA:
            return o == cp + value
        if op == OP_CONST:
            return o == value
        return o == (cp + value if (cp - start) % 2 == 0 else cp)   # OP_STRIDE2

    for cp in range(0x110000):
        outs, cjk = char_rule(cp)
        if recs and fits(recs[-1], cp, outs, cjk):
            n += 1
            continue
        if recs and n == 1 and len(outs) == 1 and recs[-1][1] == OP_DELTA and outs[0][1] == recs[-1][2] \
                and recs[-1][3] == cjk and outs[0][1] != SPACE:
            r = recs[-1]
            if outs[0][0] == r[0] + r[4]:
                r[1], r[4] = OP_CONST, r[0] + r[4]
                n += 1
                continue
            if outs[0][0] == cp:
                r[1] = OP_STRIDE2
                n += 1
                continue
        n = 1
        if cp == HANGUL_FIRST:
            recs.append([cp, OP_HANGUL, LETTER, cjk, 0])
        elif not outs:
            recs.append([cp, OP_DROP, 0, cjk, 0])
        elif all(c == SPACE for _, c in outs):
            recs.append([cp, OP_SPACE, SPACE, cjk, 0])
        elif len(outs) == 1 and outs[0][0] == cp:
            recs.append([cp, OP_IDENT, outs[0][1], cjk, 0])
        elif len(outs) == 1:
            recs.append([cp, OP_DELTA, outs[0][1], cjk, outs[0][0] - cp])
        else:
            recs.append([cp, OP_SEQ, 0, cjk, len(seqs)])
            seqs += [len(outs), *(o | (c << 21) for o, c in outs)]
    return [tuple(r) for r in recs], seqs


def render_unicode_tables() -> str:
    recs, seqs = unicode_records()
    words = [(s | (op << 21) | (cls << 24) | (int(cjk) << 26), v & 0xFFFFFFFF) for s, op, cls, cjk, v in recs]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("mcubert_unicode_tables.c.j2").render(
        version=unicodedata.unidata_version, version_word=unicode_version_word(), python=sys.version.split()[0],
        records=words, seqs=seqs)


# ---------------------------------------------------------------- vocabulary blob

def reachable(token: str, continuation: bool) -> bool:
    """Can WordPiece ever look this token up? Pieces of words hold no whitespace or
    punctuation; a punctuation character is a word of its own."""
    classes = [char_class(c) for c in token]
    if not token or SPACE in classes:
        return False
    if PUNCT in classes:
        return not continuation and len(token) == 1
    return True


def _table(entries: list[tuple[bytes, int]]) -> tuple[bytes, bytes, int]:
    """(block index, data, longest token) of one front-coded table."""
    entries.sort()
    index, data, prev = [], bytearray(), b""
    for i, (key, tid) in enumerate(entries):
        if len(key) > MAX_TOKEN_BYTES:
            raise ValueError(f"token of {len(key)} bytes (at most {MAX_TOKEN_BYTES})")
        if i % BLOCK == 0:
            index.append(len(data))
            prev = b""
        lcp = 0
        while lcp < min(len(key), len(prev)) and key[lcp] == prev[lcp]:
            lcp += 1
        sfx = len(key) - lcp
        data += bytes([(lcp << 4) | sfx]) if lcp < 15 and sfx < 15 else bytes([0xFF, lcp, sfx])
        data += key[lcp:] + struct.pack("<H", tid)
        prev = key
    longest = max((len(k) for k, _ in entries), default=0)
    return struct.pack(f"<{len(index)}I", *index), bytes(data), longest


def vocab_blob(tokens: list[str], unk: str = "[UNK]", cls: str = "[CLS]", sep: str = "[SEP]") -> bytes:
    """The vocabulary blob of a WordPiece vocabulary (token i has id i)."""
    ids = {t: i for i, t in enumerate(tokens)}
    if len(ids) != len(tokens):
        raise ValueError("vocabulary has duplicate tokens")
    if len(tokens) > 65535:
        raise ValueError(f"vocabulary of {len(tokens)} tokens (at most 65535)")
    for t in (unk, cls, sep):
        if t not in ids:
            raise ValueError(f"vocabulary has no {t} token")
    initial, cont = [], []
    for t, i in ids.items():
        if t.startswith("##") and len(t) > 2:
            if reachable(t[2:], True):
                cont.append((t[2:].encode(), i))
        elif reachable(t, False):
            initial.append((t.encode(), i))
    tables = [_table(initial), _table(cont)]
    body, descs, off = bytearray(), [], HEADER_SIZE
    for (index, data, longest), n in zip(tables, (len(initial), len(cont))):
        idx_off = off + len(body)
        body += index
        data_off = off + len(body)
        body += data
        while len(body) % 4:
            body += b"\0"
        descs.append((n, len(index) // 4, idx_off, data_off, len(data), longest))
    head = struct.pack("<IIIIIIIII", MAGIC, VERSION, HEADER_SIZE + len(body), 0, len(tokens), ids[unk], ids[cls],
                       ids[sep], unicode_version_word())
    for d in descs:
        head += struct.pack("<6I", *d)
    assert len(head) == HEADER_SIZE
    return fix_crc(bytes(head + body))     # the model blob's rule: CRC-32 at 12 over bytes 16..


def write_vocab_c(tokens: list[str], out_dir: str | Path, name: str, model_name: str) -> dict[str, Path]:
    """<name>_vocab.h/.c: the vocabulary blob as a const array in flash."""
    from .generate import inc_text

    blob = vocab_blob(tokens)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    kw = dict(name=name, NAME=name.upper(), blob_len=len(blob), n_tokens=len(tokens), model_name=model_name,
              unicode=unicodedata.unidata_version)
    out = Path(out_dir)
    files = {"vocab_h": out / f"{name}_vocab.h", "vocab_c": out / f"{name}_vocab.c"}
    files["vocab_h"].write_text(env.get_template("vocab.h.j2").render(**kw))
    files["vocab_c"].write_text(env.get_template("vocab.c.j2").render(data=inc_text(blob), **kw))
    return files


def tables_flash_bytes() -> int:
    """Bytes of the generated Unicode tables (records and sequences, as compiled)."""
    recs, seqs = unicode_records()
    return 8 * len(recs) + 4 * len(seqs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="regenerate src/mcubert_unicode_tables.c")
    ap.add_argument("--out", type=Path, default=TABLES_C)
    a = ap.parse_args(argv)
    a.out.write_text(render_unicode_tables())
    print(f"wrote {a.out} (Unicode {unicodedata.unidata_version})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
