# SPDX-License-Identifier: Apache-2.0
"""sample.mcubert.bert_classify.shell (Twister's pytest harness, Zephyr 3.7): sentences typed at
'mcubert classify' are tokenized and classified on the device, and get the label, every logit
(bit for bit) and the token count of the Python integer reference.

shell_cases.py holds the sentences and the label both committed models give;
python/tests/test_zephyr_shell.py checks them against the reference in CI. Here the reference also runs for the model the build used (its
.config), with the module's own Python package, for the logits and the token counts.
"""
from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
from twister_harness import DeviceAdapter, Shell

SAMPLE = Path(__file__).resolve().parents[1]
PYTHON_DIR = SAMPLE.parents[1] / "python"
MAX_SEQ_LEN_DEFAULT = 128

from shell_cases import CASES  # noqa: E402  (beside this file)

CHUNK = 32
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _config(build_dir: Path) -> dict[str, str]:
    conf = {}
    for line in (build_dir / "zephyr" / ".config").read_text().splitlines():
        m = re.fullmatch(r"(CONFIG_\w+)=(.*)", line)
        if m:
            conf[m.group(1)] = m.group(2).strip('"')
    return conf


@pytest.fixture(scope="module")
def reference(dut: DeviceAdapter):
    """The model's labels, for each case the reference's Input (ids, logits, label) and whether
    the text was cut, and the sequence limit."""
    conf = _config(Path(dut.device_config.build_dir))
    model = SAMPLE / conf["CONFIG_BERT_CLASSIFY_MODEL"]
    max_len = int(conf.get("CONFIG_BERT_CLASSIFY_MAX_SEQ_LEN", MAX_SEQ_LEN_DEFAULT))
    sys.path.insert(0, str(PYTHON_DIR))
    from mcubert.export.generate import tokenize_inputs
    from mcubert.int8 import modelfile
    from mcubert.text.wordpiece import WordPiece

    qm = modelfile.load(model)
    wp = WordPiece(qm.vocab)
    cut = [len(wp.tokenize(text)) > max_len - 2 for text, _ in CASES]
    return qm.labels, tokenize_inputs(qm, [text for text, _ in CASES], max_len), cut, max_len


def classify(dut: DeviceAdapter, text: str, timeout: float = 60.0) -> list[str]:
    """Type the command and read up to its last line (the echo of a long line wraps, so this
    waits for the output rather than for the echo, as Shell.exec_command would). Typed in
    chunks, as a person would: the shell echoes every byte, and a whole line at once can
    overrun the serial backend's receive buffer."""
    dut.clear_buffer()
    line = f"mcubert classify {text}\n".encode()
    for k in range(0, len(line), CHUNK):
        dut.write(line[k:k + CHUNK])
        time.sleep(0.02)
    lines = dut.readlines_until(regex=r"tokens: \d+|mcubert_\w+: |no model registered", timeout=timeout)
    return [ANSI.sub("", ln).strip() for ln in lines]


def test_info(shell: Shell, reference):
    labels, _, _, max_len = reference
    out = "\n".join(ANSI.sub("", ln) for ln in shell.exec_command("mcubert info"))
    assert "model: bert" in out
    assert re.search(r"vocab blob: [1-9]\d* bytes", out), out
    assert re.search(r"arena: [1-9]\d* bytes", out), out
    assert f"max seq len: {max_len}" in out
    assert f"labels ({len(labels)}): {' '.join(labels)}" in out


@pytest.mark.parametrize("case", range(len(CASES)), ids=lambda i: f"case{i}")
def test_classify(shell: Shell, dut: DeviceAdapter, reference, case):
    labels, inputs, cut, max_len = reference
    text, label = CASES[case]
    ref = inputs[case]
    assert labels[ref.label] == label, "CASES disagrees with the reference (python/tests/test_zephyr_shell.py)"
    lines = classify(dut, text)
    got = {m.group(1): m.group(2) for ln in lines for m in [re.search(r"^(label|tokens): (.*)$", ln)] if m}
    assert got.get("label") == label, lines
    logits = {m.group(1): int(m.group(2)) for ln in lines
              for m in [re.search(r"^score (\S+): logit (-?\d+) = ", ln)] if m}
    assert logits == dict(zip(labels, ref.logits)), lines
    m = re.match(r"(\d+)( \(truncated\))?, tokenize \d+ us, classify \d+ us", got.get("tokens", ""))
    assert m, lines
    assert int(m.group(1)) == len(ref.ids)
    assert bool(m.group(2)) == cut[case], lines
