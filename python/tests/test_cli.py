# SPDX-License-Identifier: Apache-2.0
"""The issue's command sequence end to end, and generated C compiled into a two-model program."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mcubert.targets import host
from mcubert.int8 import modelfile
from mcubert.int8 import reference
from mcubert.text.vocab import encode, tokenizer_from_vocab

pytestmark = pytest.mark.slow      # the command line in subprocesses, real models


def mcubert(*args, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "mcubert", *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"mcubert {' '.join(map(str, args))} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The issue's model: bert-tiny, 4 clusters of ranks 64,32,16,0, from the command line."""
    t = tmp_path_factory.mktemp("cli")
    mcubert("new-model", "--preset", "bert-tiny", "--clusters", "4", "--ranks", "64,32,16,0", "--seed", "1",
            "--out", t / "m")
    r = mcubert("quantize", t / "m", "--out", t / "m.mcubert", "--samples", "16")
    assert "random token sequences" in r.stdout and "label agreement" in r.stdout
    return t


def test_verify_both_schedules(tiny):
    r = mcubert("verify", tiny / "m.mcubert", "--max-seq-len", "512", "--n", "6")
    assert r.stdout.strip().splitlines()[-1] == "bit-exact: 6/6"
    r = mcubert("verify", tiny / "m.mcubert", "--max-seq-len", "128", "--n", "3", "--schedule", "layerwise")
    assert r.stdout.strip().splitlines()[-1] == "bit-exact: 3/3"


def test_plan_targets(tiny):
    for L, limit in ((512, 204800), (128, 51200)):      # issue 18
        last = mcubert("plan", tiny / "m.mcubert", "--max-seq-len", L).stdout.strip().splitlines()[-1]
        key, value = last.split(": ")
        assert key == "peak_arena_bytes" and int(value) <= limit


def test_run_text_and_ids(tiny):
    qm = modelfile.load(tiny / "m.mcubert")
    assert qm.vocab is not None and len(qm.vocab) == 30522
    r = mcubert("run", tiny / "m.mcubert", "--text", "a gripping, beautifully acted film", "--max-seq-len", "64")
    ids = encode(tokenizer_from_vocab(qm.vocab), "a gripping, beautifully acted film", 64)
    want = reference.classify(qm, ids)
    best = qm.labels[int(np.argmax(want))]
    assert f"label: {best}" in r.stdout
    assert f"(int {want[0]})" in r.stdout and f"(int {want[1]})" in r.stdout
    r = mcubert("run", tiny / "m.mcubert", "--ids", "101,7592,2088,102", "--max-seq-len", "16")
    assert f"(int {reference.classify(qm, [101, 7592, 2088, 102])[0]})" in r.stdout
    r = mcubert("run", tiny / "m.mcubert", "--ids", "101,40000", "--max-seq-len", "16", check=False)
    assert r.returncode == 2 and "token id 40000 is outside the vocabulary (0..30521)" in r.stderr


def test_quantize_with_sentences(tiny):
    data = tiny / "sentences.txt"
    data.write_text("the film is a delight\nwooden acting and a plot full of holes\nnot bad at all\n")
    r = mcubert("quantize", tiny / "m", "--out", tiny / "s.mcubert", "--data", data)
    assert "calibrated on 3 sentences" in r.stdout
    a, b = modelfile.load(tiny / "s.mcubert"), modelfile.load(tiny / "m.mcubert")
    assert a.scales["h0"] != b.scales["h0"]           # calibration data changed the scales


def test_bad_model_file(tiny):
    raw = (tiny / "m.mcubert").read_bytes()
    bad = tiny / "bad.mcubert"
    bad.write_bytes(raw[:-100] + bytes(100))
    r = mcubert("plan", bad, "--max-seq-len", "16", check=False)
    assert r.returncode == 2 and "CRC mismatch" in r.stderr
    bad.write_bytes(b"XXXXXXXX" + raw[8:])
    assert "bad magic" in mcubert("verify", bad, "--max-seq-len", "8", check=False).stderr
    r = mcubert("plan", tiny / "m.mcubert", "--max-seq-len", "513", check=False)
    assert r.returncode == 2 and "outside 1..512" in r.stderr


TWO_MODELS_C = r"""
#include <stdio.h>
#include <stdint.h>
#include "a/mcubert_schedule.h"
#include "b/mcubert_schedule.h"

static const uint8_t a_blob[] __attribute__((aligned(16))) = {
#include "a/model_a_blob.inc"
};
static const uint8_t b_blob[] __attribute__((aligned(16))) = {
#include "b/model_b_blob.inc"
};
static uint8_t arena_a[MODEL_A_ARENA_SIZE] __attribute__((aligned(16)));
static uint8_t arena_b[MODEL_B_ARENA_SIZE] __attribute__((aligned(16)));

int main(void)
{
	struct mcubert_ctx ca, cb;
	static const uint16_t ids[] = {101, 7592, 2088, 999, 102};
	int32_t la[MODEL_A_NUM_LABELS], lb[MODEL_B_NUM_LABELS];

	if (mcubert_init(&ca, &model_a_schedule, a_blob, sizeof(a_blob), arena_a, sizeof(arena_a)) ||
	    mcubert_init(&cb, &model_b_schedule, b_blob, sizeof(b_blob), arena_b, sizeof(arena_b))) {
		return 1;
	}
	/* a blob paired with the other model's schedule is refused */
	if (mcubert_init(&cb, &model_a_schedule, b_blob, sizeof(b_blob), arena_a, sizeof(arena_a)) !=
	    MCUBERT_ERR_SCHEDULE) {
		return 2;
	}
	mcubert_init(&cb, &model_b_schedule, b_blob, sizeof(b_blob), arena_b, sizeof(arena_b));
	mcubert_init(&ca, &model_a_schedule, a_blob, sizeof(a_blob), arena_a, sizeof(arena_a));
	if (mcubert_classify(&ca, ids, 5, la) || mcubert_classify(&cb, ids, 5, lb)) {
		return 3;
	}
	printf("%s %d %d\n", model_a_labels[0], (int)la[0], (int)la[1]);
	for (unsigned i = 0; i < MODEL_B_NUM_LABELS; i++) {
		printf("%d ", (int)lb[i]);
	}
	printf("\n");
	return 0;
}
"""


def test_two_models_in_one_program(tiny, tmp_path):
    """Generated headers and .inc blobs of two models compile into one C program and run there."""
    from conftest import make_qm

    _, qb = make_qm(tmp_path, layers=1, hidden=40, heads=2, ffn=48, vocab=30522, max_pos=32, clusters=2,
                    ranks=(8, 0), labels=3, seed=3)
    modelfile.save(qb, tmp_path / "b.mcubert")
    mcubert("generate", tiny / "m.mcubert", "--max-seq-len", "64", "--out-dir", tmp_path / "a", "--name", "model_a")
    mcubert("generate", tmp_path / "b.mcubert", "--max-seq-len", "16", "--schedule", "layerwise",
            "--out-dir", tmp_path / "b", "--name", "model_b")
    header = (tmp_path / "a" / "mcubert_schedule.h").read_text()
    assert "static const struct mcubert_schedule model_a_schedule" in header and ".arena_size" in header
    (tmp_path / "main.c").write_text(TWO_MODELS_C)
    from cmake_sources import runtime_sources

    exe = tmp_path / "two"
    subprocess.run(["cc", "-std=c99", "-O1", "-Wall", "-Werror", f"-I{host.REPO / 'include'}", f"-I{tmp_path}",
                    str(tmp_path / "main.c"), *runtime_sources(), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")
    ids = [101, 7592, 2088, 999, 102]
    qa = modelfile.load(tiny / "m.mcubert")
    want_a = reference.classify(qa, ids)
    assert out[0] == f"{qa.labels[0]} {want_a[0]} {want_a[1]}"
    assert out[1].split() == [str(v) for v in reference.classify(qb, ids)]
    assert Path(tmp_path / "a" / "model_a_blob.bin").stat().st_size == int(
        header.split("MODEL_A_BLOB_SIZE ")[1].split("u")[0])
