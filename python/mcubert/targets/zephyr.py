# SPDX-License-Identifier: Apache-2.0
"""The logic behind the module's CMake function mcubert_add_model() (cmake/mcubert_zephyr.cmake).

CMake only gathers facts (devicetree sizes, Kconfig choices) and wires the build-time
`python -m mcubert generate`; the decisions live here, where CI can test them without Zephyr:

  python -m mcubert.targets.zephyr deps      # the generator's own files, for add_custom_command DEPENDS;
                                     # fails, naming the pip command, when numpy/jinja2/PyYAML are missing
  python -m mcubert.targets.zephyr check ... # configure-time fit check against the devicetree and the profile
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

# Build-time requirements and the pins python/pyproject.toml uses.
BUILD_REQUIREMENTS = {"numpy": "numpy==2.4.6", "jinja2": "jinja2==3.1.6", "yaml": "pyyaml==6.0.3"}
GENERATOR_MODULES = ("mcubert.cli", "mcubert.targets.host", "mcubert.export.generate", "mcubert.text.wordpiece",
                     "mcubert.int8.reference", "mcubert.targets.fit", "mcubert.targets.boards",
                     "mcubert.targets.zephyr", "mcubert.export.tokenizer_blob", "mcubert.targets.tokenizer_golden")


def missing_requirements() -> list[str]:
    missing = []
    for mod, pin in BUILD_REQUIREMENTS.items():
        try:
            importlib.import_module(mod)
        except ImportError:
            missing.append(pin)
    return missing


def generator_files() -> list[Path]:
    """Every mcubert source file and template the generator loads: the complete DEPENDS list."""
    for m in GENERATOR_MODULES:
        importlib.import_module(m)
    pkg = Path(__file__).resolve().parents[1]
    files = {Path(mod.__file__).resolve() for name, mod in list(sys.modules.items())
             if name.split(".")[0] == "mcubert" and getattr(mod, "__file__", None)}
    files |= set((pkg / "export" / "templates").glob("*.j2")) | {pkg / "__main__.py"}
    return sorted(f for f in files if pkg in f.parents)


def cmd_deps(a) -> int:
    missing = missing_requirements()
    if missing:
        print(f"mcubert: the build-time generator needs Python packages that {sys.executable} lacks: "
              f"{', '.join(missing)}.\nFix: {sys.executable} -m pip install {' '.join(missing)}",
              file=sys.stderr)
        return 1
    print(";".join(str(f) for f in generator_files()))
    return 0


def tokenizer_flash(qm) -> tuple[int, int]:
    """(vocabulary blob, Unicode tables) bytes that mcubert_add_model(... TOKENIZER) puts in flash."""
    from ..export.tokenizer_blob import tables_flash_bytes, vocab_blob

    if not qm.vocab:
        raise ValueError("TOKENIZER: the model file has no vocabulary")
    return len(vocab_blob(qm.vocab)), tables_flash_bytes()


def check(model: str | Path, name: str, max_seq_len: int, mode: str, board: str, target: str | None,
          arena_chosen: str, dt: dict[str, tuple[int, int]], tokenizer: bool = False) -> tuple[bool, str]:
    """(ok, message): the arena against the devicetree region it goes to, the blob (and with
    tokenizer, the vocabulary blob and the Unicode tables) against zephyr,flash, and the board
    profile, if there is one, against the devicetree."""
    from . import boards
    from ..int8 import modelfile
    from .fit import arena_size, blob_size, max_fitting_seq_len

    qm = modelfile.load(model)
    if max_seq_len < 2 or max_seq_len > qm.max_positions:
        return False, (f"mcubert: MAX_SEQ_LEN {max_seq_len} for model '{name}' is outside 2..{qm.max_positions} "
                       f"(the model's max_position_embeddings)")
    arena = arena_size(qm, max_seq_len, mode)
    blob = blob_size(qm, max_seq_len, mode)
    vocab, tables = tokenizer_flash(qm) if tokenizer else (0, 0)
    errors, notes = [], []

    prof = boards.find(board, target)
    if prof is None:
        notes.append(f"no board profile for {target or board} in {boards.BOARDS_DIR}; using the devicetree only")
    else:
        bad = boards.disagreements(prof, dt)
        if not bad:
            notes.append(f"board profile {prof.path.name} agrees with the devicetree")
        else:
            errors.append(f"mcubert: board profile {prof.path} disagrees with the devicetree of {target or board}:\n  "
                          + "\n  ".join(bad) + "\n  Update the profile: the search and the planner read it.")

    region = "DTCM" if arena_chosen == "zephyr,dtcm" else "SRAM"
    if arena_chosen not in dt:
        errors.append(f"mcubert: the arena goes to {arena_chosen}, which the devicetree of {target or board} "
                      f"does not choose")
    else:
        ram = dt[arena_chosen][1]
        if arena > ram:
            best = max_fitting_seq_len(qm, ram, mode, limit=max_seq_len)
            hint = (f"MAX_SEQ_LEN {best} would fit (arena {arena_size(qm, best, mode)} B)" if best >= 2
                    else "even 2 tokens do not fit: use a smaller model")
            errors.append(f"mcubert: model '{name}' needs an arena of {arena} B at MAX_SEQ_LEN {max_seq_len} "
                          f"({mode} schedule), but {region} ({arena_chosen}) on {target or board} has {ram} B.\n"
                          f"  Hint: {hint}; pass it to mcubert_add_model(... MAX_SEQ_LEN <L>), or move the arena "
                          f"to a larger region (CONFIG_MCUBERT_ARENA_*).")
    if "zephyr,flash" in dt and blob > dt["zephyr,flash"][1]:
        errors.append(f"mcubert: model '{name}' is a {blob} B blob, but flash (zephyr,flash) on {target or board} "
                      f"has {dt['zephyr,flash'][1]} B. Use a smaller model (fewer layers, lower embedding ranks).")
    elif tokenizer and "zephyr,flash" in dt and blob + vocab + tables > dt["zephyr,flash"][1]:
        errors.append(f"mcubert: model '{name}' with the tokenizer needs {blob + vocab + tables} B of flash (blob {blob} B, "
                      f"vocabulary blob {vocab} B, Unicode tables {tables} B), but flash (zephyr,flash) on "
                      f"{target or board} has {dt['zephyr,flash'][1]} B. Use a smaller model, or tokenize "
                      f"elsewhere (drop TOKENIZER).")
    if errors:
        return False, "\n".join(errors)
    ram_text = f"{dt[arena_chosen][1]} B {region}"
    msg = (f"mcubert: model '{name}': blob {blob} B in flash, arena {arena} B of {ram_text} "
           f"(MAX_SEQ_LEN {max_seq_len}, {mode} schedule)")
    if tokenizer:
        notes.insert(0, f"tokenizer: vocabulary blob {vocab} B and Unicode tables {tables} B in flash "
                        f"({blob + vocab + tables} B with the model blob)")
    return True, "\n".join([msg] + [f"mcubert: {n}" for n in notes])


def cmd_check(a) -> int:
    from .boards import parse_dt_facts

    try:
        ok, msg = check(a.model, a.name, a.max_seq_len, a.schedule, a.board, a.board_target, a.arena_chosen,
                        parse_dt_facts(a.dt), tokenizer=a.tokenizer)
    except (ValueError, FileNotFoundError) as e:
        ok, msg = False, f"mcubert: cannot use model {a.model}: {e}"
    print(msg, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mcubert.targets.zephyr", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("deps", help="print the generator's files; fail if build requirements are missing")
    s.set_defaults(fn=cmd_deps)
    s = sub.add_parser("check", help="configure-time check of a model against the board")
    s.add_argument("--model", required=True)
    s.add_argument("--name", required=True)
    s.add_argument("--max-seq-len", type=int, required=True)
    s.add_argument("--schedule", default="fine", choices=["fine", "layerwise"])
    s.add_argument("--board", required=True, help="Zephyr's BOARD")
    s.add_argument("--board-target", help="BOARD with its qualifiers, e.g. mps2/an521/cpu0")
    s.add_argument("--arena-chosen", default="zephyr,sram", help="devicetree chosen node of the arena's region")
    s.add_argument("--dt", action="append", default=[], metavar="CHOSEN=BASE:SIZE",
                   help="a devicetree chosen region, e.g. zephyr,sram=0x20010000:262144")
    s.add_argument("--tokenizer", action="store_true",
                   help="the vocabulary blob and the Unicode tables go to flash too (mcubert_add_model TOKENIZER)")
    s.set_defaults(fn=cmd_check)
    a = ap.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
