# SPDX-License-Identifier: Apache-2.0
"""`mcubert generate`: weight blob (.bin and .inc) plus the schedule header for one model."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jinja2

from . import modelfile
from .blob import build_blob
from .planner import BUFFERS, Dims, Plan, plan
from .qmodel import QuantModel

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


def render_header(p: Plan, name: str, blob_len: int, model_name: str, labels: list[str]) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    safe_labels = [lbl.replace("\\", "\\\\").replace('"', '\\"') for lbl in labels]
    return env.get_template("mcubert_schedule.h.j2").render(
        plan=p, words=p.words(), buffers=BUFFERS, name=name, guard=f"{name.upper()}_SCHEDULE_H_",
        blob_len=blob_len, model_name=model_name, labels=safe_labels)


def generate_from(qm: QuantModel, max_seq_len: int, mode: str = "fine", **plan_kw) -> tuple[Plan, bytes]:
    p = plan(Dims.of(qm), max_seq_len, mode, **plan_kw)
    return p, build_blob(qm, p.hash)


def generate(model_path: str | Path, max_seq_len: int, out_dir: str | Path, name: str | None = None,
             mode: str = "fine", header_name: str = "mcubert_schedule.h", **plan_kw) -> Generated:
    model_path, out = Path(model_path), Path(out_dir)
    qm = modelfile.load(model_path)
    name = c_name(name or model_path.stem)
    p, blob = generate_from(qm, max_seq_len, mode, **plan_kw)
    out.mkdir(parents=True, exist_ok=True)
    files = {"bin": out / f"{name}_blob.bin", "inc": out / f"{name}_blob.inc",
             "header": out / header_name, "schedule": out / f"{name}_schedule.bin"}
    files["bin"].write_bytes(blob)
    files["inc"].write_text(inc_text(blob))
    files["header"].write_text(render_header(p, name, len(blob), model_path.name, qm.labels))
    files["schedule"].write_bytes(p.to_bytes())
    return Generated(p, blob, files)
