# SPDX-License-Identifier: Apache-2.0
"""The package's architecture holds: each subpackage imports only what its docstring allows,
there are no import cycles, and the build-time commands run with torch made unimportable."""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mcubert

PKG = Path(mcubert.__file__).resolve().parent
MODEL = PKG.parents[1] / "samples" / "bert_classify" / "model" / "sentiment_tiny.mcubert"
SUBPACKAGES = sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").is_file())
LEAVES = {"mcubert", "mcubert.presets"}      # plain data every room may read


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every mcubert module `name` imports, at import time or inside functions."""
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        out |= {t for t in targets if t in known}
    return out - {name}


def graph() -> dict[str, set[str]]:
    mods = _modules()
    return {n: _imports(n, p, set(mods)) for n, p in mods.items()}


def _room(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 and parts[1] in SUBPACKAGES else module


def allowed(sub: str) -> set[str]:
    """The subpackages named in the docstring's "May import:" paragraph."""
    doc = ast.get_docstring(ast.parse((PKG / sub / "__init__.py").read_text()))
    para = next((p for p in doc.split("\n\n") if p.startswith("May import:")), None)
    assert para is not None, f"mcubert.{sub}'s docstring has no 'May import:' paragraph"
    names = set(re.findall(r"\bmcubert\.(\w+)", para))
    assert names <= set(SUBPACKAGES), f"mcubert.{sub} declares unknown rooms {names - set(SUBPACKAGES)}"
    return {f"mcubert.{n}" for n in names}


def test_every_room_documents_itself():
    assert {"text", "int8", "export", "targets", "data", "modeling", "quantization", "training",
            "tools"} <= set(SUBPACKAGES)
    for sub in SUBPACKAGES:
        doc = ast.get_docstring(ast.parse((PKG / sub / "__init__.py").read_text()))
        assert doc and "Holds:" in doc and "May import:" in doc, sub


@pytest.mark.parametrize("sub", SUBPACKAGES)
def test_rooms_import_only_what_they_declare(sub):
    ok = allowed(sub) | LEAVES | {f"mcubert.{sub}"}
    bad = sorted((m, t) for m, ts in graph().items() if _room(m) == f"mcubert.{sub}"
                 for t in ts if _room(t) not in ok)
    assert not bad, f"mcubert.{sub} may import {sorted(allowed(sub))}, but: {bad}"


def _cycle(g: dict[str, set[str]]) -> list[str] | None:
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(g):
        if n not in state and (c := visit(n)):
            return c
    return None


def test_no_import_cycles():
    g = graph()
    assert _cycle(g) is None, " -> ".join(_cycle(g))
    rooms = {}
    for m, ts in g.items():
        rooms.setdefault(_room(m), set()).update(_room(t) for t in ts if _room(t) != _room(m))
    assert _cycle(rooms) is None, "between subpackages: " + " -> ".join(_cycle(rooms))


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_cli_stays_thin():
    """Library code never reaches back into the command line."""
    assert not [m for m, ts in graph().items() if "mcubert.cli" in ts and m != "mcubert.__main__"]


NO_TORCH = "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None; "


@pytest.mark.parametrize("argv", [
    ["plan", "{model}", "--max-seq-len", "128", "--board", "nucleo_f746zg"],
    ["generate", "{model}", "--max-seq-len", "64", "--out-dir", "{tmp}", "--c-source"],
    ["verify", "{model}", "--max-seq-len", "32", "--n", "2"],
    ["info", "{model}"],
    ["run", "{model}", "--text", "a fine film"],
], ids=lambda a: a[0])
def test_build_time_commands_never_import_torch(argv, tmp_path):
    args = [a.format(model=MODEL, tmp=tmp_path) for a in argv]
    code = NO_TORCH + f"from mcubert.cli import main; raise SystemExit(main({args!r}))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_zephyr_entry_point_never_imports_torch():
    code = NO_TORCH + "import runpy; sys.argv = ['x', 'deps']; runpy.run_module('mcubert.targets.zephyr', run_name='__main__')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    files = r.stdout.strip().split(";")
    assert any(f.endswith("export/generate.py") for f in files) and not any("training" in f for f in files)


def test_torch_blocker_is_real():
    """The trick above does stop torch: a command that needs it fails."""
    code = NO_TORCH + "import mcubert.modeling.model"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode != 0 and "ModuleNotFoundError" in r.stderr
