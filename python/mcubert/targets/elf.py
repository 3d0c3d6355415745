# SPDX-License-Identifier: Apache-2.0
"""The linked image's memory use, read from its ELF file: after the link, mcubert_add_model()'s
post-build step (python -m mcubert.targets.zephyr memcheck) confirms the arena's region and that
every region holds what the linker put there, and prints the memory summary.

A small reader of ELF section and program headers and the symbol table, little-endian, 32- and
64-bit; no pyelftools, which the generator's Python need not have.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

SHT_SYMTAB, SHT_NOBITS = 2, 8
SHF_ALLOC = 0x2
PT_LOAD = 1


@dataclass
class Section:
    name: str
    type: int
    flags: int
    addr: int
    size: int

    @property
    def alloc(self) -> bool:
        return bool(self.flags & SHF_ALLOC)


@dataclass
class Segment:
    type: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int


@dataclass
class Symbol:
    name: str
    value: int
    size: int


@dataclass
class Elf:
    sections: list[Section]
    segments: list[Segment]
    symbols: dict[str, Symbol]


def read(path: str | Path) -> Elf:
    return parse(Path(path).read_bytes())


def parse(data: bytes) -> Elf:
    if data[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    cls, enc = data[4], data[5]
    if enc != 1:
        raise ValueError("big-endian ELF files are not supported")
    if cls == 1:
        ehdr, shdr, phdr, sym = "<HHIIIIIHHHHHH", "<IIIIIIIIII", "<IIIIIIII", "<IIIBBH"
    elif cls == 2:
        ehdr, shdr, phdr, sym = "<HHIQQQIHHHHHH", "<IIQQQQIIQQ", "<IIQQQQQQ", "<IBBHQQ"
    else:
        raise ValueError(f"unknown ELF class {cls}")
    try:
        (_, _, _, _, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, shstrndx) = \
            struct.unpack_from(ehdr, data, 16)
        raw = [struct.unpack_from(shdr, data, shoff + i * shentsize) for i in range(shnum)]
        segs = []
        for i in range(phnum):
            p = struct.unpack_from(phdr, data, phoff + i * phentsize)
            if cls == 1:   # type, offset, vaddr, paddr, filesz, memsz, flags, align
                segs.append(Segment(p[0], p[2], p[3], p[4], p[5]))
            else:          # type, flags, offset, vaddr, paddr, filesz, memsz, align
                segs.append(Segment(p[0], p[3], p[4], p[5], p[6]))

        def strtab(idx: int):
            off, size = raw[idx][4], raw[idx][5]
            blob = data[off:off + size]
            return lambda o: blob[o:blob.index(b"\0", o)].decode("utf-8", "replace")

        names = strtab(shstrndx) if shnum else (lambda o: "")
        # name, type, flags, addr, offset, size, link, info, addralign, entsize
        sections = [Section(names(s[0]), s[1], s[2], s[3], s[5]) for s in raw]
        symbols = {}
        for s in raw:
            if s[1] != SHT_SYMTAB:
                continue
            sname = strtab(s[6])
            entsize = s[9] or struct.calcsize(sym)
            for i in range(s[5] // entsize):
                e = struct.unpack_from(sym, data, s[4] + i * entsize)
                name_off, value, size = (e[0], e[1], e[2]) if cls == 1 else (e[0], e[4], e[5])
                if name_off:
                    symbols.setdefault(sname(name_off), Symbol(sname(name_off), value, size))
    except (struct.error, IndexError, ValueError) as e:
        raise ValueError(f"truncated or malformed ELF file ({e})") from None
    return Elf(sections, segs, symbols)


@dataclass
class Usage:
    name: str           # region name (DTCM, SRAM, FLASH)
    chosen: str
    base: int
    size: int
    used: int           # bytes from base to the end of the last thing placed there
    sections: list[Section]

    @property
    def fits(self) -> bool:
        return self.used <= self.size


def _extent(base: int, spans: list[tuple[int, int]]) -> int:
    ends = [a + n for a, n in spans if n]
    return max(ends) - base if ends else 0


def ram_usage(elf: Elf, name: str, chosen: str, base: int, size: int) -> Usage:
    """A RAM region's use: the allocated sections whose addresses start in it (.data, .bss,
    .noinit, stacks), counted to the end of the last one, as the linker's summary does."""
    secs = [s for s in elf.sections if s.alloc and s.size and base <= s.addr < base + size]
    return Usage(name, chosen, base, size, _extent(base, [(s.addr, s.size) for s in secs]), secs)


def flash_usage(elf: Elf, name: str, chosen: str, base: int, size: int) -> Usage:
    """Flash use: the loadable bytes that go to it, code and constants and the initial values
    of .data (load address in flash, run address in RAM), from the program headers."""
    spans = [(p.paddr, p.filesz) for p in elf.segments
             if p.type == PT_LOAD and p.filesz and base <= p.paddr < base + size]
    secs = [s for s in elf.sections if s.alloc and s.size and s.type != SHT_NOBITS
            and base <= s.addr < base + size]
    return Usage(name, chosen, base, size, _extent(base, spans), secs)


def region_of(addr: int, regions: list[Usage]) -> Usage | None:
    return next((r for r in regions if r.base <= addr < r.base + r.size), None)


def other_use(img: Elf, base: int, size: int, arena_symbols: list[str]) -> int:
    """A RAM region's use less the arenas in it: what the rest of the image needs there."""
    used = ram_usage(img, "", "", base, size).used
    arenas = sum(s.size for name in set(arena_symbols) if (s := img.symbols.get(name))
                 and base <= s.value < base + size)
    return max(0, used - arenas)
