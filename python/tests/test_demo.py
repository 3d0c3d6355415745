# SPDX-License-Identifier: Apache-2.0
"""The README's main job: `bash scripts/demo.sh` shows the shipped model doing its job, and
leaves nothing behind in the temporary directory."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    r = subprocess.run(["bash", str(REPO / "scripts" / "demo.sh")], capture_output=True, text=True,
                       env={**os.environ, "TMPDIR": str(tmp)}, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = r.stdout
    summary = out[out.index("== summary"):]
    assert "sentiment_tiny.mcubert" in summary and "fits: yes" in summary
    assert "bit-exact: 8/8" in summary
    n = int(re.search(r"([\d,]+) instructions per inference at 128 tokens", summary)[1].replace(",", ""))
    assert 10_000_000 < n < 200_000_000
    assert re.search(r"~[\d.]+ ms at nucleo_f746zg's 192 MHz", summary)
    labels = re.findall(r"(positive|negative)  <- ", summary)
    assert labels == ["positive", "negative", "positive", "negative"]
    assert list(tmp.iterdir()) == []
    assert all(line.startswith("setup: ") for line in out[:out.index("== 1.")].strip().splitlines())
