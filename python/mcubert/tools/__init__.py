# SPDX-License-Identifier: Apache-2.0
"""Developer tools over the runtime: verification, golden vectors, benchmarks.

Holds: `verify` (the C runtime against the integer reference, bit for bit, on the host or an
emulated core), `golden` (kernel golden vectors for the Twister suites, run as
`python -m mcubert.tools.golden`), `bench` (instruction counts on the emulated Cortex-M7, the
tokenizer's over the Rotten Tomatoes test sentences too).

May import: mcubert.text, mcubert.int8, mcubert.export, mcubert.targets, mcubert.modeling,
mcubert.quantization, mcubert.data.
`verify` and `golden` are torch-free at import time; `bench` builds random models with torch
when run."""
