# SPDX-License-Identifier: Apache-2.0
"""`mcubert generate`: weight blob (.bin and .inc) plus the schedule header for one model.

With `c_source=True` (what mcubert_add_model() asks for during `west build`) it also writes
<name>_model.h/.c: the blob as a const array in flash, the schedule, the labels and the arena;
with `inputs`, <name>_inputs.h: sentences tokenised here, with the integer reference's logits.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from ..int8 import modelfile
from .blob import build_blob
from .planner import BUFFERS, Dims, Plan, plan
from ..int8.qmodel import QuantModel

TEMPLATE_DIR = Path(__file__).parent / "templates"


@dataclass
class Generated:
    plan: Plan
    blob: bytes
    files: dict[str, Path]


def c_name(name: str) -> str:
    n = re.sub(r"[^0-9A-Za-z_]", "_", name)
    return n if re.match(r"[A-Za-z_]", n) else f"m_{n}"


def inc_text(data: bytes, per_line: int = 16) -> str:
    """Comma-separated byte list, as Zephyr's generate_inc_file emits it."""
    lines = (", ".join(f"0x{b:02x}" for b in data[i:i + per_line]) + "," for i in range(0, len(data), per_line))
    return "\n".join(lines) + "\n"


def c_string(text: str) -> str:
    """Contents of a C string literal: printable ASCII as is, everything else as octal escapes."""
    out = []
    for b in text.encode("utf-8"):
        c = chr(b)
        if c in '"\\?':
            out.append("\\" + c)          # '?' too: no trigraphs
        elif 32 <= b < 127:
            out.append(c)
        else:
            out.append(f"\\{b:03o}")
    return "".join(out)


def c_int32(v: int) -> str:
    return "(-2147483647 - 1)" if v == -(1 << 31) else str(v)


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined)


def render_header(p: Plan, name: str, blob_len: int, model_name: str, labels: list[str]) -> str:
    return _env().get_template("mcubert_schedule.h.j2").render(
        plan=p, words=p.words(), buffers=BUFFERS, name=name, guard=f"{name.upper()}_SCHEDULE_H_",
        blob_len=blob_len, model_name=model_name, labels=[c_string(x) for x in labels])


def render_model(p: Plan, name: str, blob_len: int, model_name: str, labels: list[str],
                 arena_extern: str | None = None) -> tuple[str, str]:
    """(<name>_model.h, <name>_model.c) texts."""
    if arena_extern is not None and not re.fullmatch(r"[A-Za-z_][0-9A-Za-z_]*", arena_extern):
        raise ValueError(f"arena name '{arena_extern}' is not a C identifier")
    kw = dict(plan=p, words=p.words(), buffers=BUFFERS, name=name, NAME=name.upper(), blob_len=blob_len,
              model_name=model_name, labels=[c_string(x) for x in labels], arena_extern=arena_extern)
    env = _env()
    return env.get_template("model.h.j2").render(**kw), env.get_template("model.c.j2").render(**kw)


@dataclass
class Input:
    text: str
    ids: list[int]
    logits: list[int]
    label: int
    offset: int = 0
    n_first: int = 0        # tokens of [CLS] a [SEP] (a pair), or all of them (one sentence)


def read_inputs(path: str | Path) -> list[str]:
    """One sentence per line (for a sentence-pair model, `first<TAB>second`); blank lines and
    lines starting with '#' are skipped."""
    lines = [ln.strip(" \r\n") for ln in Path(path).read_text(encoding="utf-8").splitlines()]
    sents = [ln for ln in lines if ln and not ln.startswith("#")]
    if not sents:
        raise ValueError(f"{path}: no sentences")
    return sents


def tokenize_inputs(qm: QuantModel, sentences: list[str], max_seq_len: int) -> list[Input]:
    """Tokenise with the model's own vocabulary and run the integer reference on each."""
    from ..int8 import reference
    from ..text.wordpiece import WordPiece

    if not qm.vocab:
        raise ValueError("the model file has no vocabulary, so sentences cannot be tokenised")
    from ..text.vocab import split_pair_line

    wp = WordPiece(qm.vocab)
    L = min(max_seq_len, qm.max_positions)
    out, offset = [], 0
    for s in sentences:
        a, b = split_pair_line(s, qm.is_pair)
        if b is None:
            ids, n_first, x, text = wp.encode(a, L), None, None, a
        else:
            ids, n_first = wp.encode_pair(a.strip(), b.strip(), L)
            x, text = reference.Pair(ids, n_first), f"{a.strip()} [SEP] {b.strip()}"
        logits = [int(v) for v in reference.classify(qm, ids if x is None else x)]
        out.append(Input(text, ids, logits, max(range(len(logits)), key=logits.__getitem__), offset,
                         len(ids) if n_first is None else n_first))
        offset += len(ids)
    return out


def render_inputs(name: str, inputs: list[Input], num_labels: int, max_seq_len: int, model_name: str,
                  inputs_name: str, text_pair: bool = False) -> str:
    view = [dict(text=c_string(x.text), ids=x.ids, logits=[c_int32(v) for v in x.logits], label=x.label,
                 offset=x.offset, n_first=x.n_first or len(x.ids)) for x in inputs]
    return _env().get_template("inputs.h.j2").render(
        name=name, NAME=name.upper(), inputs=view, total_tokens=sum(len(x.ids) for x in inputs),
        num_labels=num_labels, max_seq_len=max_seq_len, model_name=model_name, inputs_name=inputs_name,
        text_pair=int(bool(text_pair)))


def generate_from(qm: QuantModel, max_seq_len: int, mode: str = "fine", **plan_kw) -> tuple[Plan, bytes]:
    p = plan(Dims.of(qm), max_seq_len, mode, **plan_kw)
    return p, build_blob(qm, p.hash)


def _write(path: Path, data: str | bytes) -> None:
    """Write only when the contents change, so unchanged outputs keep their timestamps."""
    old = path.read_bytes() if path.exists() else None
    new = data.encode() if isinstance(data, str) else data
    if old != new:
        path.write_bytes(new)


def generate(model_path: str | Path, max_seq_len: int, out_dir: str | Path, name: str | None = None,
             mode: str = "fine", header_name: str = "mcubert_schedule.h", c_source: bool = False,
             inputs: str | Path | None = None, arena_extern: str | None = None, **plan_kw) -> Generated:
    """Everything is computed (and every error raised) before the first file is written."""
    model_path, out = Path(model_path), Path(out_dir)
    qm = modelfile.load(model_path)
    name = c_name(name or model_path.stem)
    p, blob = generate_from(qm, max_seq_len, mode, **plan_kw)
    texts = {"bin": (f"{name}_blob.bin", blob), "inc": (f"{name}_blob.inc", inc_text(blob)),
             "header": (header_name, render_header(p, name, len(blob), model_path.name, qm.labels)),
             "schedule": (f"{name}_schedule.bin", p.to_bytes())}
    if c_source:
        h, c = render_model(p, name, len(blob), model_path.name, qm.labels, arena_extern)
        texts["model_h"], texts["model_c"] = (f"{name}_model.h", h), (f"{name}_model.c", c)
    if inputs is not None:
        xs = tokenize_inputs(qm, read_inputs(inputs), max_seq_len)
        texts["inputs"] = (f"{name}_inputs.h", render_inputs(name, xs, qm.num_labels, max_seq_len, model_path.name,
                                                             Path(inputs).name, qm.is_pair))
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a directory; give a directory for the output")
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    for kind in ("model_h", "model_c", "inputs", "bin", "inc", "header", "schedule"):
        if kind in texts:
            files[kind] = out / texts[kind][0]
            _write(files[kind], texts[kind][1])
    return Generated(p, blob, files)
