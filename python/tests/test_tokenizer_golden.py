# SPDX-License-Identifier: Apache-2.0
"""The golden ids of the on-device tokenizer suite (tests/tokenizer): the generator
(mcubert.targets.tokenizer_golden) covers what it should, is deterministic, and its header,
checked by tests/tokenizer/src/golden_check.c against the host build of the C tokenizer,
passes, and fails when a golden id, status, count or n_first is altered."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

from cmake_sources import runtime_sources
from mcubert.int8 import modelfile
from mcubert.targets import host, tokenizer_golden as tg
from mcubert.text.wordpiece import WordPiece

REPO = host.REPO
SUITE = REPO / "tests" / "tokenizer"
# The models tests/tokenizer/CMakeLists.txt uses: the whole bert-base-uncased vocabulary, and
# its first 3000 tokens on the small boards.
MODELS = [REPO / "samples" / "bert_classify" / "model" / "sentiment_micro.mcubert",
          REPO / "tests" / "runtime" / "model" / "tiny.mcubert"]

HOST_MAIN_C = r"""
#include <stdio.h>
#include <string.h>
#include "golden.h"
#include "tok_vocab.h"

static void report(uint32_t i, const char *what, uint32_t pos, long got, long want)
{
	printf("golden case %u: %s (position %u): got %ld, want %ld\n", (unsigned)i, what, (unsigned)pos,
	       got, want);
}

int main(void)
{
	static struct mcubert_vocab v;
	static uint8_t scratch[MCUBERT_TOKENIZE_BUFFER_SIZE];
	static uint16_t ids[GOLDEN_MAX_IDS];
	int err = mcubert_vocab_init(&v, tok_vocab, TOK_VOCAB_SIZE, scratch, sizeof(scratch));

	if (err) {
		printf("init %d\n", err);
		return 2;
	}
	uint32_t failed = golden_check(&v, golden_cases, GOLDEN_NUM_CASES, golden_ids, ids,
				       GOLDEN_MAX_IDS, report);
	printf("%u/%u golden cases match\n", (unsigned)(GOLDEN_NUM_CASES - failed), (unsigned)GOLDEN_NUM_CASES);
	return failed ? 1 : 0;
}
"""


def test_cases_cover_the_brief():
    cases = tg.cases()
    notes = " ".join(c.note for c in cases)
    for kind in ("accents", "cjk", "emoji", "controls", "zero-width", "invalid utf-8", "truncated", "pair"):
        assert kind in notes, kind
    assert len(cases) >= 250
    assert sum(c.b is not None for c in cases) >= 40
    invalid = [c for c in cases if not _valid(c.a) or (c.b is not None and not _valid(c.b))]
    assert len(invalid) >= 30
    wp = WordPiece(modelfile.load(MODELS[0]).vocab)
    gold = [tg.expected(wp, c) for c in cases]
    assert sum(g.truncated for g in gold) >= 30 and sum(not g.truncated for g in gold) >= 100


def _valid(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_generator_is_deterministic_and_seeded():
    a, b = tg.generate(MODELS[1]), tg.generate(MODELS[1])
    assert a == b
    assert tg.generate(MODELS[1], seed=tg.DEFAULT_SEED + 1) != a


def test_c_literals_hold_the_exact_bytes(tmp_path):
    """Octal escapes, \\? and quotes: a C compiler reads back every byte, NULs included."""
    cc = _cc()
    data = bytes(range(256)) + b'??=??/"\\7a\x00\x01b'
    (tmp_path / "t.c").write_text(f'#include <stdio.h>\nstatic const char s[] = {tg.c_bytes(data)};\n'
                                  'int main(void) { fwrite(s, 1, sizeof(s) - 1, stdout); return 0; }\n')
    subprocess.run([cc, "-std=c99", "-Wall", "-Werror", "-trigraphs", str(tmp_path / "t.c"), "-o",
                    str(tmp_path / "t")], check=True)
    assert subprocess.run([str(tmp_path / "t")], capture_output=True, check=True).stdout == data


def _cc() -> str:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.skip("no host C compiler")
    return cc


def _build(tmp_path, model, golden_text: str) -> subprocess.CompletedProcess:
    from mcubert.cli import main

    cc = _cc()
    out = tmp_path / "gen"
    if not (out / "tok_vocab.c").exists():
        assert main(["generate", str(model), "--max-seq-len", "16", "--out-dir", str(out), "--name", "tok",
                     "--tokenizer"]) == 0
    (out / "golden.h").write_text(golden_text)
    (tmp_path / "main.c").write_text(HOST_MAIN_C)
    exe = tmp_path / "golden"
    subprocess.run([cc, "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", f"-I{REPO / 'include'}", f"-I{out}",
                    f"-I{SUITE / 'src'}", str(tmp_path / "main.c"), str(SUITE / "src" / "golden_check.c"),
                    str(out / "tok_vocab.c"), *runtime_sources(), "-o", str(exe)], check=True)
    return subprocess.run([str(exe)], capture_output=True, text=True)


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.name)
def test_golden_header_passes_on_the_host(tmp_path, model):
    """What the build runs: the module's CLI writes the header, the host C tokenizer matches it."""
    out = tmp_path / "golden.h"
    subprocess.run([sys.executable, "-m", "mcubert.targets.tokenizer_golden", "--model", str(model), "--out",
                    str(out)], check=True, env={"PYTHONPATH": str(REPO / "python"), "PATH": "/usr/bin:/bin"})
    r = _build(tmp_path, model, out.read_text())
    n = len(tg.cases())
    assert r.returncode == 0 and f"{n}/{n} golden cases match" in r.stdout, r.stdout


def test_altered_golden_fails(tmp_path):
    """One changed id, status, count or n_first makes the check fail and name the case."""
    model = MODELS[0]
    text = tg.generate(model)
    body = text.split("static const uint16_t golden_ids[GOLDEN_NUM_IDS] = {\n", 1)
    first_line = body[1].split("\n", 1)[0]
    ids = first_line.strip().rstrip(",").split(", ")
    ids[1] = str(int(ids[1]) + 1)                     # case 0 (the empty text): its [SEP]
    altered = body[0] + "static const uint16_t golden_ids[GOLDEN_NUM_IDS] = {\n" + \
        "\t" + ", ".join(ids) + "," + body[1][len(first_line):]
    assert altered != text
    r = _build(tmp_path, model, altered)
    assert r.returncode == 1 and "golden case 0: id (position 1)" in r.stdout, r.stdout
    # the status of a truncated case
    m = re.search(r"(\t\{golden_a_(\d+), \d+u, NULL, 0u, 0u, \d+u, )1u", text)
    r = _build(tmp_path, model, text.replace(m.group(0), m.group(1) + "0u", 1))
    assert r.returncode == 1 and f"golden case {m.group(2)}: status" in r.stdout, r.stdout
    # a pair's n_first
    m = re.search(r"(\t\{golden_a_(\d+), \d+u, golden_b_\d+, \d+u, 1u, \d+u, \du, \d+u, )(\d+)u", text)
    r = _build(tmp_path, model, text.replace(m.group(0), f"{m.group(1)}{int(m.group(3)) + 1}u", 1))
    assert r.returncode == 1 and f"golden case {m.group(2)}: n_first" in r.stdout, r.stdout


def test_suite_files_and_scenarios():
    import yaml

    data = yaml.safe_load((SUITE / "testcase.yaml").read_text())
    run = data["tests"]["mcubert.tokenizer"]
    assert set(run["platform_allow"]) == {"qemu_cortex_m3", "mps2/an521/cpu0", "mps3/an547"}
    cmake = (SUITE / "CMakeLists.txt").read_text()
    assert "TOKENIZER" in cmake and "mcubert.targets.tokenizer_golden" in cmake
    for m in MODELS:
        assert m.relative_to(REPO).as_posix().split("/", 1)[1] in cmake
    assert "CONFIG_MCUBERT_TOKENIZER=y" in (SUITE / "prj.conf").read_text()
