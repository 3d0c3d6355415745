# SPDX-License-Identifier: Apache-2.0
"""The Zephyr side of the on-device tokenizer, without Zephyr: the shell sample's expected labels
(samples/bert_classify/pytest/shell_cases.py) against the Python integer reference, the shell
scenarios' boards against the flash the tokenizer needs (mcubert_add_model TOKENIZER's fit
check), and the wiring of TOKENIZER / CONFIG_MCUBERT_TOKENIZER / CONFIG_MCUBERT_SHELL."""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys

import pytest
import yaml

from mcubert.export.generate import tokenize_inputs
from mcubert.int8 import modelfile
from mcubert.targets import boards, host, zephyr
from mcubert.text.wordpiece import WordPiece

REPO = host.REPO
SAMPLE = REPO / "samples" / "bert_classify"
MODELS = sorted((SAMPLE / "model").glob("*.mcubert"))


def shell_cases() -> list[tuple[str, str]]:
    spec = importlib.util.spec_from_file_location("shell_cases", SAMPLE / "pytest" / "shell_cases.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.CASES


def shell_scenarios() -> dict[str, dict]:
    data = yaml.safe_load((SAMPLE / "sample.yaml").read_text())
    return {name: {**data.get("common", {}), **sc} for name, sc in data["tests"].items()
            if "shell.conf" in str(sc.get("extra_args", ""))}


@pytest.mark.parametrize("model", MODELS, ids=lambda p: p.name)
def test_shell_cases_agree_with_the_reference(model):
    """Each committed model, at the sample's MAX_SEQ_LEN, gives every case its listed label."""
    cases = shell_cases()
    qm = modelfile.load(model)
    got = [qm.labels[x.label] for x in tokenize_inputs(qm, [t for t, _ in cases], 128)]
    assert got == [label for _, label in cases]


def test_shell_cases_are_typable_and_cover_truncation():
    cases = shell_cases()
    assert len(cases) >= 10 and {label for _, label in cases} == {"negative", "positive"}
    for text, _ in cases:
        assert all(0x20 <= ord(c) < 0x7F for c in text), f"the shell drops non-ASCII bytes: {text!r}"
        assert len("mcubert classify " + text) < 1024, "CONFIG_SHELL_CMD_BUFF_SIZE in shell.conf"
    wp = WordPiece(modelfile.load(MODELS[0]).vocab)
    assert any(len(wp.tokenize(t)) > 126 for t, _ in cases), "one case must be cut to 128 tokens"


def _dt(prof: boards.Board) -> dict[str, tuple[int, int]]:
    dt = {"zephyr,flash": (prof.flash.base, prof.flash.size)}
    dt.update({r.chosen: (r.base, r.size) for r in prof.ram if r.chosen})
    return dt


def _model_for(platform: str) -> str:
    conf = SAMPLE / "boards" / (platform.replace("/", "_") + ".conf")
    if conf.is_file():
        m = re.search(r'^CONFIG_BERT_CLASSIFY_MODEL="(.*)"$', conf.read_text(), re.M)
        if m:
            return m.group(1)
    return re.search(r'config BERT_CLASSIFY_MODEL\n.*?default "(.*?)"', (SAMPLE / "Kconfig").read_text(),
                     re.S).group(1)


def test_shell_scenarios_fit_their_boards():
    """Every board a shell scenario builds for holds the model blob, the vocabulary blob and the
    Unicode tables; qemu_cortex_m3, left out, does not."""
    scenarios = shell_scenarios()
    assert {"sample.mcubert.bert_classify.shell", "sample.mcubert.bert_classify.shell.nucleo_f746zg"} <= set(scenarios)
    platforms = {p for sc in scenarios.values() for p in sc["platform_allow"]}
    assert platforms == {"mps2/an521/cpu0", "mps3/an547", "nucleo_f746zg"}
    for platform in sorted(platforms) + ["qemu_cortex_m3"]:
        prof = boards.find(platform.split("/")[0], platform)
        assert prof is not None, platform
        model = SAMPLE / _model_for(platform)
        ok, msg = zephyr.check(model, "bert", 128, "fine", prof.zephyr_board, platform, "zephyr,sram", _dt(prof),
                               tokenizer=True)
        assert ok == (platform != "qemu_cortex_m3"), msg
        if not ok:
            assert "with the tokenizer needs" in msg and "vocabulary blob" in msg
        else:
            assert "tokenizer: vocabulary blob" in msg
    runs = [sc for sc in scenarios.values() if not sc.get("build_only")]
    assert all(sc["harness"] == "pytest" and sc["harness_config"]["pytest_root"] == ["pytest/test_shell.py"]
               for sc in runs)


def test_check_without_tokenizer_is_unchanged():
    prof = boards.find("qemu_cortex_m3")
    micro = SAMPLE / "model" / "sentiment_micro.mcubert"
    ok, msg = zephyr.check(micro, "bert", 128, "fine", "qemu_cortex_m3", "qemu_cortex_m3", "zephyr,sram", _dt(prof))
    assert ok and "tokenizer" not in msg


def test_check_tokenizer_needs_a_vocabulary(tmp_path):
    qm = modelfile.load(REPO / "tests" / "runtime" / "model" / "tiny.mcubert")
    qm.vocab = None
    path = tmp_path / "novocab.mcubert"
    modelfile.save(qm, path)
    r = subprocess.run([sys.executable, "-m", "mcubert.targets.zephyr", "check", "--model", str(path), "--name", "x",
                        "--max-seq-len", "16", "--board", "other", "--dt", "zephyr,sram=0x20000000:65536",
                        "--tokenizer"], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO / "python")})
    assert r.returncode == 1 and "no vocabulary" in r.stderr


def test_deps_include_the_tokenizer_generators():
    files = {p.name for p in zephyr.generator_files()}
    assert {"tokenizer_blob.py", "tokenizer_golden.py", "vocab.h.j2", "vocab.c.j2"} <= files


def test_cmake_and_kconfig_wiring():
    cmake = (REPO / "cmake" / "mcubert_zephyr.cmake").read_text()
    assert 'cmake_parse_arguments(arg "TOKENIZER"' in cmake
    assert "arg_TOKENIZER AND NOT CONFIG_MCUBERT_TOKENIZER" in cmake and "--tokenizer" in cmake
    top = (REPO / "CMakeLists.txt").read_text()
    assert "zephyr_library_sources_ifdef(CONFIG_MCUBERT_TOKENIZER ${MCUBERT_TOKENIZER_SOURCES})" in top
    assert "zephyr_library_sources_ifdef(CONFIG_MCUBERT_SHELL src/zephyr/mcubert_shell.c)" in top
    kconfig = (REPO / "Kconfig").read_text()
    shell = re.search(r"^config MCUBERT_SHELL\n(.*?)^\S", kconfig, re.M | re.S).group(1)
    assert "depends on SHELL" in shell and "select MCUBERT_TOKENIZER" in shell
    assert "config MCUBERT_TOKENIZER\n" in kconfig
    conf = (SAMPLE / "shell.conf").read_text()
    assert "CONFIG_MCUBERT_SHELL=y" in conf and "CONFIG_SHELL=y" in conf
    assert "CONFIG_MCUBERT_TOKENIZER" in (SAMPLE / "CMakeLists.txt").read_text()


def test_shell_source_compiles_against_its_header(tmp_path):
    """mcubert_shell.h's MCUBERT_SHELL_MODEL() fits what `mcubert generate --c-source --tokenizer`
    writes (no Zephyr here: only the initialiser is compiled)."""
    import shutil

    from mcubert.cli import main

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no host C compiler")
    out = tmp_path / "gen"
    assert main(["generate", str(REPO / "tests" / "runtime" / "model" / "tiny.mcubert"), "--max-seq-len", "16",
                 "--out-dir", str(out), "--name", "bert", "--c-source", "--tokenizer"]) == 0
    (tmp_path / "m.c").write_text('#include <mcubert/mcubert_shell.h>\n#include "bert_model.h"\n'
                                  '#include "bert_vocab.h"\n'
                                  "const struct mcubert_shell_model m = MCUBERT_SHELL_MODEL(bert, BERT);\n")
    subprocess.run([cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-c", f"-I{REPO / 'include'}", f"-I{out}",
                    str(tmp_path / "m.c"), "-o", str(tmp_path / "m.o")], check=True)
