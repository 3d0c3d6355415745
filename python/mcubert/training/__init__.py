# SPDX-License-Identifier: Apache-2.0
"""Training, compression search and evaluation: teacher, student, search, baselines, pipeline.

Holds: `train` (teacher fine-tuning, student distillation, the shared fit loop), `budget` (the
exact flash cost of an embedding layout), `search` (the two-stage MCU-aware embedding search),
`baselines` (SVD, adaptive, pruning), `evaluate` (accuracy of a float checkpoint, or of an int8
model through the reference and the host C runtime), `imports` (`mcubert import` under a flash
budget), `pipeline` (the whole recipe, resumable).

May import: mcubert.text, mcubert.int8, mcubert.export, mcubert.targets, mcubert.data,
mcubert.modeling, mcubert.quantization.
Imports torch and transformers (`evaluate` only when a float model is evaluated)."""
