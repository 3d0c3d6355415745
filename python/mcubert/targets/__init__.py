# SPDX-License-Identifier: Apache-2.0
"""Where the runtime runs: the host C library, emulated Cortex-M cores, Zephyr, boards.

Holds: `host` (builds the C runtime and runner with CMake, ctypes bindings, QEMU runs),
`boards` (the profiles in boards/), `fit` (does a model fit a board, and how long an input
can be), `zephyr` (the logic behind the CMake function mcubert_add_model(), run as
`python -m mcubert.targets.zephyr`).

May import: mcubert.text, mcubert.int8, mcubert.export.
Torch-free at import time."""
