# SPDX-License-Identifier: Apache-2.0
"""Remakes tiny.mcubert, the runtime and error suites' model (not run by any build).

    .venv/bin/python tests/runtime/model/make_model.py

A seeded random bert-tiny-shaped classifier through the mcubert pipeline (new_model,
quantize_model, modelfile.save), cut down so that blob and arena fit qemu_cortex_m3 with
room to spare: hidden 32, 2 layers, and the first 3000 ids of the bert-base-uncased vocab
(the special tokens, single characters and the most frequent ~1000 words), so the file
stays small. Words outside it tokenize to [UNK]. initializer_range 0.3 rather than 0.02:
with small random weights attention is uniform and the logits barely depend on the tokens,
which would make a bit-exact comparison weak.
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from mcubert import modelfile
from mcubert.newmodel import new_model
from mcubert.quantize import CalibConfig, quantize_model, random_calibration_ids
from mcubert.vocab import bert_uncased_tokenizer

VOCAB = 3000
MAX_POS = 32
SEED = 26  # one whose labels differ across sentences.txt, so the argmax check means something


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("tiny.mcubert")
    with tempfile.TemporaryDirectory() as d:
        model = new_model("bert-tiny", 2, [4, 8], SEED, d, vocab_size=VOCAB, hidden_size=32,
                          num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                          max_position_embeddings=MAX_POS, num_labels=3,
                          initializer_range=0.3)
    tok = bert_uncased_tokenizer().get_vocab()
    vocab = [t for t, _ in sorted(tok.items(), key=lambda kv: kv[1])][:VOCAB]
    samples = random_calibration_ids(VOCAB, CalibConfig(samples=32, max_len=MAX_POS, seed=SEED), MAX_POS)
    n = modelfile.save(quantize_model(model, samples, vocab=vocab), out)
    print(f"wrote {out} ({n} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
