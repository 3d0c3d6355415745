# SPDX-License-Identifier: Apache-2.0
"""Smoke run of the libFuzzer target (tests/fuzz/fuzz_mcubert.c) over a small real model.

MCUBERT_FUZZ_SECONDS sets the fuzzing time (default 30); a longer run is the same command.
"""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess

import pytest

from mcubert import host

FUZZ_SECONDS = int(os.environ.get("MCUBERT_FUZZ_SECONDS", "30"))
MIN_RUNS = 1000


def _seeds(blob: bytes) -> dict[str, bytes]:
    """One input per mode of the target (its first byte)."""
    return {
        "raw_blob": b"\x00" + blob[:512],                        # header and slot table, truncated
        "patch_blob": b"\x01" + struct.pack("<IB", 64, 0x01),    # logit scale bits: still valid
        "patch_schedule": b"\x02" + struct.pack("<IB", 48, 0x0C),  # q_tile 8 -> 4: still valid
        "tokens": b"\x03" + struct.pack("<6H", 5, 101, 7, 42, 299, 102),
    }


@pytest.fixture(scope="module")
def fuzz_binary():
    if shutil.which("clang") is None:
        pytest.skip("clang is not installed (the libFuzzer target needs it)")
    return host.build("fuzz") / "mcubert_fuzz"


@pytest.fixture(scope="module")
def seed_model(tmp_path_factory):
    from mcubert.generate import generate_from
    from mcubert.newmodel import new_model
    from mcubert.quantize import CalibConfig, quantize_model, random_calibration_ids

    d = tmp_path_factory.mktemp("fuzz_model")
    model = new_model("bert-tiny", 2, [16, 0], 3, str(d / "model"), vocab_size=300, hidden_size=32,
                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                      num_hidden_layers=1)
    qm = quantize_model(model, random_calibration_ids(300, CalibConfig(samples=8, max_len=32), 64))
    plan, blob = generate_from(qm, 32)
    (d / "blob.bin").write_bytes(blob)
    (d / "schedule.bin").write_bytes(plan.to_bytes())
    return d, blob


def test_fuzz_smoke(fuzz_binary, seed_model, tmp_path):
    d, blob = seed_model
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, data in _seeds(blob).items():
        (corpus / name).write_bytes(data)
    env = {**os.environ, "MCUBERT_FUZZ_BLOB": str(d / "blob.bin"),
           "MCUBERT_FUZZ_SCHEDULE": str(d / "schedule.bin")}
    cmd = [str(fuzz_binary), f"-max_total_time={FUZZ_SECONDS}", "-rss_limit_mb=2048",
           "-print_final_stats=1", f"-artifact_prefix={tmp_path}/", str(corpus)]
    r = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=FUZZ_SECONDS + 120)
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "leak-", "oom-", "timeout-")))
    assert r.returncode == 0, f"fuzzer exited {r.returncode}, artifacts {crashes}:\n{r.stderr[-6000:]}"
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", r.stderr)
    assert m, r.stderr[-3000:]
    assert int(m.group(1)) > MIN_RUNS, f"only {m.group(1)} executions in {FUZZ_SECONDS} s"


def test_fuzz_needs_seed_model(fuzz_binary, tmp_path):
    """Without the env vars the target refuses to start instead of fuzzing nothing useful."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCUBERT_FUZZ_")}
    r = subprocess.run([str(fuzz_binary), "-runs=1"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and "MCUBERT_FUZZ_BLOB" in r.stderr
