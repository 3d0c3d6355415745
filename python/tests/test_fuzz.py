# SPDX-License-Identifier: Apache-2.0
"""Smoke run of the libFuzzer target (tests/fuzz/fuzz_mcubert.c) over a small real model, in
two builds: the portable kernels, and the SIMD kernels through the emulated ACLE intrinsics
(src/mcubert_acle_emu.h, where an accumulation that would set Q aborts).

MCUBERT_FUZZ_SECONDS sets the fuzzing time (default 30); a longer run is the same command.
"""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import zlib

import pytest

from mcubert.targets import host
from mcubert.export.blob import HEADER_SIZE, LAYOUT_K8
from mcubert.export.planner import BUFFERS, SCHEDULE_VERSION, Dims, fnv1a, plan

FUZZ_SECONDS = int(os.environ.get("MCUBERT_FUZZ_SECONDS", "30"))
MIN_RUNS = 1000


def _seeds(blob: bytes) -> dict[str, bytes]:
    """Inputs for every mode of the target (bits 0-1 of byte 0) and every schedule (bits 2-6).
    The last two bytes, mod n_tokens + 2, are the n_first of the target's mcubert_classify_pair()
    call; mode 3 ignores bytes past its ids, so the pair seeds append one."""
    head = bytearray(blob[:512])
    struct.pack_into("<I", head, 8, len(head))  # total length fits: reaches the CRC check
    tokens = struct.pack("<6H", 5, 101, 7, 42, 299, 102)
    return {
        "raw_blob": b"\x00" + bytes(head),
        "patch_blob": b"\x01" + struct.pack("<IB", 64, 0x01),    # logit scale bits: still valid
        "patch_schedule": b"\x02" + struct.pack("<IB", 48, 0x0C),  # q_tile 8 -> 4: still valid
        "tokens": b"\x03" + tokens,
        "patch_schedule_1": bytes([2 | 1 << 2]) + struct.pack("<IB", 0, 0),
        "tokens_2": bytes([3 | 2 << 2]) + tokens,
        **_pair_seeds(tokens),
    }


def _pair_seeds(tokens: bytes) -> dict[str, bytes]:
    """Mode 3 with 5 tokens and n_first 0, 1, 2, 5 (n_tokens: must equal mcubert_classify) and 6,
    over the first and the layerwise schedule; and the error order: no tokens with n_first 0
    (MCUBERT_ERR_N_TOKENS), a bad id (300 = vocab) with n_first 0 (MCUBERT_ERR_N_FIRST)."""
    seeds = {f"pair_{k}_{sched}": bytes([3 | sched << 2]) + tokens + struct.pack("<H", k)
             for k in (0, 1, 2, 5, 6) for sched in (0, 2)}
    seeds["pair_no_tokens"] = b"\x03" + struct.pack("<H", 0)
    seeds["pair_bad_id"] = b"\x03" + struct.pack("<6HH", 5, 101, 7, 300, 299, 102, 0)
    return seeds


KERNELS = {"fuzz": "portable", "dsp-fuzz": "dsp"}


@pytest.fixture(scope="module", params=list(KERNELS), ids=["portable", "simd"])
def fuzz_binary(request):
    if shutil.which("clang") is None:
        pytest.skip("clang is not installed (the libFuzzer target needs it)")
    return host.build(request.param) / "mcubert_fuzz"


def _kernels(stderr: str) -> str:
    """The kernel path the target reports at start-up."""
    m = re.search(r"fuzz_mcubert: kernels (\w+),", stderr)
    assert m, stderr[-3000:]
    return m.group(1)


@pytest.fixture(scope="module", params=[0, 4], ids=["dense_pos", "low_rank_pos"])
def seed_model(request, tmp_path_factory):
    """The seed blob: a dense position table, or a rank-4 one (config word 11 = 5, pos = A' + B'^T)."""
    from mcubert.export.generate import generate_from
    from mcubert.modeling.model import compress_positions
    from mcubert.modeling.newmodel import new_model
    from mcubert.quantization.quantize import CalibConfig, quantize_model, random_calibration_ids

    d = tmp_path_factory.mktemp("fuzz_model")
    model = new_model("bert-tiny", 2, [16, 0], 3, str(d / "model"), vocab_size=300, hidden_size=32,
                      num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                      num_hidden_layers=1)
    if request.param:
        compress_positions(model, request.param)
    qm = quantize_model(model, random_calibration_ids(300, CalibConfig(samples=8, max_len=32), 64))
    p, blob = generate_from(qm, 32)
    # Same model, other schedules (the target rewrites the blob's hash for them): every
    # classify path, not only the one the planner picked.
    others = [plan(Dims.of(qm), 32, "fine", per_head=1 - p.per_head), plan(Dims.of(qm), 32, "layerwise")]
    (d / "blob.bin").write_bytes(blob)
    (d / "schedule.bin").write_bytes(b"".join(x.to_bytes() for x in [p, *others]))
    return d, blob


@pytest.mark.slow
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
    crashes = sorted(p.name for p in tmp_path.iterdir()
                     if p.name.startswith(("crash-", "leak-", "oom-", "timeout-")))
    assert r.returncode == 0, f"fuzzer exited {r.returncode}, artifacts {crashes}:\n{r.stderr[-6000:]}"
    m = re.search(r"stat::number_of_executed_units:\s*(\d+)", r.stderr)
    assert m, r.stderr[-3000:]
    assert int(m.group(1)) > MIN_RUNS, f"only {m.group(1)} executions in {FUZZ_SECONDS} s"
    assert _kernels(r.stderr) == KERNELS[fuzz_binary.parent.name.removeprefix("host-")]


def test_fuzz_pair_seeds(fuzz_binary, seed_model, tmp_path):
    """The target's pair call on fixed inputs (no fuzzing): with ASan + UBSan, the expected status
    for every n_first, the same logits twice, and n_first == n_tokens equal to one sentence."""
    d, blob = seed_model
    files = []
    for name, data in _pair_seeds(struct.pack("<6H", 5, 101, 7, 42, 299, 102)).items():
        (tmp_path / name).write_bytes(data)
        files.append(str(tmp_path / name))
    env = {**os.environ, "MCUBERT_FUZZ_BLOB": str(d / "blob.bin"),
           "MCUBERT_FUZZ_SCHEDULE": str(d / "schedule.bin")}
    r = subprocess.run([str(fuzz_binary), "-rss_limit_mb=2048", *files], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-4000:]
    assert r.stderr.count("Executed ") == len(files), r.stderr[-3000:]


def test_fuzz_needs_seed_model(fuzz_binary, tmp_path):
    """Without the env vars the target refuses to start instead of fuzzing nothing useful."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCUBERT_FUZZ_")}
    r = subprocess.run([str(fuzz_binary), "-runs=1"], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and "MCUBERT_FUZZ_BLOB" in r.stderr


def _wrapping_layerwise_model(d):
    """hidden 1024, 256 heads, max_seq_len 4096, layerwise: SCORES (2*NH*L*L = 2^33 bytes) and
    PROBS (2^32) are within every bound, but wrapped to 0 in 32 bits they passed as unused and
    classify wrote 32 MiB past the arena (found by review; the seed model is far too small)."""
    H, NH, F, P, V, C = 1024, 256, 1, 4096, 1, 1
    L = P
    i32 = lambda *v: struct.pack(f"<{len(v)}i", *v)      # noqa: E731
    rq = lambda n: i32(*[1] * (2 * n))                    # noqa: E731  mult 1, shift 1
    ln = lambda: i32(*[1] * H + [0] * H) + struct.pack("<Q", 1)  # noqa: E731
    slots = [struct.pack("<II", V, 0), b"", bytes(2), b"", b"", rq(H), bytes(P * H), i32(1, 1), ln(),
             bytes(H * H), bytes(4 * H), rq(H), bytes(256), bytes(C * H), bytes(4 * C), rq(C)]
    for _ in range(4):                                    # Q, K, V, O
        slots += [bytes(H * H), bytes(4 * H), rq(H)]
    # weights in the K8 layout: each of the out rows padded to a multiple of 8
    slots += [bytes(F * H), bytes(4 * F), rq(F), bytes(8 * H), bytes(4 * H), rq(H), ln(), ln(),
              struct.pack("<256H", *[1] * 256), bytes(256), i32(*[1, 1] * 4)]
    size = {"HIDDEN": L * H, "ROW16": 2 * L * H, "Q": L * H, "K": L * H, "V": L * H, "SCORES": 0, "PROBS": 0,
            "CTX": L * H, "RES": 2 * L * H, "HIDDEN2": L * H, "INTER": L * F, "INTER2": L * F, "RES2": 2 * L * H,
            "POOLED": H, "SCRATCH": 8 * L, "FFN_SCRATCH": 0}
    # every buffer at offset 0: an 8 MiB arena
    w = [SCHEDULE_VERSION, 0, 1, V, H, 1, NH, F, P, C, 1, L, 0, 0, 0, max(size.values())] + [0] * len(BUFFERS)
    w += [size[b] for b in BUFFERS]
    w[1] = fnv1a(w[:1] + w[2:])
    pos = HEADER_SIZE + 8 * len(slots)
    pos += -pos % 16
    data, table = bytearray(), b""
    for s in slots:
        data += bytes(-(pos + len(data)) % 16)
        table += struct.pack("<II", pos + len(data), len(s))
        data += s
    head = b"MCBB" + struct.pack("<HHIIII", 1, LAYOUT_K8, pos + len(data), 0, w[1], len(slots))
    head += struct.pack("<12I", V, H, 1, NH, F, P, C, 1, 0, 64, 0x3F800000, 0) + table
    blob = bytearray(head.ljust(pos, b"\0") + data)
    struct.pack_into("<I", blob, 12, zlib.crc32(bytes(blob[16:])))
    (d / "blob.bin").write_bytes(blob)
    (d / "schedule.bin").write_bytes(struct.pack(f"<{len(w)}I", *w))
    return w, bytes(blob)


def test_layerwise_size_overflow_rejected(fuzz_binary, tmp_path):
    words, blob = _wrapping_layerwise_model(tmp_path)
    assert host.Runtime(words, blob).status == host.ERR["MCUBERT_ERR_SCHEDULE"]
    (tmp_path / "one_token").write_bytes(b"\x03" + struct.pack("<HH", 1, 0))
    env = {**os.environ, "MCUBERT_FUZZ_BLOB": str(tmp_path / "blob.bin"),
           "MCUBERT_FUZZ_SCHEDULE": str(tmp_path / "schedule.bin")}
    r = subprocess.run([str(fuzz_binary), "-rss_limit_mb=2048", str(tmp_path / "one_token")], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-4000:]
