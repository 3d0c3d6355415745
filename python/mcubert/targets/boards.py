# SPDX-License-Identifier: Apache-2.0
"""Board profiles (boards/*.yaml): memory regions, flash, clock and DSP of each target.

The planner reports a model's fit against them (`mcubert plan --board`), the search takes its
memory budget from them, and mcubert_add_model() checks at configure time that the profile
agrees with Zephyr's devicetree for the board being built.
A profile lists its RAM regions fastest first: `mcubert plan --board` and mcubert_add_model()
(CONFIG_MCUBERT_ARENA_AUTO, python/mcubert/targets/memory.py) put the arena in the first that
holds it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BOARDS_DIR = Path(os.environ.get("MCUBERT_BOARDS_DIR", Path(__file__).resolve().parents[3] / "boards"))


@dataclass
class Region:
    name: str
    base: int
    size: int
    chosen: str | None = None   # devicetree chosen property that names this node, if any


@dataclass
class Board:
    name: str
    zephyr_board: str
    cpu: str
    dsp: bool
    fpu: str
    clock_hz: int
    max_clock_hz: int
    flash: Region
    ram: list[Region] = field(default_factory=list)
    path: Path | None = None
    # Flash the firmware takes without the model blob (Zephyr + mcubert runtime + application),
    # measured on a real build; None when not measured (budget.embedding_budget then needs it).
    firmware_bytes: int | None = None

    def region(self, chosen: str) -> Region | None:
        return next((r for r in self.ram if r.chosen == chosen), None)

    @property
    def largest_ram(self) -> Region:
        return max(self.ram, key=lambda r: r.size)

    def matches(self, board: str, target: str | None = None) -> bool:
        """Zephyr names a board `nucleo_f746zg` and its target `nucleo_f746zg/stm32f746xx`."""
        return self.zephyr_board in {board, target} or self.name == board


def _region(d: dict, default_name: str) -> Region:
    return Region(str(d.get("name", default_name)), int(d["base"]), int(d["size"]), d.get("chosen"))


def load(path: str | Path) -> Board:
    path = Path(path)
    try:
        d = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ValueError(f"{path}: not a readable board profile ({type(e).__name__})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path}: not a board profile (expected a YAML mapping)")
    missing = {"name", "zephyr_board", "cpu", "dsp", "clock_hz", "flash", "ram"} - set(d)
    if missing:
        raise ValueError(f"{path}: missing {', '.join(sorted(missing))}")
    return Board(name=d["name"], zephyr_board=d["zephyr_board"], cpu=d["cpu"], dsp=bool(d["dsp"]),
                 fpu=str(d.get("fpu", "none")), clock_hz=int(d["clock_hz"]),
                 max_clock_hz=int(d.get("max_clock_hz", d["clock_hz"])),
                 flash=_region(d["flash"], "FLASH"),
                 ram=[_region(r, f"RAM{i}") for i, r in enumerate(d["ram"])], path=path,
                 firmware_bytes=int(d["firmware_bytes"]) if d.get("firmware_bytes") is not None else None)


def all_boards(boards_dir: str | Path = BOARDS_DIR) -> list[Board]:
    return [load(p) for p in sorted(Path(boards_dir).glob("*.yaml"))]


def find(board: str, target: str | None = None, boards_dir: str | Path = BOARDS_DIR) -> Board | None:
    p = Path(board)
    if p.suffix == ".yaml" and p.is_file():
        return load(p)
    return next((b for b in all_boards(boards_dir) if b.matches(board, target)), None)


def get(board: str, boards_dir: str | Path = BOARDS_DIR) -> Board:
    b = find(board, boards_dir=boards_dir)
    if b is None:
        names = ", ".join(x.name for x in all_boards(boards_dir)) or "none"
        raise ValueError(f"no board profile '{board}' in {boards_dir} (have: {names})")
    return b


def parse_dt_facts(items: list[str]) -> dict[str, tuple[int, int]]:
    """`zephyr,sram=0x20010000:262144` -> {"zephyr,sram": (base, size)}; CMake passes these."""
    facts = {}
    for it in items:
        key, _, val = it.partition("=")
        base, _, size = val.partition(":")
        facts[key] = (int(base, 0), int(size, 0))
    return facts


def disagreements(b: Board, dt: dict[str, tuple[int, int]]) -> list[str]:
    """Where the profile and the devicetree's chosen nodes differ (empty when they agree)."""
    out = []
    wanted = [(r, r.chosen) for r in b.ram if r.chosen] + [(b.flash, "zephyr,flash")]
    for r, chosen in wanted:
        if chosen not in dt:
            out.append(f"{r.name}: the profile names {chosen}, which the devicetree does not choose")
            continue
        base, size = dt[chosen]
        if (base, size) != (r.base, r.size):
            out.append(f"{r.name}: profile {r.size} B at 0x{r.base:08x}, devicetree {chosen} "
                       f"{size} B at 0x{base:08x}")
    for chosen in ("zephyr,sram", "zephyr,dtcm"):
        if chosen in dt and b.region(chosen) is None:
            out.append(f"the devicetree chooses {chosen} ({dt[chosen][1]} B), the profile has no region for it")
    return out
