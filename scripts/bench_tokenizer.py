# SPDX-License-Identifier: Apache-2.0
"""Flash split of the bert-base-uncased vocabulary blob and the tokenizer's instructions on
QEMU's Cortex-M7/M3 over the Rotten Tomatoes test sentences (docs/tokenizer.md).

    python scripts/bench_tokenizer.py [cortex-m7 cortex-m3]
"""
import struct
import sys

from mcubert.data import corpus
from mcubert.export import tokenizer_blob as tb
from mcubert.targets.tokenizer_c import run_tok_runner, tok_runner
from mcubert.text.vocab import bert_uncased_tokenizer
from mcubert.text.wordpiece import WordPiece

tok = bert_uncased_tokenizer()
vocab = [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
wp, blob = WordPiece(vocab), tb.vocab_blob(vocab)
print(f"vocabulary blob: {len(blob)} B")
for k, name in enumerate(("initial", "continuation")):
    n, blocks, idx, data, dlen, longest = struct.unpack_from("<6I", blob, 36 + 24 * k)
    heads = o = 0
    for _ in range(n):
        h = 3 if blob[data + o] == 0xFF else 1
        sfx = blob[data + o + 2] if h == 3 else blob[data + o] & 15
        heads += h
        o += h + sfx + 2
    print(f"  {name}: {n} entries, index {4 * blocks} B, data {dlen} B (ids {2 * n}, headers {heads}, "
          f"token bytes {dlen - 2 * n - heads}), longest {longest} B")
recs, seqs = tb.unicode_records()
print(f"Unicode {'.'.join(map(str, tb.unicode_version()))} tables: {len(recs)} records ({8 * len(recs)} B), "
      f"{len(seqs)} sequence words ({4 * len(seqs)} B)")
texts = [e.text for e in corpus.load()["test"]]
for core in sys.argv[1:]:
    res, spent, init = run_tok_runner(tok_runner(core), blob, [(t.encode(), None, 128) for t in texts], counts=True)
    same = sum(r[1] == wp.encode(t, 128) for r, t in zip(res, texts))
    nbytes, ntok = sum(len(t.encode()) for t in texts), sum(len(r[1]) for r in res)
    print(f"{core}: {same}/{len(texts)} identical to wordpiece.py; {sum(spent) / nbytes:.1f} instructions/byte; "
          f"per sentence mean {sum(spent) / len(texts):.0f}, max {max(spent)}; {sum(spent) / ntok:.0f}/token; "
          f"mcubert_vocab_init {init}")
