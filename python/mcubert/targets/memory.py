# SPDX-License-Identifier: Apache-2.0
"""Where mcubert_add_model() puts the arena, and what else the image keeps in that RAM.

Pure logic, tested without Zephyr (python/tests/test_zephyr_arena.py):

- `candidates()`: the RAM regions the arena can go to, fastest first. The board profile lists
  its RAM fastest first (DTCM before SRAM on the F746), as `mcubert plan --board` ranks them;
  the build can place the arena in the regions that a devicetree chosen node names
  (zephyr,dtcm: `__dtcm_noinit_section`, zephyr,sram: `__noinit`).
- `declared_ram()`: the RAM that the Kconfig choices of the build already claim (stacks, heap,
  buffers) in Zephyr's own RAM (zephyr,sram), read from the build's .config.
- `place()`: the first candidate whose free space (size minus what the rest of the image
  declares there, or what the build's last link put there when that is more, minus earlier
  arenas) holds the arena, or the explicit choice checked the same way.

After the link, `mcubert.targets.elf` reads the real use of each region from zephyr.elf.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# Devicetree chosen nodes the arena can be placed in, and how (include/mcubert/zephyr.h).
PLACEABLE = ("zephyr,dtcm", "zephyr,sram")
DEFAULT_NAMES = {"zephyr,dtcm": "DTCM", "zephyr,sram": "SRAM"}
# Without a profile: a TCM has no wait states and no cache effects, so it comes first.
DEFAULT_ORDER = ("zephyr,dtcm", "zephyr,sram")
# CONFIG_MCUBERT_RAM_RESERVE's default (Kconfig), for a .config that predates it.
DEFAULT_RESERVE = 2048
EARLIER = "earlier arenas"
LINKED = "more in the last link (zephyr.elf)"


@dataclass
class Candidate:
    chosen: str
    name: str
    base: int
    size: int

    def overlaps(self, base: int, size: int) -> bool:
        return self.base < base + size and base < self.base + self.size


def candidates(dt: dict[str, tuple[int, int]], profile=None) -> list[Candidate]:
    """The placeable regions the devicetree chooses, fastest first (the profile's RAM order).
    A chosen node the profile does not list (it disagrees with the devicetree: the check
    reports that) comes after the profile's regions, in DEFAULT_ORDER."""
    out: list[Candidate] = []
    if profile is not None:
        for r in profile.ram:
            if r.chosen in PLACEABLE and r.chosen in dt and all(c.chosen != r.chosen for c in out):
                base, size = dt[r.chosen]
                out.append(Candidate(r.chosen, r.name, base, size))
    for chosen in DEFAULT_ORDER:
        if chosen in dt and all(c.chosen != chosen for c in out):
            base, size = dt[chosen]
            out.append(Candidate(chosen, DEFAULT_NAMES[chosen], base, size))
    # Two chosen nodes on one memory (zephyr,dtcm = zephyr,sram on some boards) are one region.
    seen, uniq = set(), []
    for c in out:
        if (c.base, c.size) not in seen:
            seen.add((c.base, c.size))
            uniq.append(c)
    return uniq


def parse_dotconfig(text: str) -> dict[str, str]:
    """CONFIG_X=value lines of a Kconfig .config (strings keep their quotes off)."""
    cfg = {}
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("CONFIG_") or "=" not in line:
            continue
        k, _, v = line.partition("=")
        cfg[k[len("CONFIG_"):]] = v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v
    return cfg


def load_dotconfig(path: str | Path | None) -> dict[str, str]:
    return parse_dotconfig(Path(path).read_text()) if path else {}


def _int(cfg: dict[str, str], key: str) -> int:
    try:
        return int(cfg.get(key, "0"), 0)
    except ValueError:
        return 0


def declared_ram(cfg: dict[str, str]) -> list[tuple[str, int]]:
    """(what, bytes) the build's Kconfig choices put in Zephyr's RAM (zephyr,sram) besides the
    arena: the kernel's stacks, the heaps, the shell's and the logger's stacks and buffers.
    The kernel's own objects and the drivers' data are not declared anywhere before the link:
    CONFIG_MCUBERT_RAM_RESERVE stands for them."""
    def y(key: str) -> bool:
        return cfg.get(key) == "y"

    cpus = max(1, _int(cfg, "MP_MAX_NUM_CPUS"))
    items = [("main stack", _int(cfg, "MAIN_STACK_SIZE")),
             ("ISR stacks", _int(cfg, "ISR_STACK_SIZE") * cpus),
             ("idle stacks", _int(cfg, "IDLE_STACK_SIZE") * cpus),
             ("system workqueue stack", _int(cfg, "SYSTEM_WORKQUEUE_STACK_SIZE")),
             ("kernel heap", _int(cfg, "HEAP_MEM_POOL_SIZE")),
             ("libc malloc arena", max(0, _int(cfg, "COMMON_LIBC_MALLOC_ARENA_SIZE")))]
    if y("SHELL"):
        items.append(("shell stack", _int(cfg, "SHELL_STACK_SIZE")))
    if y("LOG") and not y("LOG_MODE_MINIMAL") and not y("LOG_MODE_IMMEDIATE"):
        items.append(("log buffer", _int(cfg, "LOG_BUFFER_SIZE")))
        if y("LOG_PROCESS_THREAD"):
            items.append(("log thread stack", _int(cfg, "LOG_PROCESS_THREAD_STACK_SIZE")))
    if y("MCUBERT_SHELL"):
        items.append(("mcubert shell buffers", 2 * _int(cfg, "MCUBERT_SHELL_MAX_SEQ_LEN")
                      + 4 * _int(cfg, "MCUBERT_SHELL_MAX_LABELS")))
    items.append(("reserve for kernel and driver data (CONFIG_MCUBERT_RAM_RESERVE)",
                  _int(cfg, "MCUBERT_RAM_RESERVE") if "MCUBERT_RAM_RESERVE" in cfg else DEFAULT_RESERVE))
    return [(w, n) for w, n in items if n > 0]



@dataclass
class RegionUse:
    region: Candidate
    others: list[tuple[str, int]] = field(default_factory=list)

    @property
    def other_bytes(self) -> int:
        return sum(n for _, n in self.others)

    @property
    def declared_bytes(self) -> int:
        """What the rest of the image declares here, earlier arenas left out."""
        return sum(n for w, n in self.others if not w.startswith(EARLIER))

    @property
    def free(self) -> int:
        return self.region.size - self.other_bytes


def region_use(c: Candidate, dt: dict[str, tuple[int, int]], cfg: dict[str, str],
               arenas: dict[str, int] | None = None,
               linked: dict[tuple[int, int], int] | None = None) -> RegionUse:
    """What else the image keeps in candidate c: the Kconfig-declared RAM when c is (or
    overlaps) zephyr,sram, where Zephyr links its data, stacks and heaps; what the last link
    of this build put there besides the arenas, where that is more (linked: (base, size) ->
    bytes, from zephyr.elf when the build directory has one); and the arenas that earlier
    mcubert_add_model() calls put there (arenas: chosen node -> bytes). Without a .config
    (cfg empty: a check outside a build) only the arenas and the last link count."""
    use = RegionUse(c)
    if cfg and "zephyr,sram" in dt and c.overlaps(*dt["zephyr,sram"]):
        use.others += declared_ram(cfg)
    extra = (linked or {}).get((c.base, c.size), 0) - use.declared_bytes
    if extra > 0:
        use.others.append((LINKED, extra))
    for chosen, n in (arenas or {}).items():
        if n and chosen in dt and c.overlaps(*dt[chosen]):
            use.others.append((f"{EARLIER} in {chosen}", n))
    return use


@dataclass
class Placement:
    chosen: str | None            # where the arena goes; None when nothing fits
    use: RegionUse | None         # the chosen region's accounting
    tried: list[RegionUse]        # every candidate looked at, in order
    auto: bool

    @property
    def ok(self) -> bool:
        return self.chosen is not None


def place(arena: int, dt: dict[str, tuple[int, int]], cfg: dict[str, str], profile=None,
          explicit: str | None = None, arenas: dict[str, int] | None = None,
          linked: dict[tuple[int, int], int] | None = None) -> Placement:
    """The arena's region: `explicit` (a chosen node) if given and it fits, else the fastest
    candidate with room for it. A Placement with chosen None when it does not fit."""
    cands = candidates(dt, profile)
    if explicit is not None:
        c = next((c for c in cands if c.chosen == explicit), None)
        if c is None and explicit in dt:
            base, size = dt[explicit]
            c = Candidate(explicit, DEFAULT_NAMES.get(explicit, explicit), base, size)
        if c is None:
            return Placement(None, None, [], auto=False)
        use = region_use(c, dt, cfg, arenas, linked)
        return Placement(explicit if arena <= use.free else None, use, [use], auto=False)
    tried = []
    for c in cands:
        use = region_use(c, dt, cfg, arenas, linked)
        tried.append(use)
        if arena <= use.free:
            return Placement(c.chosen, use, tried, auto=True)
    return Placement(None, None, tried, auto=True)
