# SPDX-License-Identifier: Apache-2.0
"""The int8 model: the `.mcubert` file, the integer numerics and the reference.

Holds: `qmodel` (QuantModel: config + integer tensors), `modelfile` (the versioned `.mcubert`
format, with provenance), `numerics` (the integer operators of docs/numerics.md), `reference`
(the integer forward pass the C runtime must match bit for bit), `bounds` (the model and tile
bounds `mcubert_init` enforces, read from include/mcubert/mcubert.h), `info` (what a user needs
to know about a model file before flashing it).

May import: mcubert.text.
Torch-free at import time (numpy only); `reference.agreement` imports torch when called."""
