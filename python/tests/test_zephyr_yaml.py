# SPDX-License-Identifier: Apache-2.0
"""Twister metadata: every sample.yaml / testcase.yaml in the repo validates against Zephyr
3.7.1's testsuite schema, and the bert_classify sample's console regexes accept the output
its committed models give (integer reference, on the host) and reject a wrong label."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


def _schema_dir() -> Path | None:
    """Zephyr's Twister schemas: $ZEPHYR_BASE/scripts/schemas/twister when set, else the
    ../shared/zephyr copy beside the checkout (CI); None when neither exists."""
    candidates = []
    if os.environ.get("ZEPHYR_BASE"):
        candidates.append(Path(os.environ["ZEPHYR_BASE"]) / "scripts" / "schemas" / "twister")
    candidates.append(REPO.parent / "shared" / "zephyr")
    return next((d for d in candidates if (d / "testsuite-schema.yaml").is_file()), None)


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
    if SCHEMA_DIR is None:
        msg = ("Zephyr's Twister schema not found: set ZEPHYR_BASE to a Zephyr 3.7 tree "
               "(scripts/schemas/twister/testsuite-schema.yaml), or keep ../shared/zephyr beside the checkout")
        if os.environ.get("MCUBERT_REQUIRE_ZEPHYR_SCHEMA") == "1":      # .ci/run: never skip
            pytest.fail(msg)
        pytest.skip(msg)
    return SCHEMA_DIR / "testsuite-schema.yaml"


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
    from mcubert.int8 import modelfile
    from mcubert.export.generate import read_inputs, tokenize_inputs

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


def _clone(tmp_path: Path) -> Path:
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    clone = tmp_path / "nothing-beside" / "mcubert"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(clone)], check=True,
                   capture_output=True)
    return clone


def _schema_tests(clone: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           str(clone / "python" / "tests" / "test_zephyr_yaml.py"), "-k", "test_twister_schema"],
                          capture_output=True, text=True, env=env, cwd=clone)


@pytest.mark.slow
def test_fresh_clone_skips_without_a_schema_and_uses_zephyr_base(tmp_path):
    """A user's clone has no ../shared: the schema tests skip and say why (the README's test command
    passes); with ZEPHYR_BASE they run against that tree's schema; .ci/run's flag turns a skip into
    a failure."""
    clone = _clone(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("ZEPHYR_BASE", "MCUBERT_REQUIRE_ZEPHYR_SCHEMA")}
    # the variables the README's test command sets, as the clone's scripts/test.sh sets them
    env.update(re.findall(r"^export (\w+)=(\S*)$", (clone / "scripts" / "test.sh").read_text(), re.M))
    r = _schema_tests(clone, env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skipped" in r.stdout and "passed" not in r.stdout and "Twister schema not found" in r.stdout
    r = _schema_tests(clone, {**env, "MCUBERT_REQUIRE_ZEPHYR_SCHEMA": "1"})
    assert r.returncode == 1 and "failed" in r.stdout
    if SCHEMA_DIR is None:
        return
    zephyr = tmp_path / "zephyr"
    (zephyr / "scripts" / "schemas").mkdir(parents=True)
    shutil.copytree(SCHEMA_DIR, zephyr / "scripts" / "schemas" / "twister")
    r = _schema_tests(clone, {**env, "ZEPHYR_BASE": str(zephyr), "MCUBERT_REQUIRE_ZEPHYR_SCHEMA": "1"})
    assert r.returncode == 0 and f"{len(yaml_files())} passed" in r.stdout, r.stdout + r.stderr
