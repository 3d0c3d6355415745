# SPDX-License-Identifier: Apache-2.0
"""mcubert: int8 BERT text classifiers for microcontrollers.

The subpackages follow the data flow, and each one's docstring says what it may import:

    data -> modeling -> training -> quantization -> int8 -> export -> targets
    text (tokenization) and tools (verify, golden, bench) serve all of them.

`mcubert.cli` is the command line (`mcubert`). The build-time path (`generate`, `plan`,
`verify`, `info`, `run`, `python -m mcubert.targets.zephyr`) never imports torch.
"""

import os

__version__ = "0.2.0"

# Before any transformers import: its per-load and per-save progress bars ("Loading weights",
# "Writing model shards") bury mcubert's own output lines.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
