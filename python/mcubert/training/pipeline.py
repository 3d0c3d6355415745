# SPDX-License-Identifier: Apache-2.0
"""The whole recipe in one resumable run: data, teacher, distilled student, two-stage embedding
search, int8 quantization, and evaluation through the integer reference and the host C runtime.
Each stage writes its own directory under `out`; a stage whose result exists is skipped, and an
interrupted one continues from its last checkpoint."""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class PipelineConfig:
    out: str = "runs/rt"
    preset: str = "bert-tiny"
    board: str = "nucleo_f746zg"
    reserve: int = 414720           # flash left to the application (= budget.DEFAULT_RESERVE)
    teacher: str | None = None      # an existing `mcubert train teacher` directory
    teacher_init: str | None = None  # a local BERT checkpoint the teacher starts from (default all-MiniLM-L6-v2)
    teacher_epochs: int = 3
    student_epochs: int = 2
    augment: int = 8                # augmented variants per training sentence
    unlabelled: int = 0             # extra tweets/news sentences
    stage1_epochs: int = 1
    stage2_epochs: int = 1
    finetune_epochs: int = 2
    calib_samples: int = 256
    relation_weight: float = 1.0    # student: MiniLMv2-style relation loss (train.DistillConfig)
    baselines: list[str] = field(default_factory=list)   # svd, adaptive, prune
    budget: int | None = None       # embedding bytes; overrides the board (bert-mini fits no board)
    limit: int | None = None        # smoke runs: first N sentences of each split
    stage_limit: int | None = None  # search and baselines: first N sentences of the extra set too
    batch_size: int = 32
    seed: int = 0
    data: str = "rotten-tomatoes"   # rotten-tomatoes, a cached dataset NAME, or a FILE (imported and cached)
    data_options: dict = field(default_factory=dict)   # a FILE's columns, split files, seed (datasets.build)
    position_rank: int | str | None = "search"  # "search": the search chooses the position table's rank
                                                # under the budget, the baselines take it; None: dense; R: rank R

    @classmethod
    def smoke(cls, out: str, **kw) -> "PipelineConfig":
        """Every stage on a few hundred sentences, one epoch each (CI)."""
        return cls(out=out, teacher_epochs=1, student_epochs=1, augment=2, stage1_epochs=1, stage2_epochs=1,
                   finetune_epochs=1, calib_samples=32, limit=300, baselines=["svd", "adaptive", "prune"], **kw)


def _done(d: Path) -> dict | None:
    f = d / "metrics.json"
    return json.loads(f.read_text()) if f.is_file() else None


def _say(msg: str) -> None:
    print(f"[pipeline] {msg}", flush=True)


def quantize_and_eval(checkpoint: Path, dst: Path, samples: int, seed: int, limit: int | None) -> dict:
    """int8 model file calibrated on training sentences, then test accuracy through the reference
    and the host C runtime."""
    from ..int8 import modelfile
    from ..quantization.quantize import quantize_checkpoint
    from .evaluate import evaluate_quantized

    if not dst.is_file():
        modelfile.save(quantize_checkpoint(checkpoint, samples=samples, seed=seed, split="train").qm, dst)
    r = evaluate_quantized(dst, split="test", limit=limit)
    row = {k: r[k] for k in ("n", "accuracy_reference", "accuracy_c", "identical", "blob_bytes", "params")}
    # the file remembers the accuracy it was made with
    modelfile.set_provenance(dst, int8_test_accuracy=round(r["accuracy_reference"], 4), test_sentences=r["n"])
    return row


def stage_args(cfg: PipelineConfig, student: Path, resume: bool) -> dict:
    """RunConfig fields the search and every baseline share. The stage limit never exceeds
    the student's own (its distillation set covers only that many train sentences)."""
    return dict(student=str(student), board=cfg.board, reserve=cfg.reserve, budget=cfg.budget,
                finetune_epochs=cfg.finetune_epochs, batch_size=cfg.batch_size,
                limit=min((n for n in (cfg.stage_limit, cfg.limit) if n), default=None), seed=cfg.seed,
                position_rank=None if cfg.position_rank == "search" else cfg.position_rank, resume=resume)


def prepare_data(cfg: PipelineConfig) -> str:
    """The dataset every stage reads, by name: a FILE is checked, split and cached first (under
    its stem, or data_options["name"]), so all stages see the same split."""
    from ..data import datasets

    if cfg.data == datasets.BUILTIN or not Path(cfg.data).is_file():
        return datasets.load(cfg.data).name           # the built-in corpus or a cached NAME (checked here)
    ds = datasets.build(cfg.data, **cfg.data_options)
    datasets.save(ds)
    _say(f"data: {ds.name}, {len(ds.labels)} labels ({', '.join(ds.labels)}), "
         + ", ".join(f"{len(ds.splits[s])} {s}" for s in ("train", "dev", "test")))
    return ds.name


def teacher_and_student(cfg: PipelineConfig, data: str, resume: bool = True):
    """The first two stages, each skipped when its result exists: (teacher dir, student dir,
    rows, times, skipped). The sweep shares them between all its points."""
    from . import train

    out = Path(cfg.out)
    times, rows, skipped = {}, {}, set()
    tc = dict(batch_size=cfg.batch_size, seed=cfg.seed, limit=cfg.limit, data=data)

    t0 = time.time()
    teacher = Path(cfg.teacher) if cfg.teacher else out / "teacher"
    if _done(teacher):
        skipped.add("teacher")
    else:
        _say(f"teacher: fine-tuning {cfg.teacher_init or 'all-MiniLM-L6-v2'} -> {teacher}")
        train.train_teacher(train.TrainConfig(out=str(teacher), epochs=cfg.teacher_epochs, lr=5e-5, **tc),
                            resume=resume, init=cfg.teacher_init)
    rows["teacher"] = _done(teacher)
    if "params" not in rows["teacher"]:
        from transformers import BertForSequenceClassification

        rows["teacher"]["params"] = sum(p.numel() for p in BertForSequenceClassification.from_pretrained(
            str(teacher)).parameters())
    times["teacher"] = time.time() - t0

    t0 = time.time()
    student = out / f"student-{cfg.preset}"
    if _done(student):
        skipped.add("student")
    else:
        _say(f"student: distilling {cfg.preset} -> {student}")
        train.train_student(train.TrainConfig(out=str(student), epochs=cfg.student_epochs, lr=5e-4, **tc),
                            str(teacher), train.DistillConfig(cfg.preset, unlabelled=cfg.unlabelled,
                                                              augment=cfg.augment,
                                                              relation_weight=cfg.relation_weight),
                            resume=resume)
    rows["dense"] = _done(student)
    times["student"] = time.time() - t0
    return teacher, student, rows, times, skipped


def run(cfg: PipelineConfig, resume: bool = True) -> dict:
    from .baselines import baseline
    from .search import RunConfig, SearchConfig, search

    from ..data import corpus, datasets

    data = prepare_data(cfg)
    ds = datasets.load(data)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pipeline.json").write_text(json.dumps(asdict(cfg), indent=2) + "\n")
    teacher, student, rows, times, skipped = teacher_and_student(cfg, data, resume)

    common = stage_args(cfg, student, resume)
    t0 = time.time()
    searched = out / f"search-{cfg.preset}"
    if _done(searched):
        skipped.add("search")
    else:
        _say(f"search: two-stage embedding search under the {cfg.board} flash budget -> {searched}")
        search(SearchConfig(out=str(searched), stage1_epochs=cfg.stage1_epochs, stage2_epochs=cfg.stage2_epochs,
                            search_positions=cfg.position_rank == "search", **common))
    rows["mcubert"] = _done(searched)
    times["search"] = time.time() - t0
    if cfg.position_rank == "search":
        # the baselines compress the word embedding alone: the same position table cost as the search's
        common["position_rank"] = rows["mcubert"].get("position_rank")

    for kind in cfg.baselines:
        t0 = time.time()
        d = out / f"{kind}-{cfg.preset}"
        if _done(d):
            skipped.add(kind)
        else:
            _say(f"baseline {kind} -> {d}")
            baseline(kind, RunConfig(out=str(d), **common))
        rows[kind] = _done(d)
        times[kind] = time.time() - t0

    t0 = time.time()
    model = out / f"{cfg.preset}.mcubert"
    _say(f"quantize and evaluate -> {model}")
    rows["mcubert"]["int8"] = quantize_and_eval(searched, model, cfg.calib_samples, cfg.seed, cfg.limit)
    for kind in ["dense", *cfg.baselines]:
        d = student if kind == "dense" else out / f"{kind}-{cfg.preset}"
        rows[kind]["int8"] = quantize_and_eval(d, out / f"{kind}-{cfg.preset}.mcubert", cfg.calib_samples,
                                               cfg.seed, cfg.limit)
    times["quantize+eval"] = time.time() - t0
    chosen = choose(rows, ["mcubert", *cfg.baselines])
    shipped = model if chosen == "mcubert" else out / f"{chosen}-{cfg.preset}.mcubert"
    _say(f"best dev accuracy at the budget: {chosen} ({rows[chosen]['dev_accuracy']:.4f}) -> model_file {shipped}")
    tfidf = corpus.tfidf_baseline({k: v[:cfg.limit] if cfg.limit else v for k, v in ds.splits.items()})
    summary = {"config": asdict(cfg), "data": {"name": ds.name, "source": ds.source, "labels": ds.labels},
               "tfidf": tfidf, "models": rows, "seconds": _seconds(out, times, skipped), "chosen": chosen,
               "model_file": str(shipped)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _seconds(out: Path, times: dict, skipped: set) -> dict:
    """Stage times; a resumed run keeps the recorded time of each stage it skipped."""
    f = out / "summary.json"
    prev = json.loads(f.read_text()).get("seconds", {}) if f.is_file() else {}
    return {k: prev[k] if k in skipped and k in prev else round(v, 1) for k, v in times.items()}


def choose(rows: dict, keys: list[str]) -> str:
    """The compressed model to ship: the best dev accuracy among those at the budget (the
    search first on ties). The test split never takes part in the choice."""
    return max(keys, key=lambda k: (rows[k]["dev_accuracy"], k == "mcubert"))


def table(summary: dict) -> str:
    """The docs/results.md table: test-split accuracy of each model, float and int8."""
    preset = summary["config"]["preset"]
    names = {"teacher": "teacher (all-MiniLM-L6-v2)", "dense": f"{preset} dense student",
             "svd": f"{preset} + truncated SVD", "fwsvd": f"{preset} + Fisher-weighted SVD", "adaptive": f"{preset} + adaptive (frequency buckets)",
             "prune": f"{preset} + vocabulary pruning", "mcubert": f"{preset} + MCUBERT search"}
    lines = ["| model | parameters | flash bytes (weights + tables) | float | int8 reference | int8 C runtime |",
             "|---|---:|---:|---:|---:|---:|"]
    for key, m in summary["models"].items():
        q = m.get("int8")
        cells = [names.get(key, key), f"{q['params']:,}" if q else f"{m.get('params', 0):,}" if m.get("params") else "",
                 f"{q['blob_bytes']:,}" if q else "", f"{m['test_accuracy']:.4f}",
                 f"{q['accuracy_reference']:.4f}" if q else "", f"{q['accuracy_c']:.4f}" if q else ""]
        lines.append("| " + " | ".join(cells) + " |")
    secs = ", ".join(f"{k} {v / 60:.1f} min" for k, v in summary["seconds"].items())
    head = ""
    if "data" in summary:
        d, t = summary["data"], summary["tfidf"]
        head = (f"data: {d['name']} ({d['source']}); labels: {', '.join(d['labels'])}\n"
                f"TF-IDF + logistic regression (C={t['C']:g}): dev {t['dev_accuracy']:.4f}, "
                f"test {t['test_accuracy']:.4f}\n\n")
    return head + "\n".join(lines) + f"\n\nstage times: {secs}"


def ship(model: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model, dst)
