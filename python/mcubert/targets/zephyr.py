# SPDX-License-Identifier: Apache-2.0
"""The logic behind the module's CMake function mcubert_add_model() (cmake/mcubert_zephyr.cmake).

CMake only gathers facts (devicetree sizes, Kconfig choices) and wires the build-time
`python -m mcubert generate`; the decisions live here, where CI can test them without Zephyr:

  python -m mcubert.targets.zephyr deps      # the generator's own files, for add_custom_command DEPENDS;
                                     # fails, naming the pip command, when numpy/jinja2/PyYAML are missing
  python -m mcubert.targets.zephyr check ... # configure time: place the arena, check the fit against the
                                     # devicetree, the profile and the RAM the build's Kconfig declares
  python -m mcubert.targets.zephyr memcheck ...  # after the link: the memory summary from zephyr.elf, the
                                     # arena's region confirmed
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
                     "mcubert.targets.zephyr", "mcubert.targets.memory",
                     "mcubert.targets.elf", "mcubert.export.tokenizer_blob", "mcubert.targets.tokenizer_golden")


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
          arena_chosen: str, dt: dict[str, tuple[int, int]], tokenizer: bool = False,
          cfg: dict[str, str] | None = None, arenas: dict[str, int] | None = None) -> tuple[bool, str]:
    """(ok, message): see check_placement()."""
    ok, msg, _, _ = check_placement(model, name, max_seq_len, mode, board, target, arena_chosen, dt,
                                 tokenizer=tokenizer, cfg=cfg, arenas=arenas)
    return ok, msg


def _n(x: int) -> str:
    return str(x)


def check_placement(model: str | Path, name: str, max_seq_len: int, mode: str, board: str, target: str | None,
                    arena_chosen: str, dt: dict[str, tuple[int, int]], tokenizer: bool = False,
                    cfg: dict[str, str] | None = None,
                    arenas: dict[str, int] | None = None,
                    previous_elf: str | Path | None = None,
                    arena_symbols: list[str] | None = None) -> tuple[bool, str, object, int]:
    """(ok, message, placement, arena bytes): the arena placed in a devicetree region, the blob (and with
    tokenizer, the vocabulary blob and the Unicode tables) against zephyr,flash, and the board
    profile, if there is one, against the devicetree.

    arena_chosen "auto" places the arena in the fastest region that holds it (the profile's
    RAM order, DTCM before SRAM), any other value is the explicit choice (CONFIG_MCUBERT_ARENA_*).
    Either way the region must hold the arena beside what the rest of the image declares there
    (cfg, the build's .config: stacks, heaps, buffers, a reserve) and the arenas of earlier
    mcubert_add_model() calls (arenas: chosen node -> bytes). When the build directory holds a
    linked image (previous_elf), what it put in each region besides the arenas (arena_symbols)
    counts where that is more than the .config declares."""
    from . import boards
    from ..int8 import modelfile
    from .fit import arena_size, blob_size, max_fitting_seq_len
    from .memory import place

    cfg = cfg or {}
    qm = modelfile.load(model)
    if max_seq_len < 2 or max_seq_len > qm.max_positions:
        return False, (f"mcubert: MAX_SEQ_LEN {max_seq_len} for model '{name}' is outside 2..{qm.max_positions} "
                       f"(the model's max_position_embeddings)"), None, 0
    arena = arena_size(qm, max_seq_len, mode)
    blob = blob_size(qm, max_seq_len, mode)
    vocab, tables = tokenizer_flash(qm) if tokenizer else (0, 0)
    errors, notes = [], []
    where = target or board

    prof = boards.find(board, target)
    if prof is None:
        notes.append(f"no board profile for {where} in {boards.BOARDS_DIR}, using the devicetree only")
    else:
        bad = boards.disagreements(prof, dt)
        if not bad:
            notes.append(f"board profile {prof.path.name} agrees with the devicetree")
        else:
            errors.append(f"mcubert: board profile {prof.path} disagrees with the devicetree of {where}:\n  "
                          + "\n  ".join(bad) + "\n  Update the profile: the search and the planner read it.")

    auto = arena_chosen == "auto"
    linked = None
    if previous_elf and Path(previous_elf).is_file():
        from . import elf as elfmod

        try:
            img = elfmod.read(previous_elf)
            linked = {(b, z): elfmod.other_use(img, b, z, arena_symbols or []) for b, z in dt.values()}
            notes.append(f"counted what the last link ({Path(previous_elf).name}) put in each region")
        except ValueError:
            pass     # a half-written image from an interrupted link: the .config alone counts
    pl = place(arena, dt, cfg, prof, explicit=None if auto else arena_chosen, arenas=arenas, linked=linked)
    if not auto and pl.use is None:
        errors.append(f"mcubert: the arena goes to {arena_chosen}, which the devicetree of {where} does not choose")
    elif not pl.ok:
        tried = pl.tried
        if not tried:
            errors.append(f"mcubert: the devicetree of {where} chooses no RAM region for the arena "
                          f"(zephyr,dtcm or zephyr,sram)")
        else:
            largest = max(tried, key=lambda u: u.free)
            best = max_fitting_seq_len(qm, max(largest.free, 0), mode, limit=max_seq_len)
            hint = (f"MAX_SEQ_LEN {best} would fit in {largest.region.name} (arena {_n(arena_size(qm, best, mode))} B)"
                    if best >= 2 else "even 2 tokens do not fit: use a smaller model")
            lines = [f"{u.region.name} ({u.region.chosen}) has {_n(u.region.size)} B, {_n(max(u.free, 0))} B free"
                     + (f" after {_n(u.other_bytes)} B the image declares there ("
                        + ", ".join(f"{w} {_n(b)}" for w, b in u.others) + ")" if u.others else "")
                     for u in tried]
            what = "no RAM region holds it" if auto else "it does not fit the chosen region"
            errors.append(f"mcubert: model '{name}' needs an arena of {_n(arena)} B at MAX_SEQ_LEN {max_seq_len} "
                          f"({mode} schedule), but {what} on {where}:\n  " + "\n  ".join(lines) +
                          f"\n  Hint: {hint}, pass it to mcubert_add_model(... MAX_SEQ_LEN <L>)"
                          + (", or move the arena to a larger region (CONFIG_MCUBERT_ARENA_*)."
                             if not auto else ", or free RAM (smaller stacks and heaps, CONFIG_MCUBERT_RAM_RESERVE)."))
    if "zephyr,flash" in dt and blob > dt["zephyr,flash"][1]:
        errors.append(f"mcubert: model '{name}' is a {blob} B blob, but flash (zephyr,flash) on {where} "
                      f"has {dt['zephyr,flash'][1]} B. Use a smaller model (fewer layers, lower embedding ranks).")
    elif tokenizer and "zephyr,flash" in dt and blob + vocab + tables > dt["zephyr,flash"][1]:
        errors.append(f"mcubert: model '{name}' with the tokenizer needs {blob + vocab + tables} B of flash (blob {blob} B, "
                      f"vocabulary blob {vocab} B, Unicode tables {tables} B), but flash (zephyr,flash) on "
                      f"{where} has {dt['zephyr,flash'][1]} B. Use a smaller model, or tokenize "
                      f"elsewhere (drop TOKENIZER).")
    if errors:
        return False, "\n".join(errors), None, arena
    u = pl.use
    region = u.region.name
    how = "the fastest RAM that holds it" if auto else "CONFIG_MCUBERT_ARENA_*"
    skipped = [f"{t.region.name} ({_n(max(t.free, 0))} B free of {_n(t.region.size)} B)" for t in pl.tried[:-1]]
    msg = (f"mcubert: model '{name}': blob {blob} B in flash, arena {arena} B of {u.region.size} B {region} "
           f"(MAX_SEQ_LEN {max_seq_len}, {mode} schedule)")
    notes.insert(0, f"arena in {region} ({u.region.chosen}, {how})"
                 + (f", too small: {', '.join(skipped)}" if auto and skipped else "")
                 + f". {_n(u.free - arena)} B of {region} left after the arena and "
                 + (f"{_n(u.other_bytes)} B the image declares there ("
                    + ", ".join(f"{w} {_n(b)}" for w, b in u.others) + ")" if u.others else "nothing else declared"))
    if tokenizer:
        notes.insert(0, f"tokenizer: vocabulary blob {vocab} B and Unicode tables {tables} B in flash "
                        f"({blob + vocab + tables} B with the model blob)")
    return True, "\n".join([msg] + [f"mcubert: {n}" for n in notes]), pl, arena


def _facts(items: list[str]) -> dict[str, int]:
    out = {}
    for it in items:
        k, _, v = it.partition("=")
        out[k] = out.get(k, 0) + int(v, 0)
    return out


def cmd_check(a) -> int:
    from .boards import parse_dt_facts
    from .memory import load_dotconfig

    try:
        ok, msg, pl, arena = check_placement(a.model, a.name, a.max_seq_len, a.schedule, a.board, a.board_target,
                                             a.arena_chosen, parse_dt_facts(a.dt), tokenizer=a.tokenizer,
                                             cfg=load_dotconfig(a.dotconfig), arenas=_facts(a.arena_used),
                                             previous_elf=a.previous_elf, arena_symbols=a.arena_symbol)
    except (ValueError, FileNotFoundError) as e:
        ok, msg = False, f"mcubert: cannot use model {a.model}: {e}"
    print(msg, file=sys.stdout if ok else sys.stderr)
    if ok:
        # mcubert_add_model() reads the decision from this last line.
        print(f"arena_chosen={pl.chosen} arena_bytes={arena} declared={pl.use.declared_bytes}")
    return 0 if ok else 1


def memcheck(elf_path: str | Path, dt: dict[str, tuple[int, int]], arenas: dict[str, str],
             board: str | None = None, target: str | None = None,
             expected_other: dict[str, int] | None = None) -> tuple[bool, str]:
    """(ok, summary) of the linked image: each devicetree region's use from the ELF file, every
    arena (symbol -> the chosen node it was placed for, or "" when the build does not know:
    a custom section) found in its region, and every region within its size."""
    from . import boards, elf as elfmod
    from .memory import DEFAULT_NAMES, DEFAULT_ORDER

    img = elfmod.read(elf_path)
    prof = boards.find(board, target) if board else None
    names = {r.chosen: r.name for r in prof.ram if r.chosen} if prof else {}
    regions, seen = [], set()
    for chosen, (base, size) in dt.items():
        if (base, size) in seen:
            continue
        seen.add((base, size))
        if chosen == "zephyr,flash":
            regions.append(elfmod.flash_usage(img, "FLASH", chosen, base, size))
        else:
            regions.append(elfmod.ram_usage(img, names.get(chosen, DEFAULT_NAMES.get(chosen, chosen)),
                                            chosen, base, size))
    # Flash first, then RAM fastest first (the profile's order), as the arena was placed.
    order = [r.chosen for r in prof.ram] if prof else list(DEFAULT_ORDER)
    regions.sort(key=lambda r: (r.chosen != "zephyr,flash",
                                order.index(r.chosen) if r.chosen in order else len(order), r.base))
    errors, lines, dropped = [], [], []
    arena_in: dict[int, list[str]] = {}
    for sym, want in arenas.items():
        s = img.symbols.get(sym)
        if s is None:
            # Nothing refers to it (a test that only uses the vocabulary): the linker dropped it.
            dropped.append(sym)
            continue
        r = elfmod.region_of(s.value, regions)
        if r is None:
            errors.append(f"mcubert: the arena {sym} ({s.size} B at 0x{s.value:08x}) is in no devicetree region")
            continue
        if want and r.chosen != want and dt.get(want) != (r.base, r.size):
            errors.append(f"mcubert: the arena {sym} was placed for {want} but the linker put it in "
                          f"{r.name} ({r.chosen}) at 0x{s.value:08x}")
        arena_in.setdefault(id(r), []).append(f"{sym} {_n(s.size)} B at 0x{s.value:08x}")
    for r in regions:
        pct = 100.0 * r.used / r.size if r.size else 0.0
        line = f"  {r.name:<6} {r.chosen:<13} {_n(r.used):>9} B of {_n(r.size):>9} B ({pct:5.1f}%)"
        if id(r) in arena_in:
            line += "; arena " + ", ".join(arena_in[id(r)])
        lines.append(line)
        if not r.fits:
            errors.append(f"mcubert: {r.name} ({r.chosen}) holds {r.used} B but has {r.size} B")
    for chosen, est in (expected_other or {}).items():
        r = next((x for x in regions if x.chosen == chosen or dt.get(chosen) == (x.base, x.size)), None)
        if r is None:
            continue
        arena_bytes = sum(img.symbols[s].size for s in arenas if s in img.symbols
                          and elfmod.region_of(img.symbols[s].value, regions) is r)
        other = r.used - arena_bytes
        if other > est:
            lines.append(f"  note: {r.name} holds {_n(other)} B besides the arena, {_n(other - est)} B more than the "
                         f"configure step counted ({_n(est)} B): raise CONFIG_MCUBERT_RAM_RESERVE by that much")
    for sym in dropped:
        lines.append(f"  note: no arena {sym} in the image: nothing refers to it, so the linker dropped it")
    head = f"mcubert: memory of {Path(elf_path).name} by devicetree region (from the ELF file):"
    if errors:
        return False, "\n".join(errors + [head] + lines)
    return True, "\n".join([head] + lines)


def cmd_memcheck(a) -> int:
    from .boards import parse_dt_facts

    arenas = {}
    for it in a.arena:
        sym, _, chosen = it.partition("=")
        arenas[sym] = chosen
    try:
        ok, msg = memcheck(a.elf, parse_dt_facts(a.dt), arenas, a.board, a.board_target,
                           expected_other=_facts(a.expected_other))
    except (ValueError, OSError) as e:
        ok, msg = False, f"mcubert: cannot read {a.elf}: {e}"
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
    s.add_argument("--arena-chosen", default="zephyr,sram",
                   help="devicetree chosen node of the arena's region, or auto: the fastest that holds it")
    s.add_argument("--dotconfig", help="the build's .config: the RAM its Kconfig choices declare counts against "
                                       "the arena's region")
    s.add_argument("--arena-used", action="append", default=[], metavar="CHOSEN=BYTES",
                   help="arenas that earlier models put in a region")
    s.add_argument("--previous-elf", help="the build directory's last linked image, if any: what it put in each "
                                          "region besides the arenas counts where that is more")
    s.add_argument("--arena-symbol", action="append", default=[],
                   help="the arenas' symbols (this model's and earlier ones'), left out of --previous-elf's use")
    s.add_argument("--dt", action="append", default=[], metavar="CHOSEN=BASE:SIZE",
                   help="a devicetree chosen region, e.g. zephyr,sram=0x20010000:262144")
    s.add_argument("--tokenizer", action="store_true",
                   help="the vocabulary blob and the Unicode tables go to flash too (mcubert_add_model TOKENIZER)")
    s.set_defaults(fn=cmd_check)
    s = sub.add_parser("memcheck", help="after the link: each region's use from the ELF file, the arenas' regions")
    s.add_argument("--elf", required=True)
    s.add_argument("--dt", action="append", default=[], metavar="CHOSEN=BASE:SIZE")
    s.add_argument("--arena", action="append", default=[], metavar="SYMBOL=CHOSEN",
                   help="an arena symbol and the chosen node it was placed for (empty: unknown)")
    s.add_argument("--board")
    s.add_argument("--board-target")
    s.add_argument("--expected-other", action="append", default=[], metavar="CHOSEN=BYTES",
                   help="what the configure step counted besides the arenas in a region")
    s.set_defaults(fn=cmd_memcheck)
    a = ap.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
