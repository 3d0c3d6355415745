# SPDX-License-Identifier: Apache-2.0
"""The C tokenizer's data: the vocabulary blob and the generated Unicode class table.

Two parts, both made here from Python's unicodedata and the vocabulary:

* src/mcubert_unicode_tables.c (jinja2, vocabulary-independent): the class of every code
  point after BERT's normaliser (dropped, whitespace, punctuation, letter, CJK ideograph,
  Hangul syllable) as 1,055 runs of 3 bytes.
* the vocabulary blob ("MCTK" version 2), per vocabulary: what letters and punctuation become
  (lowercasing, accents stripped) where it matters to this vocabulary, and the tokens in three
  compressed tables.

Vocabulary blob, little-endian (src/mcubert_tokenize.c reads it in place, byte by byte):

    0  u32 magic "MCTK"     4 u32 version (2)    8 u32 total length
   12  u32 CRC-32 of [16, total) (zlib's, as the model blob)
   16  u32 vocab size      20 u32 [UNK] id      24 u32 [CLS] id     28 u32 [SEP] id
   32  u32 Unicode version the blob was made for, (major << 16) | (minor << 8) | micro
   36  u32 map offset      40 u32 map records   44 u32 sequences offset   48 u32 sequence words
   52  u32 context map offset (256 bytes: previous token byte -> character context, 1..)
   56  u32 character contexts (context 0: a token's first byte)   60 u32 pop contexts
   64  3 table descriptors of 11 u32: entries, block shift, blocks, index offset, data offset,
       data length, id offset (0: implicit ids), id bits, id base, model offset, longest token

Map: records of 2 u32 sorted by start, a = start | op << 21 | (count - 1) << 23 and b = the
op's value: DELTA (code point + b), CONST (b), STRIDE2 (+ b at even offsets, itself at odd),
SEQ (sequence b: length, then code point | class << 21). A letter or punctuation character
without a record stays itself. Records exist only where the result matters to this
vocabulary: a character that becomes characters the vocabulary has, or one the vocabulary
has itself, or several characters; any other changed character makes its word [UNK] either
way, because no token holds it.

Tables: 0 word-initial tokens, 1 "##" continuations ("##" stripped), 2 the word-initial
single characters when their ids are consecutive in code point order (bert-base-uncased:
997 of them, ids 999..1995), whose ids are then implicit (id base + rank). Each table's
entries are sorted by their UTF-8 bytes and front-coded, in blocks of 2^shift entries that
start on a byte boundary (the index: a u24 byte offset per block; two bytes of padding follow
the data). An entry is, MSB-first:
how many bytes of the previous token it drops (canonical Huffman, context = the previous
token's length, capped; absent at a block's start), then its new bytes and a 0 (canonical
Huffman, context = the byte before). Ids are a packed little-endian bit array, id bits each.
A model is u16 offsets of its (pop contexts + character contexts) codes, then each code:
u8 longest code length L, u8 count of codes of each length 1..L, the symbols.

Tokens no normalised word can be are left out: any token with whitespace or punctuation in
it except a punctuation character alone ("[CLS]", "[unused0]", "##."), one with a character
the normaliser never outputs (uppercase, accents), or a CJK ideograph that is not alone and
word-initial.
"""
from __future__ import annotations

import argparse
import functools
import heapq
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
VERSION = 2
HEADER_SIZE = 64
TABLE_WORDS = 11
N_TABLES = 3
BLOCK_SHIFT = 5          # 32 entries a block: flash against the scan of one block per lookup
MAX_TOKEN_BYTES = 255
MAX_CODE_LEN = 15
CHAR_CONTEXTS = 24       # context 0 (first byte) + the 22 commonest previous bytes + the rest
POP_CONTEXTS = 12        # previous token length 1..11, 12+ (a block's start codes no pop)
END = 0                  # ends a token's bytes: the normaliser never outputs U+0000
DIFF = -1                # the first new byte after a pop: coded as its rise over the old one

# character classes (the output's): the class table and sequences (src/mcubert_tokenize.c)
LETTER, PUNCT, SPACE = 0, 1, 2
# class table values
C_DROP, C_SPACE, C_PUNCT, C_LETTER, C_CJK, C_HANGUL = range(6)
# map ops
OP_DELTA, OP_CONST, OP_STRIDE2, OP_SEQ = range(4)
MAX_RUN = 512
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


@functools.cache
def _rules() -> tuple:
    return tuple(char_rule(cp) for cp in range(0x110000))


def cp_class(cp: int) -> int:
    outs, cjk = _rules()[cp]
    if not outs:
        return C_DROP
    if HANGUL_FIRST <= cp <= HANGUL_LAST:
        return C_HANGUL
    if cjk:
        if len(outs) != 1 or outs[0][1] != LETTER:
            raise AssertionError(f"U+{cp:04X}: a CJK ideograph that is not one letter")
        return C_CJK
    if all(c == SPACE for _, c in outs):
        return C_SPACE
    if len(outs) == 1:
        return C_PUNCT if outs[0][1] == PUNCT else C_LETTER
    return C_LETTER           # several characters: always in the map, with their own classes


@functools.cache
def class_runs() -> tuple[tuple[int, int], ...]:
    """(start, class) runs covering 0..0x10FFFF."""
    runs: list[tuple[int, int]] = []
    for cp in range(0x110000):
        c = cp_class(cp)
        if not runs or runs[-1][1] != c:
            runs.append((cp, c))
    return tuple(runs)


def render_unicode_tables() -> str:
    runs = class_runs()
    words = [s | (c << 21) for s, c in runs]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("mcubert_unicode_tables.c.j2").render(
        version=unicodedata.unidata_version, version_word=unicode_version_word(), python=sys.version.split()[0],
        runs=[(w & 0xFF, (w >> 8) & 0xFF, w >> 16) for w in words])


def tables_flash_bytes() -> int:
    """Bytes of the generated Unicode class table (as compiled, with its version word)."""
    return 3 * len(class_runs()) + 8


# ---------------------------------------------------------------- the map

def _map_records(alphabet: set[int]) -> tuple[list[tuple[int, int, int, int]], list[int]]:
    """(start, op, count, value) records and the sequence words, for this alphabet."""
    rules = _rules()

    def needed(cp: int) -> bool:
        outs, _ = rules[cp]
        if cp_class(cp) in (C_DROP, C_SPACE, C_HANGUL) or [o for o, _ in outs] == [cp]:
            return False
        # several characters: exact when one is punctuation or space (it splits the word)
        return cp in alphabet or all(o in alphabet for o, _ in outs) or any(c != LETTER for _, c in outs)

    def out1(cp: int) -> int | None:
        outs, _ = rules[cp]
        return outs[0][0] if len(outs) == 1 and cp_class(cp) in (C_LETTER, C_PUNCT, C_CJK) else None

    def fits(op: int, start: int, value: int, cp: int) -> bool:
        o = out1(cp)
        if o is None:
            return False
        if op == OP_DELTA:
            return o == cp + value
        if op == OP_CONST:
            return o == value
        return o == (cp + value if (cp - start) % 2 == 0 else cp)

    recs: list[list[int]] = []
    seqs: list[int] = []
    for cp in range(0x110000):
        if not needed(cp):
            continue
        outs, _ = rules[cp]
        if len(outs) > 1:
            recs.append([cp, OP_SEQ, 1, len(seqs)])
            seqs += [len(outs), *(o | (c << 21) for o, c in outs)]
            continue
        r = recs[-1] if recs else None
        if r is not None and r[1] != OP_SEQ and cp - r[0] < MAX_RUN:
            span = range(r[0] + r[2], cp + 1)
            cands = [(r[1], r[3])]
            if r[2] == 1:   # one code point so far: any op that fits both
                o0 = out1(r[0])
                cands = [(OP_DELTA, o0 - r[0]), (OP_CONST, o0)] + (
                    [(OP_STRIDE2, o0 - r[0])] if (cp - r[0]) % 2 == 1 else [])
            for op, value in cands:
                if all(fits(op, r[0], value, x) for x in span):
                    r[1], r[3], r[2] = op, value, cp - r[0] + 1
                    break
            else:
                r = None
            if r is not None:
                continue
        recs.append([cp, OP_DELTA, 1, out1(cp) - cp])
    return [tuple(r) for r in recs], seqs


# ---------------------------------------------------------------- canonical Huffman

def code_lengths(freq: dict[int, int]) -> dict[int, int]:
    """Huffman code lengths, at most MAX_CODE_LEN (frequencies flattened until they fit)."""
    if not freq:
        return {}
    if len(freq) == 1:
        return {next(iter(freq)): 1}
    f = dict(freq)
    while True:
        heap = [(n, i, (s,)) for i, (s, n) in enumerate(sorted(f.items()))]
        heapq.heapify(heap)
        depth = dict.fromkeys(f, 0)
        k = len(heap)
        while len(heap) > 1:
            a, b = heapq.heappop(heap), heapq.heappop(heap)
            for s in a[2] + b[2]:
                depth[s] += 1
            heapq.heappush(heap, (a[0] + b[0], k, a[2] + b[2]))
            k += 1
        if max(depth.values()) <= MAX_CODE_LEN:
            return depth
        f = {s: (n + 1) // 2 for s, n in f.items()}


def canonical(lengths: dict[int, int]) -> tuple[bytes, dict[int, tuple[int, int]]]:
    """(serialised code, symbol -> (code, length)): codes of one length in symbol order."""
    order = sorted(lengths, key=lambda s: (lengths[s], s))
    top = max(lengths.values(), default=0)
    counts = [sum(1 for s in order if lengths[s] == n) for n in range(1, top + 1)]
    if any(c > 255 for c in counts):
        raise ValueError("a Huffman code with over 255 codes of one length")
    codes, code, prev = {}, 0, 0
    for s in order:
        code <<= lengths[s] - prev
        prev = lengths[s]
        codes[s] = (code, prev)
        code += 1
    return bytes([top, *counts, *order]), codes


class _Bits:
    def __init__(self):
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, code: int, length: int) -> None:
        for k in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((code >> k) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                self.acc = self.n = 0

    def align(self) -> None:
        if self.n:
            self.put(0, 8 - self.n)


# ---------------------------------------------------------------- the vocabulary blob

def reachable(token: str, continuation: bool, outputs: set[int] | None = None) -> bool:
    """Can WordPiece ever look this token up? Pieces of words hold no whitespace or
    punctuation; a punctuation character is a word of its own, and so is a CJK ideograph; a
    word holds only what the normaliser outputs."""
    classes = [char_class(c) for c in token]
    if not token or SPACE in classes:
        return False
    if outputs is not None and any(ord(c) not in outputs for c in token):
        return False
    if any(wp._is_cjk(ord(c)) for c in token) and (continuation or len(token) > 1):
        return False
    if PUNCT in classes:
        return not continuation and len(token) == 1
    return True


@functools.cache
def normaliser_outputs() -> frozenset[int]:
    return frozenset(o for outs, _ in _rules() for o, _ in outs)


def _prev_len_ctx(n: int) -> int:
    return min(n, POP_CONTEXTS) - 1


def _entries_symbols(keys: list[bytes], shift: int):
    """Per entry: (pop context, pop) or None at a block's start, then (char context, byte) pairs."""
    prev = b""
    for i, key in enumerate(keys):
        start = i % (1 << shift) == 0
        lcp = 0
        if not start:
            while lcp < min(len(key), len(prev)) and key[lcp] == prev[lcp]:
                lcp += 1
        pop = None if start else (_prev_len_ctx(len(prev)), len(prev) - lcp)
        chars, last = [], (key[lcp - 1] if lcp else None)
        for j, b in enumerate(key[lcp:] + bytes([END])):
            if j == 0 and not start and lcp < len(prev):
                chars.append((DIFF, b - prev[lcp]))   # sorted: above the byte it replaces
            else:
                chars.append((last, b))
            last = b
        yield pop, chars
        prev = key


def vocab_blob(tokens: list[str], unk: str = "[UNK]", cls: str = "[CLS]", sep: str = "[SEP]",
               split: dict | None = None) -> bytes:
    """The vocabulary blob of a WordPiece vocabulary (token i has id i). split, if given,
    receives the bytes of each part."""
    ids = {t: i for i, t in enumerate(tokens)}
    if len(ids) != len(tokens):
        raise ValueError("vocabulary has duplicate tokens")
    if len(tokens) > 65535:
        raise ValueError(f"vocabulary of {len(tokens)} tokens (at most 65535)")
    for t in (unk, cls, sep):
        if t not in ids:
            raise ValueError(f"vocabulary has no {t} token")
    outputs = normaliser_outputs()
    initial, cont = [], []
    for t, i in ids.items():
        if t.startswith("##") and len(t) > 2:
            if reachable(t[2:], True, outputs):
                cont.append((t[2:].encode(), i))
        elif reachable(t, False, outputs):
            initial.append((t.encode(), i))
    for key, _ in initial + cont:
        if len(key) > MAX_TOKEN_BYTES:
            raise ValueError(f"token of {len(key)} bytes (at most {MAX_TOKEN_BYTES})")
    initial.sort()
    cont.sort()
    singles = [(k, i) for k, i in initial if len(k.decode()) == 1]
    if len(singles) > 1 and all(singles[j][1] == singles[0][1] + j for j in range(len(singles))):
        initial = [(k, i) for k, i in initial if len(k.decode()) > 1]
    else:
        singles = []
    tables = [initial, cont, singles]
    alphabet = {ord(c) for t in tables for k, _ in t for c in k.decode()}

    # character contexts: 0 = a token's first byte, then the commonest previous bytes
    prev_freq: dict[int, int] = {}
    for t in tables:
        for _, chars in _entries_symbols([k for k, _ in t], BLOCK_SHIFT):
            for last, _ in chars:
                if last is not None and last != DIFF:
                    prev_freq[last] = prev_freq.get(last, 0) + 1
    common = sorted(prev_freq, key=lambda b: (-prev_freq[b], b))[:CHAR_CONTEXTS - 2]
    ctxmap = [CHAR_CONTEXTS - 1] * 256
    for k, b in enumerate(common):
        ctxmap[b] = k + 1

    def cctx(last):
        return 0 if last is None else (CHAR_CONTEXTS if last == DIFF else ctxmap[last])

    id_bits = max(1, (len(tokens) - 1).bit_length())
    recs, seqs = _map_records(alphabet)
    body = bytearray()
    parts = {"header": HEADER_SIZE + 4 * TABLE_WORDS * N_TABLES}
    off0 = parts["header"]

    def place(data: bytes, part: str) -> int:
        while len(body) % 4:
            body.append(0)
        at = off0 + len(body)
        body.extend(data)
        parts[part] = parts.get(part, 0) + len(data)
        return at

    map_off = place(b"".join(struct.pack("<II", s | (op << 21) | ((n - 1) << 23), v & 0xFFFFFFFF)
                             for s, op, n, v in recs), "map")
    seq_off = place(struct.pack(f"<{len(seqs)}I", *seqs), "map")
    ctx_off = place(bytes(ctxmap), "context map")
    descs = []
    for k, t in enumerate(tables):
        keys = [key for key, _ in t]
        pop_f = [dict() for _ in range(POP_CONTEXTS)]
        chr_f = [dict() for _ in range(CHAR_CONTEXTS + 1)]
        for pop, chars in _entries_symbols(keys, BLOCK_SHIFT):
            if pop is not None:
                pop_f[pop[0]][pop[1]] = pop_f[pop[0]].get(pop[1], 0) + 1
            for last, b in chars:
                f = chr_f[cctx(last)]
                f[b] = f.get(b, 0) + 1
        codes, blobs = [], []
        for f in pop_f + chr_f:
            ser, c = canonical(code_lengths(f))
            blobs.append(ser)
            codes.append(c)
        offs, o = [], 2 * len(blobs)
        for ser in blobs:
            offs.append(o)
            o += len(ser)
        model_off = place(struct.pack(f"<{len(offs)}H", *offs) + b"".join(blobs), "models")
        bits, index = _Bits(), []
        for i, (pop, chars) in enumerate(_entries_symbols(keys, BLOCK_SHIFT)):
            if pop is None:
                bits.align()
                index.append(len(bits.out))
            else:
                bits.put(*codes[pop[0]][pop[1]])
            for last, b in chars:
                bits.put(*codes[POP_CONTEXTS + cctx(last)][b])
        bits.align()
        idx_off = place(b"".join(struct.pack("<I", x)[:3] for x in index), "block index")
        data_off = place(bytes(bits.out) + b"\0\0", "token text")   # padding: the decoder reads 3 bytes
        if k == 2:
            id_off, id_base = 0, (t[0][1] if t else 0)
        else:
            acc = 0
            for j, (_, tid) in enumerate(t):
                acc |= tid << (j * id_bits)
            nbytes = (len(t) * id_bits + 7) // 8
            id_off = place(acc.to_bytes(nbytes, "little") + b"\0\0", "ids")
            id_base = 0
        descs.append((len(t), BLOCK_SHIFT, len(index), idx_off, data_off, len(bits.out), id_off, id_bits, id_base,
                      model_off, max((len(key) for key in keys), default=0)))
    while len(body) % 4:
        body.append(0)
    head = struct.pack("<16I", MAGIC, VERSION, off0 + len(body), 0, len(tokens), ids[unk], ids[cls], ids[sep],
                       unicode_version_word(), map_off, len(recs), seq_off, len(seqs), ctx_off, CHAR_CONTEXTS,
                       POP_CONTEXTS)
    for d in descs:
        head += struct.pack(f"<{TABLE_WORDS}I", *d)
    assert len(head) == off0
    blob = fix_crc(bytes(head + body))     # the model blob's rule: CRC-32 at 12 over bytes 16..
    if split is not None:
        split.update(parts, total=len(blob), padding=len(blob) - sum(parts.values()),
                     entries=[d[0] for d in descs], map_records=len(recs))
    return blob


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="regenerate src/mcubert_unicode_tables.c")
    ap.add_argument("--out", type=Path, default=TABLES_C)
    a = ap.parse_args(argv)
    a.out.write_text(render_unicode_tables())
    print(f"wrote {a.out} (Unicode {unicodedata.unidata_version})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
