# SPDX-License-Identifier: Apache-2.0
"""The logic behind mcubert_add_model(): build-time generation (model.c/.h, inputs.h), the
dependency list, and the configure-time fit check against the devicetree and board profiles.
CI has no Zephyr, so the generated C is compiled and run here against the host runtime."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cmake_sources import runtime_sources
from conftest import make_qm
from mcubert.targets import boards
from mcubert.export import generate
from mcubert.targets import host
from mcubert.int8 import modelfile
from mcubert.int8 import reference
from mcubert.targets import zephyr
from mcubert.targets.fit import arena_size, blob_size, fit_report, max_fitting_seq_len
from mcubert.text.wordpiece import WordPiece

WORDS = ["the", "film", "movie", "is", "a", "delight", "wooden", "acting", "plot", "full", "of", "holes",
         "not", "bad", "at", "all", "great", "##s", "##ly", "slow", "worst", "ever", "made"]
SENTENCES = ['The film is a delight!', 'Wooden acting, a plot full of holes -- the worst "film" ever made?',
             "not bad at all", "caf\u00e9 \u00fcber \u6771 \U0001F600 ??=",
             " ".join(["great"] * 40)]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small model with a small WordPiece vocabulary of its own, saved as a .mcubert file."""
    d = tmp_path_factory.mktemp("zgen")
    _, qm = make_qm(d, layers=2, hidden=36, heads=3, ffn=48, vocab=300, max_pos=64, clusters=3,
                    ranks=(12, 0, 5), labels=3, seed=11)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "!", ",", "-", ".", "?", "=", '"'] + WORDS
    qm.vocab = vocab + [f"[unused{i}]" for i in range(300 - len(vocab))]
    qm.config["id2label"] = {"0": "negative", "1": "neutral \"quoted\"", "2": "positive"}
    path = d / "toy.mcubert"
    modelfile.save(qm, path)
    return path


MAIN_C = r"""
#include <stdio.h>
#include "toy_model.h"
#include "toy_inputs.h"

int main(void)
{
	struct mcubert_ctx ctx;
	int32_t logits[TOY_NUM_LABELS];
	int err = mcubert_init(&ctx, &toy_schedule, toy_blob, TOY_BLOB_SIZE, toy_arena, TOY_ARENA_SIZE);

	if (err) {
		printf("init %d\n", err);
		return 1;
	}
	for (unsigned i = 0; i < TOY_NUM_INPUTS; i++) {
		err = mcubert_classify(&ctx, &toy_input_tokens[toy_input_offset[i]], toy_input_len[i], logits);
		printf("%u %d %s|", i, err, toy_input_text[i]);
		for (unsigned k = 0; k < TOY_NUM_LABELS; k++) {
			printf(" %ld/%ld", (long)logits[k], (long)toy_input_logits[i][k]);
		}
		printf(" label %s\n", toy_labels[toy_input_label[i]]);
	}
	return 0;
}
"""


def _generate(model, out, **kw):
    out.mkdir(parents=True, exist_ok=True)
    (out / "s.txt").write_text("# a comment line\n\n" + "\n".join(SENTENCES) + "\n", encoding="utf-8")
    return generate.generate(model, 16, out, name="toy", c_source=True, inputs=out / "s.txt",
                             header_name="toy_schedule.h", **kw)


def _compile_and_run(d, g, main_c: str) -> list[str]:
    """Compile main_c with the generated model.c and the runtime (-Werror); its output lines."""
    (d / "main.c").write_text(main_c)
    exe = d / "toy"
    subprocess.run(["cc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", f"-I{host.REPO / 'include'}",
                    f"-I{d}", str(d / "main.c"), str(g.files["model_c"]), *runtime_sources(), "-o", str(exe)],
                   check=True)
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()


def test_generated_c_runs_bit_exact(model, tmp_path):
    """<name>_model.c/.h and <name>_inputs.h compile with -Werror, and the runtime reproduces the
    reference logits stored in the header for every sentence, including escapes and truncation."""
    g = _generate(model, tmp_path)
    assert {"model_h", "model_c", "inputs", "inc"} <= set(g.files)
    lines = _compile_and_run(tmp_path, g, MAIN_C)
    qm = modelfile.load(model)
    wp = WordPiece(qm.vocab)
    assert len(lines) == len(SENTENCES)
    for i, (line, s) in enumerate(zip(lines, SENTENCES)):
        head, rest = line.split("|", 1)
        assert head == f"{i} 0 {s}".encode().decode()      # the text survives C escaping
        ids = wp.encode(s, 16)
        want = [int(v) for v in reference.classify(qm, ids)]
        pairs = [p.split("/") for p in rest.split(" label ")[0].split()]
        assert [int(a) for a, _ in pairs] == want == [int(b) for _, b in pairs]
        assert rest.endswith(f"label {qm.labels[max(range(3), key=want.__getitem__)]}")
    assert len(wp.encode(SENTENCES[-1], 16)) == 16          # the long one was truncated to L


def test_arena_extern(model, tmp_path):
    g = _generate(model, tmp_path, arena_extern="app_arena")
    h, c = g.files["model_h"].read_text(), g.files["model_c"].read_text()
    assert "extern uint8_t app_arena[];" in h and "#define toy_arena app_arena" in h
    assert "MCUBERT_ARENA_DEFINE" not in c.split("#endif", 1)[1]
    with pytest.raises(ValueError, match="not a C identifier"):
        _generate(model, tmp_path / "x", arena_extern="1bad-name")


def test_regeneration_keeps_unchanged_outputs(model, tmp_path):
    """A second run with the same inputs rewrites nothing, so nothing downstream recompiles."""
    g = _generate(model, tmp_path)
    before = {k: p.stat().st_mtime_ns for k, p in g.files.items()}
    os.utime(g.files["model_c"], ns=(1, 1))          # an old timestamp that a rewrite would change
    before["model_c"] = 1
    _generate(model, tmp_path)
    assert {k: p.stat().st_mtime_ns for k, p in g.files.items()} == before
    (tmp_path / "s.txt").write_text("a different sentence\n")
    g2 = generate.generate(model, 16, tmp_path, name="toy", c_source=True, inputs=tmp_path / "s.txt")
    assert g2.files["inputs"].stat().st_mtime_ns != before["inputs"]


def test_inputs_need_a_vocabulary(tmp_path):
    _, qm = make_qm(tmp_path, vocab=300)
    qm.vocab = None
    modelfile.save(qm, tmp_path / "novocab.mcubert")
    (tmp_path / "s.txt").write_text("hello\n")
    with pytest.raises(ValueError, match="no vocabulary"):
        generate.generate(tmp_path / "novocab.mcubert", 16, tmp_path, inputs=tmp_path / "s.txt")


def test_deps_lists_generator_sources():
    """A fresh interpreter, as in the configure step: what the generator loads, and nothing heavy."""
    r = subprocess.run([sys.executable, "-m", "mcubert.targets.zephyr", "deps"], capture_output=True, text=True,
                       check=True, env={**os.environ, "PYTHONPATH": str(host.REPO / "python")})
    paths = r.stdout.strip().split(";")
    files = {os.path.basename(p) for p in paths}
    assert {"generate.py", "wordpiece.py", "reference.py", "blob.py", "planner.py", "modelfile.py",
            "model.c.j2", "model.h.j2", "inputs.h.j2", "__main__.py", "cli.py"} <= files
    assert not {"quantize.py", "model.py", "newmodel.py"} & files     # no torch at build time
    assert all(os.path.isabs(p) and os.path.isfile(p) for p in paths)


def test_generate_imports_no_torch(model, tmp_path):
    """The build-time command runs with numpy and jinja2 only."""
    code = ("import sys, runpy; sys.argv = ['mcubert', 'generate', sys.argv[1], '--max-seq-len', '16', "
            "'--out-dir', sys.argv[2], '--c-source']; import mcubert.cli as c; rc = c.main(sys.argv[1:]); "
            "assert rc == 0; bad = [m for m in ('torch', 'transformers', 'tokenizers') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code, str(model), str(tmp_path)], check=True)


def test_missing_requirements_name_the_fix():
    """What the configure step prints when Zephyr's Python lacks a build requirement."""
    code = ("import sys, runpy; sys.modules['jinja2'] = None; sys.argv = ['zephyr', 'deps']; "
            "runpy.run_module('mcubert.targets.zephyr', run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(host.REPO / "python")})
    assert r.returncode == 1 and r.stdout == ""
    assert f"{sys.executable} -m pip install jinja2==3.1.6" in r.stderr and "numpy" not in r.stderr


F746 = ["zephyr,sram=0x20010000:262144", "zephyr,flash=0x8000000:1048576", "zephyr,dtcm=0x20000000:65536"]


def _check(model, *extra, L=16, board="nucleo_f746zg", dt=F746):
    args = ["check", "--model", str(model), "--name", "toy", "--max-seq-len", str(L), "--board", board,
            "--board-target", f"{board}/stm32f746xx"]
    for d in dt:
        args += ["--dt", d]
    return zephyr.main(args + list(extra))


def test_check_fits(model, capsys):
    assert _check(model) == 0
    out = capsys.readouterr().out
    qm = modelfile.load(model)
    assert f"blob {blob_size(qm, 16)} B in flash, arena {arena_size(qm, 16)} B of 262144 B SRAM" in out
    assert "board profile nucleo_f746zg.yaml agrees with the devicetree" in out


def test_check_arena_too_big_gives_numbers_and_a_hint_that_fits(model, capsys):
    qm = modelfile.load(model)
    ram = arena_size(qm, 40) - 1                      # L=40 just misses
    dt = [f"zephyr,sram=0x20000000:{ram}", "zephyr,flash=0x0:1048576"]
    assert _check(model, L=64, board="someboard", dt=dt) == 1
    err = capsys.readouterr().err
    assert f"needs an arena of {arena_size(qm, 64)} B at MAX_SEQ_LEN 64" in err and f"has {ram} B" in err
    best = int(err.split("Hint: MAX_SEQ_LEN ")[1].split()[0])
    # the largest length that fits (the plan's tiles change with L, so the arena is not monotone)
    assert arena_size(qm, best) <= ram < arena_size(qm, best + 1)
    assert best == max(n for n in range(1, 64) if arena_size(qm, n) <= ram)


def test_check_dtcm_and_flash(model, capsys):
    qm = modelfile.load(model)
    small_dtcm = [F746[0], F746[1], f"zephyr,dtcm=0x20000000:{arena_size(qm, 16) - 16}"]
    # nucleo's profile would disagree with this devicetree, so use a board without a profile
    assert _check(model, "--arena-chosen", "zephyr,dtcm", board="other", dt=small_dtcm) == 1
    assert "DTCM (zephyr,dtcm)" in capsys.readouterr().err
    tiny_flash = [F746[0], f"zephyr,flash=0x0:{blob_size(qm, 16) - 1}"]
    assert _check(model, board="other", dt=tiny_flash) == 1
    assert f"is a {blob_size(qm, 16)} B blob" in capsys.readouterr().err
    assert _check(model, "--arena-chosen", "zephyr,dtcm", board="other", dt=F746[:2]) == 1
    assert "does not choose" in capsys.readouterr().err
    assert _check(model, L=65) == 1 and "outside 2..64" in capsys.readouterr().err
    bad = model.parent / "bad.mcubert"
    bad.write_bytes(model.read_bytes()[:100])
    assert _check(bad) == 1 and "cannot use model" in capsys.readouterr().err


def test_check_compares_profile_with_devicetree(model, capsys):
    dt = ["zephyr,sram=0x20010000:245760", F746[1], F746[2]]    # SRAM1 only: the profile says 256 KiB
    assert _check(model, dt=dt) == 1
    err = capsys.readouterr().err
    assert "nucleo_f746zg.yaml disagrees" in err and "profile 262144 B at 0x20010000" in err and "245760" in err
    assert _check(model, board="unknown_board", dt=F746) == 0
    assert "no board profile for unknown_board" in capsys.readouterr().out


def test_board_profiles_load_and_match_zephyr_names():
    bs = {b.name: b for b in boards.all_boards()}
    assert {"nucleo_f746zg", "nucleo_h743zi", "qemu_cortex_m3", "mps2_an521_cpu0", "mps3_an547"} <= set(bs)
    assert [b.name for b in bs.values() if b.dsp] == ["mps3_an547", "nucleo_f746zg", "nucleo_h743zi"]
    f7 = bs["nucleo_f746zg"]
    assert f7.region("zephyr,sram").size + f7.region("zephyr,dtcm").size == 320 * 1024
    assert f7.flash.size == 1 << 20 and f7.dsp and f7.max_clock_hz == 216_000_000
    assert boards.find("mps2", "mps2/an521/cpu0").name == "mps2_an521_cpu0"
    assert boards.find("qemu_cortex_m3", "qemu_cortex_m3/ti_lm3s6965").dsp is False
    assert boards.find("nucleo_f746zg", "nucleo_f746zg/stm32f746xx") is f7 or boards.find("nucleo_f746zg").name == f7.name
    for b in bs.values():                      # regions do not overlap one another
        rs = sorted(b.ram + [b.flash], key=lambda r: r.base)
        assert all(x.base + x.size <= y.base for x, y in zip(rs, rs[1:])), b.name


def test_fit_report_and_plan_board(model, tmp_path):
    qm = modelfile.load(model)
    rep = fit_report(qm, boards.get("qemu_cortex_m3"), 64)
    assert rep.fits and f"arena {arena_size(qm, 64)} B in SRAM (65536 B): fits" in rep.text
    assert max_fitting_seq_len(qm, arena_size(qm, 20)) == 20
    assert max_fitting_seq_len(qm, 10) == 0
    r = subprocess.run([sys.executable, "-m", "mcubert", "plan", str(model), "--max-seq-len", "64",
                        "--board", "nucleo_f746zg"], capture_output=True, text=True)
    assert r.returncode == 0 and "fits: yes, arena in DTCM" in r.stdout
    profile = tmp_path / "mini.yaml"
    profile.write_text("name: mini\nzephyr_board: mini\ncpu: cortex-m0\ndsp: false\nclock_hz: 1\n"
                       "flash: {base: 0, size: 4096}\nram: [{base: 0x20000000, size: 2048}]\n")
    r = subprocess.run([sys.executable, "-m", "mcubert", "plan", str(model), "--max-seq-len", "64",
                        "--board", str(profile)], capture_output=True, text=True)
    assert r.returncode == 1 and "fits: no" in r.stdout and "too big" in r.stdout
    # the fit line names what limits the input length: the model's positions, or the board's RAM
    assert (f"longest input: {qm.max_positions} tokens, limited by the model (max positions "
            f"{qm.max_positions}); SRAM (262144 B) would hold more") in fit_report(qm, boards.get("nucleo_f746zg"), 64).text
    small = max_fitting_seq_len(qm, 2048)
    assert small < qm.max_positions and (f"longest input: {small} tokens, limited by the board (RAM0, 2048 B); "
                                         f"the model takes up to {qm.max_positions}") in r.stdout
    with pytest.raises(ValueError, match="no board profile 'nope'"):
        boards.get("nope")


PAIRS = ["the film is a delight\tnot bad at all", "wooden acting\tthe worst film ever made",
         " ".join(["great"] * 10) + "\t" + " ".join(["slow"] * 10)]


def test_generated_pairs_run_bit_exact(model, tmp_path):
    """A sentence-pair model: INPUTS lines are `a<TAB>b`; inputs.h carries n_first and
    <NAME>_TEXT_PAIR, and mcubert_classify_pair() reproduces the reference on every pair,
    truncation (longest side first) included."""
    import numpy as np

    qm = modelfile.load(model)
    qm.config["text_pair"] = True
    qm.tensors["seg"] = np.random.default_rng(5).integers(-3000, 3000, qm.hidden).astype(np.int16)
    path = tmp_path / "toy.mcubert"
    modelfile.save(qm, path)
    (tmp_path / "p.txt").write_text("\n".join(PAIRS) + "\n", encoding="utf-8")
    g = generate.generate(path, 16, tmp_path, name="toy", c_source=True, inputs=tmp_path / "p.txt",
                          header_name="toy_schedule.h")
    text = g.files["inputs"].read_text()
    assert "#define TOY_TEXT_PAIR 1" in text and "toy_input_n_first" in text
    main = MAIN_C.replace("mcubert_classify(&ctx, &toy_input_tokens[toy_input_offset[i]], toy_input_len[i], logits)",
                          "mcubert_classify_pair(&ctx, &toy_input_tokens[toy_input_offset[i]], toy_input_len[i], "
                          "toy_input_n_first[i], logits)")
    assert main != MAIN_C
    lines = _compile_and_run(tmp_path, g, main)
    wp = WordPiece(qm.vocab)
    assert len(lines) == len(PAIRS)
    differs = 0
    for i, (line, p) in enumerate(zip(lines, PAIRS)):
        a, b = p.split("\t")
        head, rest = line.split("|", 1)
        assert head == f"{i} 0 {a} [SEP] {b}"
        ids, n_first = wp.encode_pair(a, b, 16)
        assert 1 < n_first < len(ids) <= 16
        want = [int(v) for v in reference.classify(qm, reference.Pair(ids, n_first))]
        got = [p.split("/") for p in rest.split(" label ")[0].split()]
        assert [int(x) for x, _ in got] == want == [int(y) for _, y in got]
        differs += want != [int(v) for v in reference.classify(qm, ids)]
    assert differs, "segment B changed no logits: the pair path is not exercised"
    ids, n_first = wp.encode_pair(*PAIRS[2].split("\t"), 16)
    assert (n_first, len(ids)) == (8, 16)           # 10 + 10 words into 13 slots: 6 and 7
