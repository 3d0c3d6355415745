# SPDX-License-Identifier: Apache-2.0
"""Time one fit() epoch with and without torch's deterministic kernels (docs/results.md,
"Reproducible training"): a 2-layer, hidden-128 model on the first N Rotten Tomatoes train
sentences, two threads, the modes alternating.

    python scripts/time_deterministic.py [N] [rounds]
"""
import sys
import tempfile
import time

import torch

from mcubert.modeling.newmodel import new_model
from mcubert.training import train as T

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(2)
on = T.deterministic
for _ in range(rounds):
    for mode in ("deterministic", "not deterministic"):
        T.deterministic = on if mode == "deterministic" else (lambda: torch.use_deterministic_algorithms(False))
        with tempfile.TemporaryDirectory() as d:
            torch.manual_seed(0)
            m = new_model("bert-tiny", 1, [128], 0, d, hidden_size=128, num_attention_heads=2,
                          intermediate_size=512, num_hidden_layers=2, max_position_embeddings=64, num_labels=2)
            t = time.time()
            T.fit(m, T.TrainConfig(out=d + "/f", epochs=1, batch_size=32, limit=n, max_len=64))
            print(f"{mode}: {time.time() - t:.1f} s", flush=True)
