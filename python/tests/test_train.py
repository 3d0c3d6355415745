# SPDX-License-Identifier: Apache-2.0
"""The fine-tuning loop on a slice of the real split: outputs, log, and a resume that gives
the same weights as an uninterrupted run."""
from __future__ import annotations

import json

import torch

from mcubert.train import TrainConfig, train_teacher


def test_teacher_smoke_and_exact_resume(tmp_path):
    kw = dict(batch_size=16, max_len=24, limit=32, lr=1e-4)
    full = train_teacher(TrainConfig(out=str(tmp_path / "full"), epochs=2, **kw))
    assert set(full) >= {"dev_accuracy", "test_accuracy"} and full["train_sentences"] == 32
    for f in ("config.json", "model.safetensors", "metrics.json", "train.log", "checkpoint.pt"):
        assert (tmp_path / "full" / f).is_file(), f
    assert json.loads((tmp_path / "full" / "metrics.json").read_text()) == full

    part = tmp_path / "part"
    train_teacher(TrainConfig(out=str(part), epochs=2, **kw), stop_after=1)     # "interrupted"
    train_teacher(TrainConfig(out=str(part), epochs=2, **kw), resume=True)
    log = (part / "train.log").read_text()
    assert "resumed from" in log and log.count("epoch 1:") == 1 and log.count("epoch 2:") == 1
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(part / "checkpoint.pt", weights_only=False)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
