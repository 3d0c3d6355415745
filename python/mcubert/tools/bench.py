# SPDX-License-Identifier: Apache-2.0
"""Instruction-count benchmarks on the emulated Cortex-M7 (QEMU -icount shift=0).

Counts come from SysTick under -icount shift=0 (tests/runner/mcubert_icount.h): deterministic,
40-instruction resolution. They are instructions, not cycles: QEMU models no pipeline or
memory timing. Never timed tests: run `mcubert bench` and record its output.

Per inference, one full-length input (n = L tokens), five configurations:
    dsp-fine        SIMD kernels, fine schedule        (build cortex-m7: Kconfig MCUBERT_CODE_SIZE)
    dsp-speed-fine  the same with MCUBERT_CODE_SPEED   (build cortex-m7-speed: about 2 KiB more .text)
    portable-fine   portable kernels, fine schedule    (build cortex-m7-portable)
    dsp-layerwise   SIMD kernels, layer-wise schedule  (build cortex-m7)
    naive           tests/bench/mcubert_naive.c: plain per-op loops, every layer all rows
All five must return the same logits; the benchmark checks it.

The tokenizer (src/mcubert_tokenize.c, bert-base-uncased's vocabulary): instructions per input
byte and per sentence over the Rotten Tomatoes test sentences on the emulated Cortex-M7 (ids
checked against wordpiece.py), its share of a bert-tiny classification at the longest length
measured, the flash of the vocabulary blob and Unicode tables, the scratch, and the worst-case
stack of each entry point from gcc's static call graph (-fcallgraph-info=su, Cortex-M7 -O2).
Dense MACs: the whole BERT computed densely, per layer 4nH^2 + 2nHF + 2n^2H, plus pooler and
classifier. Executed MACs: what each configuration's schedule really computes. Both runtime
schedules make K and V of every token in every layer but, in the last layer, the query, the
attention, the out-projection and the FFN of the [CLS] row only (nq = 1): 2nH^2 + 2nqH^2 +
2nq*nH + 2nqHF per layer; the naive build computes every layer on every row (= dense). The
clustered embedding's rank-r products are counted in neither (so the per-MAC figures are upper
bounds).
"""
from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..targets import host
from ..export.generate import generate_from
from ..int8.qmodel import QuantModel

CONFIGS = ("dsp-fine", "dsp-speed-fine", "portable-fine", "dsp-layerwise", "naive")
_BUILD = {"dsp-fine": "cortex-m7", "dsp-speed-fine": "cortex-m7-speed", "portable-fine": "cortex-m7-portable",
          "dsp-layerwise": "cortex-m7"}


@dataclass
class BenchConfig:
    tiny_lengths: tuple = (32, 64, 128, 256, 512)
    tokenizer_sentences: int | None = None   # None: every Rotten Tomatoes test sentence
    mini_lengths: tuple = (128,)
    clusters: int = 4
    ranks: tuple = (64, 32, 16, 0)
    seed: int = 0


@dataclass
class Results:
    inference: list = field(default_factory=list)   # dicts: model, L, config, insns, dense_macs
    kernels: list = field(default_factory=list)     # dicts: build, kernel, shape, macs, elems, insns
    code_size: list = field(default_factory=list)   # dicts: build, text, rodata
    tokenizer: dict = field(default_factory=dict)   # see tokenizer()


def dense_macs(qm: QuantModel, n: int) -> int:
    H, F = qm.hidden, qm.ffn
    return qm.layers * (4 * n * H * H + 2 * n * H * F + 2 * n * n * H) + H * H + H * qm.num_labels


def executed_macs(qm: QuantModel, n: int, config: str = "dsp-fine") -> int:
    """MACs the configuration computes for n tokens (module docstring)."""
    if config == "naive":
        return dense_macs(qm, n)
    H, F = qm.hidden, qm.ffn
    total = H * H + H * qm.num_labels
    for layer in range(qm.layers):
        nq = 1 if layer == qm.layers - 1 else n
        total += 2 * n * H * H + 2 * nq * H * H + 2 * nq * n * H + 2 * nq * H * F
    return total


def _random_model(preset: str, cfg: BenchConfig, workdir: Path) -> QuantModel:
    from ..modeling.newmodel import new_model
    from ..quantization.quantize import CalibConfig, quantize_model, random_calibration_ids
    m = new_model(preset, cfg.clusters, list(cfg.ranks), cfg.seed, str(workdir / preset))
    ids = random_calibration_ids(m.config.vocab_size, CalibConfig(samples=8, max_len=128, seed=cfg.seed),
                                 m.config.max_position_embeddings)
    return quantize_model(m, ids)


def _runner(config: str) -> host.Runner:
    if config == "naive":
        elf = host.build("cortex-m7") / "mcubert_naive_runner.elf"
        return host.Runner(lambda paths: host.qemu_argv("cortex-m7", elf, paths), timeout=3600)
    return host.runner(_BUILD[config])


def inference(qm: QuantModel, model: str, L: int, seed: int = 0) -> list[dict]:
    ids = [np.random.default_rng(seed).integers(0, qm.vocab_size, size=L).astype(np.uint16)]
    rows, ref = [], None
    for config in CONFIGS:
        plan, blob = generate_from(qm, L, "layerwise" if config == "dsp-layerwise" else "fine")
        st, logits, counts = host.run_runner(_runner(config), plan, blob, ids, counts=True)
        if st[0] != 0:
            raise host.RuntimeError_(f"{model} L={L} {config}: status {host.ERRORS.get(st[0])}")
        if ref is None:
            ref = logits[0]
        elif not np.array_equal(ref, logits[0]):
            raise host.RuntimeError_(f"{model} L={L}: {config} logits differ from dsp-fine")
        rows.append({"model": model, "L": L, "config": config, "insns": int(counts[0]),
                     "dense_macs": dense_macs(qm, L), "executed_macs": executed_macs(qm, L, config)})
    return rows


_LINE = re.compile(r"kernel=(\S+) shape=(\S+) macs=(\d+) elems=(\d+) insns=(\d+)")


def kernels() -> list[dict]:
    out = []
    for build in ("cortex-m7", "cortex-m7-speed", "cortex-m7-portable"):
        elf = host.build(build) / "mcubert_bench_kernels.elf"
        r = subprocess.run(host.qemu_argv(build, elf, [str(elf)]), capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            raise host.RuntimeError_(f"kernel benchmark failed ({r.returncode}): {r.stderr[-2000:]}")
        for m in _LINE.finditer(r.stdout + r.stderr):  # QEMU may send semihosting output to either
            out.append({"build": build, "kernel": m[1], "shape": m[2], "macs": int(m[3]), "elems": int(m[4]),
                        "insns": int(m[5])})
    return out


_COST = re.compile(r"cost kernel=(\S+) rows=(\d+) k=(\d+) n=(\d+) insns=(\d+) repeat=(\d+)")
COST_COMMAND = "mcubert bench --cost-table python/mcubert/export/kernel_costs.py"


def cost_rows() -> list[tuple]:
    """The planner's cost table: tests/bench/mcubert_bench_costs.c on the emulated Cortex-M7 (SIMD)."""
    elf = host.build("cortex-m7") / "mcubert_bench_costs.elf"
    r = subprocess.run(host.qemu_argv("cortex-m7", elf, [str(elf)]), capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise host.RuntimeError_(f"cost benchmark failed ({r.returncode}): {r.stderr[-2000:]}")
    return [(m[1], *map(int, m.groups()[1:])) for m in _COST.finditer(r.stdout + r.stderr)]


def write_cost_table(rows: list[tuple], path: Path) -> None:
    from ..export import costmodel
    costmodel.write_table(rows, path, COST_COMMAND)


def cost_fit_error(path: Path) -> float:
    """The model's largest relative error over the table just written."""
    import importlib.util
    from ..export import costmodel
    spec = importlib.util.spec_from_file_location("_costs", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    saved = costmodel.kernel_costs
    costmodel.kernel_costs = mod
    costmodel.coefficients.cache_clear()
    try:
        return costmodel.fit_error()
    finally:
        costmodel.kernel_costs = saved
        costmodel.coefficients.cache_clear()


def code_size() -> list[dict]:
    """.text and .rodata of the runtime's own objects (no libc, no libgcc, no runner)."""
    from elftools.elf.elffile import ELFFile
    out = []
    for build in ("cortex-m7", "cortex-m7-speed", "cortex-m7-portable", "cortex-m3"):
        # the classifier alone: the tokenizer and its Unicode tables are optional, sized apart
        objs = sorted(o for o in (host.build(build) / "CMakeFiles" / "mcubert_objs.dir").rglob("*.obj")
                      if not o.name.startswith(("mcubert_tokenize", "mcubert_unicode_tables")))
        text = rodata = 0
        for o in objs:
            with open(o, "rb") as f:
                for s in ELFFile(f).iter_sections():
                    if s.name.startswith(".text"):
                        text += s["sh_size"]
                    elif s.name.startswith(".rodata"):
                        rodata += s["sh_size"]
        out.append({"build": build, "text": text, "rodata": rodata, "objects": len(objs)})
    return out


def stack_usage(sources: list[Path], roots: list[str], cpu_flags: list[str]) -> dict[str, int]:
    """Worst-case stack bytes of each root function: the deepest path through gcc's static call
    graph (-fcallgraph-info=su) of `sources`; calls out of them (memcpy, memcmp) count 0."""
    specs = subprocess.run(["arm-none-eabi-gcc", "-print-file-name=picolibc.specs"], capture_output=True,
                           text=True, check=True).stdout.strip()
    node = re.compile(r'node: \{ title: "([^"]+)" label: "[^"\\]*\\n[^"\\]*\\n(\d+) bytes')
    edge = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
    size: dict[str, int] = {}
    calls: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory() as d:
        for src in sources:
            obj = Path(d) / (src.stem + ".o")
            subprocess.run(["arm-none-eabi-gcc", f"--specs={specs}", *cpu_flags, "-O2", "-std=c99",
                            "-fcallgraph-info=su", f"-I{host.REPO / 'include'}", f"-I{host.REPO / 'src'}", "-c",
                            str(src), "-o", str(obj)], check=True, capture_output=True, text=True)
            text = obj.with_suffix(".ci").read_text()
            size.update({t.split(":")[-1]: int(n) for t, n in node.findall(text)})
            for a, b in edge.findall(text):
                calls.setdefault(a.split(":")[-1], set()).add(b.split(":")[-1])

    def depth(f: str, seen: tuple = ()) -> int:
        if f in seen:
            raise ValueError(f"recursion through {f}")
        return size.get(f, 0) + max((depth(g, seen + (f,)) for g in calls.get(f, ())), default=0)

    return {r: depth(r) for r in roots}


def tokenizer(sentences: int | None = None) -> dict:
    """The tokenizer's flash, RAM and speed (module docstring)."""
    from ..data import corpus
    from ..export import tokenizer_blob as tb
    from ..targets.tokenizer_c import run_tok_runner, tok_runner
    from ..text.vocab import bert_uncased_tokenizer
    from ..text.wordpiece import WordPiece

    tok = bert_uncased_tokenizer()
    vocab = [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
    split: dict = {}
    blob = tb.vocab_blob(vocab, split=split)
    texts = [e.text for e in corpus.load()["test"]][:sentences]
    res, spent, init = run_tok_runner(tok_runner("cortex-m7"), blob, [(t.encode(), None, 128) for t in texts],
                                      counts=True)
    wp = WordPiece(vocab)
    bad = sum(r[1] != wp.encode(t, 128) for r, t in zip(res, texts))
    if bad:
        raise host.RuntimeError_(f"tokenizer: {bad} of {len(texts)} sentences differ from wordpiece.py")
    nbytes = sum(len(t.encode()) for t in texts)
    stack = stack_usage([host.REPO / "src" / "mcubert_tokenize.c", host.REPO / "src" / "mcubert_init.c"],
                        ["mcubert_tokenize", "mcubert_tokenize_pair", "mcubert_vocab_init"],
                        ["-mcpu=cortex-m7", "-mfpu=fpv5-sp-d16", "-mfloat-abi=hard", "-mthumb"])
    from ..targets import tokenizer_c

    return {"sentences": len(texts), "bytes": nbytes, "insns": sum(spent), "insns_per_byte": sum(spent) / nbytes,
            "mean": sum(spent) / len(texts), "max": max(spent), "init": init, "blob_bytes": len(blob),
            "tables_bytes": tb.tables_flash_bytes(), "split": split,
            "scratch": tokenizer_c._lib("release").mcubert_tokenize_buffer_size(), "stack": stack}


def run(cfg: BenchConfig, out_json: Path | None = None) -> Results:
    res = Results()
    with tempfile.TemporaryDirectory() as d:
        tiny = _random_model("bert-tiny", cfg, Path(d))
        jobs = [("bert-tiny", tiny, L) for L in cfg.tiny_lengths]
        if cfg.mini_lengths:
            mini = _random_model("bert-mini", cfg, Path(d))
            jobs += [("bert-mini", mini, L) for L in cfg.mini_lengths]
        for name, qm, L in tqdm(jobs, desc="inference"):
            res.inference += inference(qm, name, L, cfg.seed)
    res.kernels = kernels()
    res.code_size = code_size()
    res.tokenizer = tokenizer(cfg.tokenizer_sentences)
    if out_json:
        out_json.write_text(json.dumps(asdict(res), indent=1))
    return res


def tables(res: Results) -> str:
    keys = sorted({(r["model"], r["L"]) for r in res.inference}, key=lambda k: (k[0] != "bert-tiny", k[1]))
    lines = ["| model | L | dense MACs | executed MACs (runtime / naive) | " + " | ".join(CONFIGS)
             + " | dsp-fine insn/dense MAC | dsp-fine insn/executed MAC | naive / dsp-fine |",
             "|---|---:|---:|---:|" + "---:|" * len(CONFIGS) + "---:|---:|---:|"]
    for model, L in keys:
        c = {r["config"]: r for r in res.inference if r["model"] == model and r["L"] == L}
        f = c["dsp-fine"]
        lines.append(f"| {model} | {L} | {f['dense_macs']:,} | {f['executed_macs']:,} / "
                     f"{c['naive']['executed_macs']:,} | " + " | ".join(f"{c[k]['insns']:,}" for k in CONFIGS)
                     + f" | {f['insns'] / f['dense_macs']:.3f} | {f['insns'] / f['executed_macs']:.3f} | "
                     f"{c['naive']['insns'] / f['insns']:.2f}x |")
    lines += ["", "| model | L | " + " | ".join(f"{k} insn/executed MAC" for k in CONFIGS) + " |",
              "|---|---:|" + "---:|" * len(CONFIGS)]
    for model, L in keys:
        c = {r["config"]: r for r in res.inference if r["model"] == model and r["L"] == L}
        lines.append(f"| {model} | {L} | " + " | ".join(f"{c[k]['insns'] / c[k]['executed_macs']:.3f}"
                                                      for k in CONFIGS) + " |")
    # SIMD: the default (Kconfig MCUBERT_CODE_SIZE) build; SIMD speed: MCUBERT_CODE_SPEED
    lines += ["", "| kernel | shape | MACs | SIMD insns | SIMD insn/MAC | SIMD speed insns | SIMD speed insn/MAC "
              "| portable insns | portable insn/MAC | speed-up (portable / SIMD) |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    port = {(k["kernel"], k["shape"]): k for k in res.kernels if k["build"] == "cortex-m7-portable"}
    fast = {(k["kernel"], k["shape"]): k for k in res.kernels if k["build"] == "cortex-m7-speed"}
    for k in res.kernels:
        if k["build"] != "cortex-m7":
            continue
        p, f = port[(k["kernel"], k["shape"])], fast.get((k["kernel"], k["shape"]))
        per = (lambda n: f"{n / k['macs']:.3f}") if k["macs"] else (lambda n: f"{n / k['elems']:.1f}/elem")
        sp = f"{f['insns']:,} | {per(f['insns'])}" if f else "- | -"
        lines.append(f"| {k['kernel']} | {k['shape']} | {k['macs']:,} | {k['insns']:,} | {per(k['insns'])} | "
                     f"{sp} | {p['insns']:,} | {per(p['insns'])} | {p['insns'] / k['insns']:.2f}x |")
    lines += ["", "| build | runtime .text | runtime .rodata |", "|---|---:|---:|"]
    for c in res.code_size:
        lines.append(f"| {c['build']} -O2 | {c['text']:,} B | {c['rodata']:,} B |")
    t = res.tokenizer
    if t:
        # the yardstick is L=128; a --quick run has shorter lengths only
        ref = max((r for r in res.inference if r["model"] == "bert-tiny" and r["config"] == "dsp-fine"),
                  key=lambda r: (r["L"] == 128, r["L"]))
        st = t["stack"]
        lines += ["", "| tokenizer (bert-base-uncased vocabulary, cortex-m7) | |", "|---|---:|",
                  f"| vocabulary blob + Unicode tables | {t['blob_bytes']:,} + {t['tables_bytes']:,} = "
                  f"{t['blob_bytes'] + t['tables_bytes']:,} B |",
                  f"| scratch (mcubert_tokenize_buffer_size) | {t['scratch']:,} B |",
                  f"| worst-case stack: tokenize / tokenize_pair / vocab_init | {st['mcubert_tokenize']} / "
                  f"{st['mcubert_tokenize_pair']} / {st['mcubert_vocab_init']} B |",
                  f"| instructions per input byte ({t['sentences']:,} Rotten Tomatoes test sentences) | "
                  f"{t['insns_per_byte']:,.0f} |",
                  f"| instructions per sentence, mean / max | {t['mean']:,.0f} / {t['max']:,} |",
                  f"| share of one bert-tiny classification at L={ref['L']} (dsp-fine), mean / max | "
                  f"{100 * t['mean'] / ref['insns']:.2f} % / {100 * t['max'] / ref['insns']:.2f} % |",
                  f"| mcubert_vocab_init (CRC, decoding every entry) | {t['init']:,} |"]
    return "\n".join(lines)


def plot(res: Results, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for config in CONFIGS:
        pts = sorted((r["L"], r["insns"] / r["executed_macs"]) for r in res.inference
                     if r["model"] == "bert-tiny" and r["config"] == config)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=config)
    ax.axhline(1.0, color="grey", ls="--", lw=0.8)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("sequence length L (tokens)")
    ax.set_ylabel("instructions per executed MAC")
    ax.set_title("bert-tiny inference on emulated Cortex-M7")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
