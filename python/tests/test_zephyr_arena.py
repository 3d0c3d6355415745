# SPDX-License-Identifier: Apache-2.0
"""Arena placement by mcubert_add_model() (issue 18, item 4), without Zephyr: the region order
from the board profiles, the RAM the rest of the image declares (.config), the configure-time
choice and its messages, the post-link check of zephyr.elf (section and symbol tables read by
mcubert.targets.elf), and the sample's Kconfig range against the shipped models."""
from __future__ import annotations

import re
import shutil
import struct
import subprocess

import pytest

from conftest import make_qm
from mcubert.int8 import modelfile
from mcubert.targets import boards, elf, memory, zephyr
from mcubert.targets.fit import arena_size, fit_report
from mcubert.targets.host import REPO

SAMPLE = REPO / "samples" / "bert_classify"
F746_DT = {"zephyr,sram": (0x20010000, 262144), "zephyr,flash": (0x08000000, 1 << 20),
           "zephyr,dtcm": (0x20000000, 65536)}
F746 = [f"{k}=0x{b:x}:{s}" for k, (b, s) in F746_DT.items()]
DOTCONFIG = """# comment
CONFIG_MP_MAX_NUM_CPUS=1
CONFIG_MAIN_STACK_SIZE=2048
CONFIG_ISR_STACK_SIZE=2048
CONFIG_IDLE_STACK_SIZE=320
CONFIG_SYSTEM_WORKQUEUE_STACK_SIZE=1024
CONFIG_HEAP_MEM_POOL_SIZE=0
CONFIG_MCUBERT_RAM_RESERVE=2048
CONFIG_BERT_CLASSIFY_MODEL="model/sentiment_tiny.mcubert"
# CONFIG_SHELL is not set
"""
DECLARED = 2048 + 2048 + 320 + 1024 + 2048


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("arena")
    _, qm = make_qm(d, layers=1, hidden=32, heads=2, ffn=64, vocab=200, max_pos=128, clusters=2,
                    ranks=(8, 0), labels=2, seed=3)
    path = d / "arena.mcubert"
    modelfile.save(qm, path)
    return path


# --- region order and the RAM the image declares -------------------------------------------

def test_candidates_fastest_first_from_the_profile():
    f7 = boards.get("nucleo_f746zg")
    assert [c.name for c in memory.candidates(F746_DT, f7)] == ["DTCM", "SRAM"]
    # the profile's order, not the region sizes: a profile listing SRAM first places there first
    h7 = boards.get("nucleo_h743zi")
    dt = {"zephyr,sram": (0x24000000, 524288), "zephyr,dtcm": (0x20000000, 131072)}
    assert [c.name for c in memory.candidates(dt, h7)] == ["DTCM", "AXI_SRAM"]   # SRAM1/2: no chosen node
    swapped = boards.Board(**{**f7.__dict__, "ram": list(reversed(f7.ram))})
    assert [c.name for c in memory.candidates(F746_DT, swapped)] == ["SRAM", "DTCM"]
    # no profile: DTCM before SRAM; one memory chosen twice is one region
    assert [c.chosen for c in memory.candidates(F746_DT)] == ["zephyr,dtcm", "zephyr,sram"]
    same = {"zephyr,sram": (0x30000000, 524288), "zephyr,dtcm": (0x30000000, 524288)}
    assert [c.chosen for c in memory.candidates(same)] == ["zephyr,dtcm"]
    assert memory.candidates({"zephyr,flash": (0, 1024)}) == []
    # every profile with a tightly coupled RAM lists it first
    for b in boards.all_boards():
        tcm = [i for i, r in enumerate(b.ram) if "TCM" in r.name]
        assert tcm in ([], [0]), b.name


def test_declared_ram_from_dotconfig():
    cfg = memory.parse_dotconfig(DOTCONFIG)
    assert cfg["BERT_CLASSIFY_MODEL"] == "model/sentiment_tiny.mcubert" and "SHELL" not in cfg
    items = dict(memory.declared_ram(cfg))
    assert sum(items.values()) == DECLARED and items["main stack"] == 2048 and "kernel heap" not in items
    # two CPUs double the ISR and idle stacks; the shell, the deferred logger and mcubert's shell add theirs
    more = memory.parse_dotconfig(DOTCONFIG.replace("NUM_CPUS=1", "NUM_CPUS=2") + "CONFIG_SHELL=y\n"
                                  "CONFIG_SHELL_STACK_SIZE=3072\nCONFIG_LOG=y\nCONFIG_LOG_MODE_DEFERRED=y\n"
                                  "CONFIG_LOG_BUFFER_SIZE=1024\nCONFIG_LOG_PROCESS_THREAD=y\n"
                                  "CONFIG_LOG_PROCESS_THREAD_STACK_SIZE=768\nCONFIG_MCUBERT_SHELL=y\n"
                                  "CONFIG_MCUBERT_SHELL_MAX_SEQ_LEN=128\nCONFIG_MCUBERT_SHELL_MAX_LABELS=16\n"
                                  "CONFIG_HEAP_MEM_POOL_SIZE=4096\n")
    items = dict(memory.declared_ram(more))
    assert sum(items.values()) == DECLARED + 2048 + 320 + 3072 + 1024 + 768 + 2 * 128 + 4 * 16 + 4096
    assert dict(memory.declared_ram({"LOG": "y", "LOG_MODE_MINIMAL": "y", "LOG_BUFFER_SIZE": "1024"})).get(
        "log buffer") is None
    # without CONFIG_MCUBERT_RAM_RESERVE in the .config the default reserve still counts
    assert sum(n for _, n in memory.declared_ram({"MAIN_STACK_SIZE": "1024"})) == 1024 + memory.DEFAULT_RESERVE


def test_place_auto_counts_what_else_is_in_each_region():
    cfg = memory.parse_dotconfig(DOTCONFIG)
    f7 = boards.get("nucleo_f746zg")
    assert memory.place(50_304, F746_DT, cfg, f7).chosen == "zephyr,dtcm"       # nothing else in DTCM
    assert memory.place(65_536, F746_DT, cfg, f7).chosen == "zephyr,dtcm"
    p = memory.place(65_537, F746_DT, cfg, f7)
    assert p.chosen == "zephyr,sram" and [u.region.name for u in p.tried] == ["DTCM", "SRAM"]
    assert p.use.declared_bytes == DECLARED and p.use.free == 262144 - DECLARED
    # SRAM's size alone would hold it, SRAM less the stacks and the reserve does not
    big = 262144 - DECLARED + 1
    assert memory.place(big, F746_DT, {}, f7).chosen == "zephyr,sram"
    assert not memory.place(big, F746_DT, cfg, f7).ok
    # an earlier model's arena in DTCM leaves 15,232 B: the next 50,304 B arena goes to SRAM
    p = memory.place(50_304, F746_DT, cfg, f7, arenas={"zephyr,dtcm": 50_304})
    assert p.chosen == "zephyr,sram" and p.tried[0].free == 65536 - 50_304
    # explicit choices are checked, never moved
    assert memory.place(50_304, F746_DT, cfg, f7, explicit="zephyr,sram").chosen == "zephyr,sram"
    assert not memory.place(65_537, F746_DT, cfg, f7, explicit="zephyr,dtcm").ok
    assert memory.place(10, {"zephyr,sram": F746_DT["zephyr,sram"]}, cfg, explicit="zephyr,dtcm").use is None
    # a DTCM that is also Zephyr's RAM carries the declared RAM
    same = {"zephyr,sram": (0x20000000, 65536), "zephyr,dtcm": (0x20000000, 65536)}
    assert memory.place(65536 - DECLARED, same, cfg).ok and not memory.place(65536 - DECLARED + 1, same, cfg).ok


# --- the configure-time check, as mcubert_add_model() runs it ------------------------------

def _check(model, *extra, L=64, board="nucleo_f746zg", dt=F746, chosen="auto"):
    args = ["check", "--model", str(model), "--name", "m", "--max-seq-len", str(L), "--board", board,
            "--board-target", f"{board}/stm32f746xx", "--arena-chosen", chosen]
    for d in dt:
        args += ["--dt", d]
    return zephyr.main(args + list(extra))


def _decision(out: str) -> dict[str, str]:
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"arena_chosen=\S+ arena_bytes=\d+ declared=\d+", last), last
    return dict(kv.split("=", 1) for kv in last.split())


def test_check_auto_places_dtcm_then_sram(model, capsys, tmp_path):
    qm = modelfile.load(model)
    dot = tmp_path / ".config"
    dot.write_text(DOTCONFIG)
    assert _check(model, "--dotconfig", str(dot)) == 0
    out = capsys.readouterr().out
    assert _decision(out) == {"arena_chosen": "zephyr,dtcm", "arena_bytes": str(arena_size(qm, 64)), "declared": "0"}
    assert "arena in DTCM (zephyr,dtcm, the fastest RAM that holds it)" in out
    # a DTCM one byte too small: SRAM, with what the image declares there
    a = arena_size(qm, 64)
    small = [F746[0], F746[1], f"zephyr,dtcm=0x20000000:{a - 1}"]
    assert _check(model, "--dotconfig", str(dot), board="other", dt=small) == 0
    out = capsys.readouterr().out
    assert _decision(out) == {"arena_chosen": "zephyr,sram", "arena_bytes": str(a), "declared": str(DECLARED)}
    assert f"too small: DTCM ({a - 1} B free of {a - 1} B)" in out
    assert f"{262144 - DECLARED - a} B of SRAM left after the arena and {DECLARED} B the image declares" in out
    assert "main stack 2048" in out and "CONFIG_MCUBERT_RAM_RESERVE) 2048" in out
    # the arenas of earlier models count: SRAM full of them, nothing holds this one
    full = [f"zephyr,sram=0x20010000:{DECLARED + a + 100}", F746[1], f"zephyr,dtcm=0x20000000:{a - 1}"]
    assert _check(model, "--dotconfig", str(dot), "--arena-used", "zephyr,sram=200", board="other", dt=full) == 1
    err = capsys.readouterr().err
    assert "no RAM region holds it" in err and "earlier arenas in zephyr,sram 200" in err and "Hint: MAX_SEQ_LEN" in err
    assert _check(model, "--dotconfig", str(dot), "--arena-used", "zephyr,sram=100", board="other", dt=full) == 0
    assert _decision(capsys.readouterr().out)["arena_chosen"] == "zephyr,sram"


def test_check_explicit_region_counts_other_ram(model, capsys, tmp_path):
    qm = modelfile.load(model)
    a = arena_size(qm, 64)
    dot = tmp_path / ".config"
    dot.write_text(DOTCONFIG)
    tight = [f"zephyr,sram=0x20010000:{a + DECLARED - 1}", F746[1], F746[2]]
    assert _check(model, chosen="zephyr,sram", board="other", dt=tight) == 0            # size alone: fits
    assert _decision(capsys.readouterr().out)["arena_chosen"] == "zephyr,sram"
    assert _check(model, "--dotconfig", str(dot), chosen="zephyr,sram", board="other", dt=tight) == 1
    err = capsys.readouterr().err
    assert "it does not fit the chosen region" in err and f"{a - 1} B free after {DECLARED} B" in err
    best = int(err.split("Hint: MAX_SEQ_LEN ")[1].split()[0])
    assert arena_size(qm, best) <= a - 1 < arena_size(qm, best + 1)
    # explicit DTCM stays DTCM even where SRAM is faster to find room in
    assert _check(model, "--dotconfig", str(dot), chosen="zephyr,dtcm") == 0
    assert _decision(capsys.readouterr().out)["arena_chosen"] == "zephyr,dtcm"


CMAKE = shutil.which("cmake")


@pytest.mark.skipif(CMAKE is None, reason="needs cmake")
def test_cmake_reads_the_decision(model, tmp_path, capsys):
    """mcubert_add_model()'s parsing of the check's output, in CMake script mode, on the real
    output: the decision it reads is the check's, and the lines it prints leave it out."""
    dot = tmp_path / ".config"
    dot.write_text(DOTCONFIG)
    a = arena_size(modelfile.load(model), 64)
    for dtcm, want in ((65536, "zephyr,dtcm"), (a - 1, "zephyr,sram")):
        assert _check(model, "--dotconfig", str(dot), board="other",
                      dt=[F746[0], F746[1], f"zephyr,dtcm=0x20000000:{dtcm}"]) == 0
        out = capsys.readouterr().out.rstrip("\n")
        (tmp_path / "out.txt").write_text(out)
        script = tmp_path / "parse.cmake"
        script.write_text(f'include("{REPO / "cmake" / "mcubert_zephyr.cmake"}")\n'
                          f'file(READ "{tmp_path / "out.txt"}" msg)\n'
                          'mcubert_parse_check_output("${msg}" chosen bytes declared lines)\n'
                          'list(LENGTH lines n)\n'
                          'message("${chosen}|${bytes}|${declared}|${n}")\n'
                          'foreach(l ${lines})\n  message("line: ${l}")\nendforeach()\n')
        r = subprocess.run([CMAKE, "-P", str(script)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        d = _decision(out)
        report = out.splitlines()[:-1]
        assert r.stderr.splitlines()[0] == f"{want}|{a}|{d['declared']}|{len(report)}" and d["arena_chosen"] == want
        assert r.stderr.splitlines()[1:] == [f"line: {ln}" for ln in report]
    script.write_text(f'include("{REPO / "cmake" / "mcubert_zephyr.cmake"}")\n'
                      'mcubert_parse_check_output("no decision here" c b d l)\n')
    r = subprocess.run([CMAKE, "-P", str(script)], capture_output=True, text=True)
    assert r.returncode != 0 and "unexpected output of the fit check" in r.stderr


# --- after the link: the ELF file -----------------------------------------------------------

def _elf(cls: int, sections, segments, symbols) -> bytes:
    """A minimal little-endian ELF (class 1: 32-bit, 2: 64-bit) with these section headers
    (name, type, flags, addr, size), program headers (type, vaddr, paddr, filesz, memsz) and
    symbols (name, value, size)."""
    w = 4 if cls == 1 else 8
    ehsize, phentsize, shentsize = (52, 32, 40) if cls == 1 else (64, 56, 64)
    shstr, strtab = b"\0", b"\0"
    names = []
    for s in sections + [(".symtab",), (".strtab",), (".shstrtab",)]:
        names.append(len(shstr))
        shstr += s[0].encode() + b"\0"
    syms = b"\0" * (16 if cls == 1 else 24)
    for name, value, size in symbols:
        off = len(strtab)
        strtab += name.encode() + b"\0"
        syms += (struct.pack("<IIIBBH", off, value, size, 0x11, 0, 1) if cls == 1
                 else struct.pack("<IBBHQQ", off, 0x11, 0, 1, value, size))
    phoff = ehsize
    data_off = phoff + phentsize * len(segments)
    symtab_off = data_off
    strtab_off = symtab_off + len(syms)
    shstr_off = strtab_off + len(strtab)
    shoff = shstr_off + len(shstr)
    n = len(sections) + 4
    hdr = b"\x7fELF" + bytes([cls, 1, 1]) + b"\0" * 9
    hdr += struct.pack("<HHIIIIIHHHHHH" if cls == 1 else "<HHIQQQIHHHHHH",
                       2, 40, 1, 0, phoff, shoff, 0, ehsize, phentsize, len(segments), shentsize, n, n - 1)
    ph = b"".join(struct.pack("<IIIIIIII", t, 0, v, p, fs, ms, 0, 4) if cls == 1
                  else struct.pack("<IIQQQQQQ", t, 0, 0, v, p, fs, ms, 4) for t, v, p, fs, ms in segments)
    fmt = "<IIIIIIIIII" if cls == 1 else "<IIQQQQIIQQ"
    sh = struct.pack(fmt, *[0] * 10)
    for i, (name, typ, flags, addr, size) in enumerate(sections):
        sh += struct.pack(fmt, names[i], typ, flags, addr, 0, size, 0, 0, 4, 0)
    k = len(sections)
    sh += struct.pack(fmt, names[k], elf.SHT_SYMTAB, 0, 0, symtab_off, len(syms), n - 2, 1, w,
                      16 if cls == 1 else 24)
    sh += struct.pack(fmt, names[k + 1], 3, 0, 0, strtab_off, len(strtab), 0, 0, 1, 0)
    sh += struct.pack(fmt, names[k + 2], 3, 0, 0, shstr_off, len(shstr), 0, 0, 1, 0)
    return hdr + ph + syms + strtab + shstr + sh


PROGBITS, ALLOC_X, ALLOC_W = 1, 0x6, 0x3
# An F746-like image: code and constants in flash, .data (initial values in flash too), .bss
# and .noinit in SRAM, the arena in DTCM.
SECTIONS = [("text", PROGBITS, ALLOC_X, 0x08000000, 30000), ("rodata", PROGBITS, 0x2, 0x08007530, 600000),
            ("datas", PROGBITS, ALLOC_W, 0x20010000, 72), ("bss", elf.SHT_NOBITS, ALLOC_W, 0x20010048, 900),
            ("noinit", elf.SHT_NOBITS, ALLOC_W, 0x20010400, 4608),
            (".dtcm_noinit", elf.SHT_NOBITS, ALLOC_W, 0x20000000, 50304), (".comment", PROGBITS, 0, 0, 38)]
SEGMENTS = [(elf.PT_LOAD, 0x08000000, 0x08000000, 630000, 630000),
            (elf.PT_LOAD, 0x20010000, 0x08000000 + 630000, 72, 72),
            (elf.PT_LOAD, 0x20010048, 0x20010048, 0, 5560)]
SYMBOLS = [("main", 0x08000101, 40), ("bert_arena", 0x20000000, 50304)]


@pytest.mark.parametrize("cls", [1, 2])
def test_elf_reader(cls):
    img = elf.parse(_elf(cls, SECTIONS, SEGMENTS, SYMBOLS))
    assert [(s.name, s.addr, s.size) for s in img.sections[1:8]] == [(n, a, z) for n, _, _, a, z in SECTIONS]
    assert img.symbols["bert_arena"].value == 0x20000000 and img.symbols["bert_arena"].size == 50304
    sram = elf.ram_usage(img, "SRAM", "zephyr,sram", 0x20010000, 262144)
    assert sram.used == 0x400 + 4608 and {s.name for s in sram.sections} == {"datas", "bss", "noinit"}
    assert elf.flash_usage(img, "FLASH", "zephyr,flash", 0x08000000, 1 << 20).used == 630072
    assert elf.ram_usage(img, "DTCM", "zephyr,dtcm", 0x20000000, 65536).used == 50304
    with pytest.raises(ValueError, match="not an ELF"):
        elf.parse(b"\x7fELG" + b"\0" * 60)
    with pytest.raises(ValueError, match="truncated or malformed"):
        elf.parse(_elf(cls, SECTIONS, SEGMENTS, SYMBOLS)[:200])


def test_memcheck_summary_and_failures(tmp_path, capsys):
    path = tmp_path / "zephyr.elf"
    path.write_bytes(_elf(1, SECTIONS, SEGMENTS, SYMBOLS))
    ok, text = zephyr.memcheck(path, F746_DT, {"bert_arena": "zephyr,dtcm"}, "nucleo_f746zg")
    assert ok, text
    assert re.search(r"DTCM\s+zephyr,dtcm\s+50304 B of\s+65536 B \( 76\.8%\); arena bert_arena 50304 B at 0x20000000",
                     text), text
    assert re.search(r"SRAM\s+zephyr,sram\s+5632 B of\s+262144 B", text) and re.search(r"FLASH.*630072 B", text)
    # flash first, then RAM in the profile's order (fastest first)
    assert [ln.split()[0] for ln in text.splitlines()[1:]] == ["FLASH", "DTCM", "SRAM"]
    # the arena somewhere else than where the configure step placed it
    ok, text = zephyr.memcheck(path, F746_DT, {"bert_arena": "zephyr,sram"}, "nucleo_f746zg")
    assert not ok and "placed for zephyr,sram but the linker put it in DTCM (zephyr,dtcm)" in text
    ok, text = zephyr.memcheck(path, F746_DT, {"other_arena": "zephyr,sram"})     # unreferenced: dropped
    assert ok and "no arena other_arena in the image" in text
    ok, text = zephyr.memcheck(path, F746_DT, {"bert_arena": ""})          # custom section: report only
    assert ok and "arena bert_arena" in text
    small = {**F746_DT, "zephyr,dtcm": (0x20000000, 50000)}
    ok, text = zephyr.memcheck(path, small, {"bert_arena": "zephyr,dtcm"})
    assert not ok and "DTCM (zephyr,dtcm) holds 50304 B but has 50000 B" in text
    # the configure step counted less than the link put beside the arena: say by how much
    ok, text = zephyr.memcheck(path, F746_DT, {"bert_arena": "zephyr,dtcm"}, expected_other={"zephyr,sram": 5000})
    assert ok and "SRAM holds 5632 B besides the arena, 632 B more than the configure step counted" in text
    ok, text = zephyr.memcheck(path, F746_DT, {"bert_arena": "zephyr,dtcm"}, expected_other={"zephyr,sram": 7488})
    assert ok and "note:" not in text
    # the CLI: one summary on stdout, exit 0; errors on stderr, exit 1
    args = ["memcheck", "--elf", str(path), "--arena", "bert_arena=zephyr,dtcm", "--board", "nucleo_f746zg"]
    for d in F746:
        args += ["--dt", d]
    assert zephyr.main(args) == 0 and "arena bert_arena" in capsys.readouterr().out
    assert zephyr.main(args[:3] + ["--arena", "bert_arena=zephyr,sram"] + args[5:]) == 1
    assert "the linker put it in DTCM" in capsys.readouterr().err
    bad = tmp_path / "bad.elf"
    bad.write_bytes(b"junk")
    assert zephyr.main(["memcheck", "--elf", str(bad)] + args[3:]) == 1
    assert "cannot read" in capsys.readouterr().err


ARM_GCC = shutil.which("arm-none-eabi-gcc")


def test_check_counts_the_last_link(model, tmp_path, capsys):
    """On a re-configure the build directory has zephyr.elf: what it put in a region besides
    the arenas counts where that is more than the .config declares."""
    # the last link: 30,000 B of SRAM besides an arena `m_arena` of 1,000 B there
    secs = SECTIONS[:4] + [("noinit", elf.SHT_NOBITS, ALLOC_W, 0x20010400, 30000 - 0x400 + 1000)]
    path = tmp_path / "zephyr.elf"
    path.write_bytes(_elf(1, secs, SEGMENTS, SYMBOLS[:1] + [("m_arena", 0x20010400 + 29000 - 0x400, 1000)]))
    img = elf.read(path)
    assert elf.other_use(img, 0x20010000, 262144, ["m_arena", "absent"]) == 30000
    assert elf.other_use(img, 0x20010000, 262144, []) == 31000
    cfg = memory.parse_dotconfig(DOTCONFIG)
    f7 = boards.get("nucleo_f746zg")
    linked = {(0x20010000, 262144): 30000, (0x20000000, 65536): 0}
    use = memory.place(70000, F746_DT, cfg, f7, linked=linked).use
    assert use.region.name == "SRAM" and use.declared_bytes == 30000
    assert dict(use.others)[memory.LINKED] == 30000 - DECLARED
    assert memory.place(262144 - 30000 + 1, F746_DT, cfg, f7, linked=linked).chosen is None
    assert memory.place(262144 - 30000 + 1, F746_DT, cfg, f7).chosen == "zephyr,sram"   # .config alone
    # a last link with less than the .config declares changes nothing
    assert memory.place(70000, F746_DT, cfg, f7, linked={(0x20010000, 262144): 10}).use.declared_bytes == DECLARED
    # the CLI, as mcubert_add_model() calls it: this model's arena symbol is left out
    qm = modelfile.load(model)
    dot = tmp_path / ".config"
    dot.write_text(DOTCONFIG)
    a = arena_size(qm, 64)
    small = [F746[0], F746[1], f"zephyr,dtcm=0x20000000:{a - 1}"]
    args = ["--dotconfig", str(dot), "--previous-elf", str(path), "--arena-symbol", "m_arena"]
    assert _check(model, *args, board="other", dt=small) == 0
    out = capsys.readouterr().out
    assert _decision(out)["declared"] == "30000" and f"{memory.LINKED} {30000 - DECLARED}" in out
    assert "counted what the last link (zephyr.elf) put in each region" in out
    assert _check(model, *args[:-2], board="other", dt=small) == 0               # the arena is not left out
    assert _decision(capsys.readouterr().out)["declared"] == "31000"
    (tmp_path / "half.elf").write_bytes(b"\x7fELF\x01\x01")                      # an interrupted link
    assert _check(model, "--dotconfig", str(dot), "--previous-elf", str(tmp_path / "half.elf"),
                  board="other", dt=small) == 0
    assert _decision(capsys.readouterr().out)["declared"] == str(DECLARED)


@pytest.mark.skipif(ARM_GCC is None, reason="needs arm-none-eabi-gcc")
def test_memcheck_on_a_linked_cortex_m_image(tmp_path):
    """A real link: the arena in a DTCM section of its own, the rest in FLASH and SRAM, as a
    Zephyr image lays them out; the reader agrees with the linker's placement."""
    (tmp_path / "a.c").write_text(
        "#include <stdint.h>\n"
        "const uint8_t blob[3000] = {1, 2, 3};\n"
        "uint32_t counter = 7;\n"
        "uint8_t scratch[700];\n"
        "uint8_t m_arena[4096] __attribute__((section(\".dtcm_noinit\"), aligned(16)));\n"
        "int main(void) { m_arena[counter] = blob[counter]; scratch[1] = m_arena[2]; return scratch[3]; }\n"
        "void _start(void) { main(); for (;;) { } }\n")
    (tmp_path / "a.ld").write_text(
        "MEMORY { FLASH (rx) : ORIGIN = 0x08000000, LENGTH = 1M\n"
        "         DTCM (rw) : ORIGIN = 0x20000000, LENGTH = 64K\n"
        "         RAM (rw) : ORIGIN = 0x20010000, LENGTH = 256K }\n"
        "SECTIONS { .text : { *(.text*) *(.rodata*) } > FLASH\n"
        "  .data : { *(.data*) } > RAM AT > FLASH\n"
        "  .bss (NOLOAD) : { *(.bss*) *(COMMON) } > RAM\n"
        "  .dtcm_noinit (NOLOAD) : { *(.dtcm_noinit) } > DTCM }\n")
    out = tmp_path / "a.elf"
    subprocess.run([ARM_GCC, "-mcpu=cortex-m7", "-mthumb", "-O1", "-nostdlib", "-T", str(tmp_path / "a.ld"),
                    str(tmp_path / "a.c"), "-o", str(out)], check=True)
    ok, text = zephyr.memcheck(out, F746_DT, {"m_arena": "zephyr,dtcm"})
    assert ok, text
    assert re.search(r"DTCM\s+zephyr,dtcm\s+4096 B .*arena m_arena 4096 B at 0x20000000", text), text
    img = elf.read(out)
    sram = elf.ram_usage(img, "SRAM", "zephyr,sram", 0x20010000, 262144)
    assert {s.name for s in sram.sections} == {".data", ".bss"} and 704 <= sram.used <= 704 + 16
    flash = elf.flash_usage(img, "FLASH", "zephyr,flash", 0x08000000, 1 << 20)
    assert 3000 + 4 <= flash.used < 3000 + 4 + 512      # code, the blob, and .data's initial value
    assert not zephyr.memcheck(out, F746_DT, {"m_arena": "zephyr,sram"})[0]


# --- the sample and the Kconfig -------------------------------------------------------------

def test_sample_max_seq_len_range_follows_the_shipped_models():
    text = (SAMPLE / "Kconfig").read_text()
    block = text.split("config BERT_CLASSIFY_MAX_SEQ_LEN")[1].split("\nconfig ")[0]
    lo, hi = map(int, re.search(r"^\trange (\d+) (\d+)$", block, re.M).groups())
    default = int(re.search(r"^\tdefault (\d+)$", block, re.M).group(1))
    models = sorted((SAMPLE / "model").glob("*.mcubert"))
    assert models
    assert lo == 2                                           # [CLS] [SEP]: the check's lower bound
    assert hi == max(modelfile.load(m).max_positions for m in models)
    assert lo <= default <= hi


def test_kconfig_defaults_to_auto_and_f746_forces_nothing():
    k = (REPO / "Kconfig").read_text()
    assert re.search(r"choice MCUBERT_ARENA_LOCATION\n\tprompt \"Arena location\"\n\tdefault MCUBERT_ARENA_AUTO", k)
    assert "config MCUBERT_RAM_RESERVE" in k and f"default {memory.DEFAULT_RESERVE}" in k
    conf = (SAMPLE / "boards" / "nucleo_f746zg.conf").read_text()
    assert not [ln for ln in conf.splitlines() if ln.startswith("CONFIG_MCUBERT_ARENA")]
    cmake = (REPO / "cmake" / "mcubert_zephyr.cmake").read_text()
    assert "--arena-chosen ${arena_chosen}" in cmake and "set(arena_chosen auto)" in cmake
    assert "MCUBERT_ARENA_IN_DTCM=1" in cmake and "MCUBERT_ARENA_IN_DTCM" in (REPO / "include" / "mcubert"
                                                                                / "zephyr.h").read_text()
    assert "mcubert.targets.zephyr memcheck" in cmake and "--dotconfig ${DOTCONFIG}" in cmake
    assert "--previous-elf ${previous_elf}" in cmake and "--arena-symbol ${sym}" in cmake


def test_fit_report_ranks_regions_as_the_build_places(model):
    """`mcubert plan --board` names the region mcubert_add_model() would pick (no .config)."""
    qm = modelfile.load(model)
    f7 = boards.get("nucleo_f746zg")
    for L in (16, 128):
        a = arena_size(qm, L)
        rep = fit_report(qm, f7, L)
        dt = {r.chosen: (r.base, r.size) for r in f7.ram}
        placed = memory.place(a, dt, {}, f7)
        assert rep.text.endswith(f"fits: yes, arena in {placed.use.region.name}")
    swapped = boards.Board(**{**f7.__dict__, "ram": list(reversed(f7.ram))})
    assert fit_report(qm, swapped, 16).text.endswith("arena in SRAM")
