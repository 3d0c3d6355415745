# SPDX-License-Identifier: Apache-2.0
"""Twister metadata: every sample.yaml / testcase.yaml in the repo validates against Zephyr
3.7.1's testsuite schema, and the bert_classify sample's console regexes accept the output
its committed models give (integer reference, on the host) and reject a wrong label."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _schema_dir() -> Path:
    """$MCUBERT_ZEPHYR_SCHEMA_DIR, else the nearest <ancestor>/shared/zephyr (../shared/zephyr in CI)."""
    if os.environ.get("MCUBERT_ZEPHYR_SCHEMA_DIR"):
        return Path(os.environ["MCUBERT_ZEPHYR_SCHEMA_DIR"])
    for d in REPO.parents:
        if (d / "shared" / "zephyr").is_dir():
            return d / "shared" / "zephyr"
    return REPO.parent / "shared" / "zephyr"


SCHEMA_DIR = _schema_dir()
SAMPLE = REPO / "samples" / "bert_classify"
SKIP_DIRS = {"build", "node_modules", "__pycache__"}


def yaml_files() -> list[Path]:
    out = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        out += [Path(root) / f for f in sorted(files) if f in ("sample.yaml", "testcase.yaml")]
    return out


def schema() -> Path:
    path = SCHEMA_DIR / "testsuite-schema.yaml"
    if not path.is_file():
        msg = f"Zephyr's Twister schema not found at {path}"
        if os.environ.get("MCUBERT_REQUIRE_ZEPHYR_SCHEMA") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def test_sample_yaml_present():
    assert SAMPLE / "sample.yaml" in yaml_files()


@pytest.mark.parametrize("path", yaml_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_twister_schema(path):
    from pykwalify.core import Core

    Core(source_file=str(path), schema_files=[str(schema())]).validate(raise_exception=True)
    # Twister also refuses, past the schema, a console harness without harness_config
    # (twisterlib/testsuite.py); `common` is merged into every scenario first.
    data = yaml.safe_load(path.read_text())
    for name, sc in data["tests"].items():
        sc = {**data.get("common", {}), **(sc or {})}
        assert sc.get("harness") != "console" or sc.get("harness_config"), \
            f"{name}: console harness without harness_config"


# --- bert_classify: regexes against the reference ------------------------------------------

def kconfig_default(symbol: str) -> str:
    text = (SAMPLE / "Kconfig").read_text()
    block = re.search(rf"^config {symbol}\n(.*?)(?=^\S|\Z)", text, re.M | re.S)
    assert block, f"{symbol} not in {SAMPLE / 'Kconfig'}"
    return re.search(r"^\s+default\s+(.+)$", block.group(1), re.M).group(1).strip().strip('"')


def setting(platform: str, scenario: dict, symbol: str) -> str:
    """Value of CONFIG_<symbol> for a platform: extra_args, then boards/<board>.conf, then Kconfig."""
    extra_args = scenario.get("extra_args", [])
    if isinstance(extra_args, str):  # the schema allows one string of arguments too
        extra_args = extra_args.split()
    for arg in list(extra_args) + scenario.get("extra_configs", []):
        m = re.fullmatch(rf"(?:CONFIG_)?{symbol}=(.*)", arg.strip())
        if m:
            return m.group(1).strip('"')
    conf = SAMPLE / "boards" / (platform.replace("/", "_") + ".conf")
    if conf.is_file():
        m = re.search(rf"^CONFIG_{symbol}=(.*)$", conf.read_text(), re.M)
        if m:
            return m.group(1).strip().strip('"')
    return kconfig_default(symbol)


def transcript(labels: list[str], inputs, label_of) -> list[str]:
    """The lines of src/main.c's output that the regexes look at (keep in step with main.c)."""
    lines = []
    for i, x in enumerate(inputs):
        lines.append(f"sentence {i + 1}: {x.text}")
        lines.append(f"  label: {labels[label_of(x)]} ({len(x.ids)} tokens, 0 us)")
        lines += [f"  score {name}: logit {v} = 0.0" for name, v in zip(labels, x.logits)]
    lines.append(f"bert_classify: {len(inputs)}/{len(inputs)} sentences match the integer reference")
    return lines


def console_matches(regexes: list[str], lines: list[str]) -> bool:
    """Twister's ordered multi_line console harness: each line may satisfy the next regex."""
    pats, k = [re.compile(r) for r in regexes], 0
    for ln in lines:
        if k < len(pats) and pats[k].search(ln):
            k += 1
    return k == len(pats)


def run_scenarios():
    data = yaml.safe_load((SAMPLE / "sample.yaml").read_text())
    common = data.get("common", {})
    for name, sc in data["tests"].items():
        sc = {**common, **sc}
        if sc.get("build_only") or sc.get("harness") != "console":
            continue
        for platform in sc.get("platform_allow", []):
            yield pytest.param(sc, platform, id=f"{name}@{platform}")


@pytest.mark.parametrize("scenario,platform", list(run_scenarios()))
def test_bert_classify_regexes(scenario, platform):
    from mcubert import modelfile
    from mcubert.generate import read_inputs, tokenize_inputs

    model = SAMPLE / setting(platform, scenario, "BERT_CLASSIFY_MODEL")
    max_len = int(setting(platform, scenario, "BERT_CLASSIFY_MAX_SEQ_LEN"))
    qm = modelfile.load(model)
    inputs = tokenize_inputs(qm, read_inputs(SAMPLE / "sentences.txt"), max_len)
    regexes = scenario["harness_config"]["regex"]
    assert scenario["harness_config"].get("ordered"), "labels are checked in sentence order"

    good = transcript(qm.labels, inputs, lambda x: x.label)
    assert console_matches(regexes, good), f"{model.name}: regexes reject the reference output"
    # A wrong label on any one sentence must fail the harness.
    for j in range(len(inputs)):
        bad = transcript(qm.labels, inputs,
                         lambda x: (x.label + (x is inputs[j])) % qm.num_labels)
        assert not console_matches(regexes, bad), f"regexes miss a wrong label on sentence {j + 1}"
