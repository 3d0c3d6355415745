# SPDX-License-Identifier: Apache-2.0
"""Flash split of the bert-base-uncased vocabulary blob and the tokenizer's instructions on
QEMU's Cortex-M7/M3 over the Rotten Tomatoes test sentences (docs/tokenizer.md).

    python scripts/bench_tokenizer.py [cortex-m7 cortex-m3]
"""
import sys

from mcubert.data import corpus
from mcubert.export import tokenizer_blob as tb
from mcubert.targets.tokenizer_c import run_tok_runner, tok_runner
from mcubert.text.vocab import bert_uncased_tokenizer
from mcubert.text.wordpiece import WordPiece

tok = bert_uncased_tokenizer()
vocab = [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
split: dict = {}
wp, blob = WordPiece(vocab), tb.vocab_blob(vocab, split=split)
tables = tb.tables_flash_bytes()
print(f"vocabulary blob: {len(blob)} B; Unicode {'.'.join(map(str, tb.unicode_version()))} class table: {tables} B "
      f"({len(tb.class_runs())} runs); total {len(blob) + tables} B")
print(f"  entries: initial {split['entries'][0]}, continuations {split['entries'][1]}, "
      f"single characters (implicit ids) {split['entries'][2]}; map records {split['map_records']}")
for part in ("header", "ids", "token text", "block index", "models", "context map", "map", "padding"):
    print(f"  {part}: {split.get(part, 0)} B")
texts = [e.text for e in corpus.load()["test"]]
for core in sys.argv[1:]:
    res, spent, init = run_tok_runner(tok_runner(core), blob, [(t.encode(), None, 128) for t in texts], counts=True)
    same = sum(r[1] == wp.encode(t, 128) for r, t in zip(res, texts))
    nbytes, ntok = sum(len(t.encode()) for t in texts), sum(len(r[1]) for r in res)
    print(f"{core}: {same}/{len(texts)} identical to wordpiece.py; {sum(spent) / nbytes:.1f} instructions/byte; "
          f"per sentence mean {sum(spent) / len(texts):.0f}, max {max(spent)}; {sum(spent) / ntok:.0f}/token; "
          f"mcubert_vocab_init {init}")
