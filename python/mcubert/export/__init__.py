# SPDX-License-Identifier: Apache-2.0
"""Plan and code generation: what the firmware build consumes.

Holds: `planner` (the arena planner for the fine and layer-wise schedules), `blob` (the weight
blob in the layout the kernels read), `generate` (blob, schedule header, C sources and inputs
header from the jinja2 `templates/`).

May import: mcubert.text, mcubert.int8.
Torch-free at import time (numpy, jinja2): this is the `west build` path."""
