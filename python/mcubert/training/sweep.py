# SPDX-License-Identifier: Apache-2.0
"""Accuracy against flash: every compression method at several embedding budgets and seeds, on
one dataset, with one teacher and one dense student shared by all points.

    points   for seed, budget, method: the search or a baseline at that budget (fine-tuned
             with that seed), quantized to int8, and evaluated through the integer reference and
             the host C runtime; each point lands in points/<method>-<budget>-s<seed>/point.json
    resume   a point with point.json is skipped; an interrupted one continues from its stage's
             last epoch (search and baselines resume), so the sweep can be stopped at any time
    report   sweep.json (points and the mean / standard deviation per budget and method),
             sweep.md (the table and, per budget, whether the search is at or above every
             baseline) and a plot of int8 test accuracy against total blob bytes

The short protocol (SweepConfig defaults): every method fine-tunes for one epoch, and the
search's two stages run one epoch each, on the first `stage_limit` train sentences and the
first `stage_limit` extra (augmented / unlabelled) sentences of the student's distillation
set. Dev and test are whole. The seed changes the fine-tuning (and the search's stages), not
the shared student.
"""
from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

METHODS = ("search", "adaptive", "svd", "fwsvd", "prune")
# bert-tiny embedding budgets, bytes: about 24 KB to about 300 KB, with the NUCLEO-F746ZG one
DEFAULT_BUDGETS = (24_000, 48_000, 96_000, 136_616, 300_000)


@dataclass
class SweepConfig:
    out: str = "runs/sweep-rt"
    data: str = "rotten-tomatoes"
    data_options: dict = field(default_factory=dict)
    preset: str = "bert-tiny"
    board: str = "nucleo_f746zg"
    budgets: list[int] = field(default_factory=lambda: list(DEFAULT_BUDGETS))
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    teacher: str | None = None        # reuse a `mcubert train teacher` / pipeline teacher
    student: str | None = None        # reuse a pipeline's dense student (then no teacher is trained)
    stage_limit: int | None = 4000    # the short protocol: first N train and N extra sentences
    finetune_epochs: int = 1
    stage1_epochs: int = 1
    stage2_epochs: int = 1
    calib_samples: int = 256
    position_rank: int | None = None  # every method: the position table at this rank (None: dense)
    search_clusters: int | str = 4    # the search's cluster count, or "auto" (search.choose_clusters)
    search_relax: str = "st"          # the search's relaxation (SearchConfig.relax)
    search_finetune_from: str = "search"  # the search's fine-tuning start (SearchConfig.finetune_from)
    search_multiplier: str = "fixed"  # the search's budget multiplier (SearchConfig.multiplier)
    search_cluster_choice: str = "fisher"  # how search_clusters "auto" chooses (SearchConfig.cluster_choice)
    limit: int | None = None          # smoke runs: every stage and the evaluation on N rows
    smoke: bool = False               # teacher and student: the pipeline's smoke recipe

    def check(self) -> None:
        bad = [m for m in self.methods if m not in METHODS]
        if bad:
            raise ValueError(f"unknown method {bad[0]!r} (choose from {', '.join(METHODS)})")
        if not self.methods or not self.budgets or not self.seeds:
            raise ValueError("give at least one method, budget and seed")
        if min(self.budgets) <= 0:
            raise ValueError(f"budgets must be positive, got {min(self.budgets)}")
        if min(self.seeds) < 0:
            raise ValueError(f"seeds must be >= 0, got {min(self.seeds)}")
        for name in ("budgets", "methods", "seeds"):
            v = getattr(self, name)
            if len(set(v)) != len(v):
                raise ValueError(f"repeated entry in {name}: {v}")


def _say(msg: str) -> None:
    print(f"[sweep] {msg}", flush=True)


def point_dir(out: Path, method: str, budget: int, seed: int) -> Path:
    return out / "points" / f"{method}-{budget}-s{seed}"


def _does_not_fit(e: ValueError) -> bool:
    """The planners' and the search's way of saying a budget is too small."""
    return str(e).startswith("budget ")


def run_point(cfg: SweepConfig, student: Path, method: str, budget: int, seed: int) -> dict:
    from .baselines import baseline
    from .pipeline import quantize_and_eval
    from .search import RunConfig, SearchConfig, search

    d = point_dir(Path(cfg.out), method, budget, seed)
    f = d / "point.json"
    if f.is_file():
        return json.loads(f.read_text())
    d.mkdir(parents=True, exist_ok=True)
    limit = min((n for n in (cfg.stage_limit, cfg.limit) if n), default=None)
    rc = dict(student=str(student), out=str(d), board=cfg.board, budget=budget,
              finetune_epochs=cfg.finetune_epochs, limit=limit, seed=seed, position_rank=cfg.position_rank,
              resume=True)
    row = {"method": method, "budget": budget, "seed": seed}
    t0 = time.time()
    try:
        if method == "search":
            m = search(SearchConfig(**rc, stage1_epochs=cfg.stage1_epochs, stage2_epochs=cfg.stage2_epochs,
                                    clusters=cfg.search_clusters, relax=cfg.search_relax,
                                    finetune_from=cfg.search_finetune_from, multiplier=cfg.search_multiplier,
                                    cluster_choice=cfg.search_cluster_choice))
        else:
            m = baseline(method, RunConfig(**rc))
    except ValueError as e:
        if not _does_not_fit(e):
            raise
        row.update(fits=False, reason=str(e).splitlines()[0])
    else:
        q = quantize_and_eval(d, d / "model.mcubert", cfg.calib_samples, seed, cfg.limit)
        row.update(fits=True, dev_accuracy=m["dev_accuracy"], test_accuracy=m["test_accuracy"],
                   int8_test_accuracy=q["accuracy_reference"], int8_c_accuracy=q["accuracy_c"],
                   identical=q["identical"], n_test=q["n"], blob_bytes=q["blob_bytes"],
                   embedding_bytes=m["embedding_bytes"], cluster_sizes=m["cluster_sizes"],
                   cluster_ranks=m["cluster_ranks"])
    row["seconds"] = round(time.time() - t0, 1)
    # the point is its metrics and model file: training state goes (GBs over a sweep)
    for sub in ("stage1", "stage2", "finetune"):
        for junk in ("checkpoint.pt", "result.pt", "model.safetensors"):
            p = d / sub / junk
            if p.is_file():
                p.unlink()
    f.write_text(json.dumps(row, indent=2) + "\n")
    return row


def _mean_std(xs: list[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    return m, (math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0)


def aggregate(points: list[dict]) -> list[dict]:
    """Mean and sample standard deviation per (budget, method), over the seeds that ran."""
    groups: dict[tuple[int, str], list[dict]] = {}
    for p in points:
        groups.setdefault((p["budget"], p["method"]), []).append(p)
    out = []
    for (budget, method), ps in sorted(groups.items(), key=lambda kv: (kv[0][0], METHODS.index(kv[0][1]))):
        ok = [p for p in ps if p.get("fits")]
        row = {"budget": budget, "method": method, "seeds": len(ps), "fits": len(ok)}
        if ok:
            for k in ("dev_accuracy", "test_accuracy", "int8_test_accuracy"):
                row[k], row[k + "_std"] = _mean_std([p[k] for p in ok])
            row["blob_bytes"] = round(sum(p["blob_bytes"] for p in ok) / len(ok))
            row["identical"] = all(p["identical"] == p["n_test"] for p in ok)
        else:
            row["reason"] = ps[0].get("reason", "")
        out.append(row)
    return out


def verdicts(agg: list[dict]) -> list[dict]:
    """Per budget: the search against the best baseline, on mean dev and on mean int8 test."""
    res = []
    for budget in sorted({a["budget"] for a in agg}):
        rows = {a["method"]: a for a in agg if a["budget"] == budget and a["fits"]}
        base = {m: r for m, r in rows.items() if m != "search"}
        if "search" not in rows or not base:
            continue
        v = {"budget": budget}
        for k in ("dev_accuracy", "int8_test_accuracy"):
            if base:
                best = max(base, key=lambda m: base[m][k])
                v[k] = {"search": rows["search"][k], "best_baseline": best, "baseline": base[best][k],
                        "search_wins": bool(rows["search"][k] >= base[best][k])}
        res.append(v)
    return res


def table(agg: list[dict], title: str = "") -> str:
    lines = ([f"{title}\n"] if title else []) + [
        "| embedding budget | method | seeds | total blob bytes | dev (float) | test (float) | int8 test |",
        "|---:|---|---:|---:|---:|---:|---:|"]
    for a in agg:
        if not a["fits"]:
            lines.append(f"| {a['budget']:,} | {a['method']} | {a['seeds']} | does not fit | | | |")
            continue
        cell = lambda k: f"{a[k]:.4f} ± {a[k + '_std']:.4f}"       # noqa: E731
        lines.append(f"| {a['budget']:,} | {a['method']} | {a['fits']} | {a['blob_bytes']:,} | "
                     f"{cell('dev_accuracy')} | {cell('test_accuracy')} | {cell('int8_test_accuracy')} |")
    lines.append("")
    for v in verdicts(agg):
        parts = []
        for k, name in (("dev_accuracy", "dev"), ("int8_test_accuracy", "int8 test")):
            if k in v:
                x = v[k]
                parts.append(f"{name} {x['search']:.4f} vs {x['best_baseline']} {x['baseline']:.4f} "
                             f"({'search at or above' if x['search_wins'] else 'search below'})")
        lines.append(f"- budget {v['budget']:,}: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


def plot(agg: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for ax, k, name in ((axes[0], "int8_test_accuracy", "int8 test accuracy"),
                        (axes[1], "dev_accuracy", "dev accuracy (float)")):
        for method in METHODS:
            rows = [a for a in agg if a["method"] == method and a["fits"]]
            if rows:
                ax.errorbar([a["blob_bytes"] / 1000 for a in rows], [a[k] for a in rows],
                            yerr=[a[k + "_std"] for a in rows], marker="o", capsize=3, label=method)
        ax.set_xlabel("total blob bytes (kB)")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run(cfg: SweepConfig, plot_to: Path | None = None, report_only: bool = False) -> dict:
    """Run the sweep's missing points, then write the report. report_only: train nothing, report
    the points already finished (of a sweep still running, or cut off)."""
    from .pipeline import PipelineConfig, prepare_data, teacher_and_student

    cfg.check()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    f = out / "sweep_config.json"
    mine = json.loads(json.dumps(asdict(cfg)))
    if f.is_file():
        old = json.loads(f.read_text())
        fixed = ("data", "data_options", "preset", "board", "stage_limit", "finetune_epochs", "stage1_epochs",
                 "stage2_epochs", "calib_samples", "position_rank", "search_clusters", "search_relax",
                 "search_finetune_from", "search_multiplier", "search_cluster_choice", "limit", "smoke")
        base = json.loads(json.dumps(asdict(SweepConfig())))   # a key an older sweep lacks has its default
        base["search_relax"] = "soft"                            # ... except the relaxation: before it, soft
        diff = [k for k in fixed if old.get(k, base[k]) != mine.get(k)]
        if diff:
            raise ValueError(f"{out} holds a sweep with another {diff[0]} ({old.get(diff[0])!r}); "
                             f"use another --out")
    if report_only:
        if not f.is_file():
            raise ValueError(f"{out}: no sweep to report (no sweep_config.json)")
        return _report(cfg, out, mine, None, plot_to)
    f.write_text(json.dumps(mine, indent=2) + "\n")
    if cfg.student:
        student = Path(cfg.student)
        if not (student / "distill_set.npz").is_file():
            raise ValueError(f"--student {student}: no distill_set.npz (give a pipeline's student directory)")
    else:
        pc = (PipelineConfig.smoke(str(out), baselines=[]) if cfg.smoke else PipelineConfig(out=str(out)))
        for k in ("preset", "board", "teacher", "data", "data_options"):
            setattr(pc, k, getattr(cfg, k))
        if cfg.limit:
            pc.limit = cfg.limit
        _, student, _, _, _ = teacher_and_student(pc, prepare_data(pc))
    todo = [(s, b, m) for s in cfg.seeds for b in cfg.budgets for m in cfg.methods]
    points, t0 = [], time.time()
    for i, (seed, budget, method) in enumerate(todo):
        done = (point_dir(out, method, budget, seed) / "point.json").is_file()
        if not done:
            _say(f"point {i + 1}/{len(todo)}: {method} at {budget} B, seed {seed}")
        p = run_point(cfg, student, method, budget, seed)
        points.append(p)
        if not done:
            _say(f"  {'int8 test %.4f, dev %.4f, %d B' % (p['int8_test_accuracy'], p['dev_accuracy'], p['blob_bytes']) if p['fits'] else 'does not fit'}"
                 f" ({p['seconds']:.0f} s; {(time.time() - t0) / 60:.1f} min so far)")
    return _report(cfg, out, mine, points, plot_to)


def _report(cfg: SweepConfig, out: Path, mine: dict, points: list[dict] | None, plot_to: Path | None) -> dict:
    """sweep.json, sweep.md and the plot, from `points` or (None) from every finished point of
    this configuration's seeds, budgets and methods in `out`."""
    todo = [(s, b, m) for s in cfg.seeds for b in cfg.budgets for m in cfg.methods]
    missing = 0
    if points is None:
        points = []
        for seed, budget, method in todo:
            f = point_dir(out, method, budget, seed) / "point.json"
            if f.is_file():
                points.append(json.loads(f.read_text()))
            else:
                missing += 1
        if not points:
            raise ValueError(f"{out}: no finished point to report")
    agg = aggregate(points)
    from .train import data_of

    student = Path(cfg.student) if cfg.student else out / f"student-{cfg.preset}"
    name = data_of(student) if (student / "config.json").is_file() else cfg.data
    title = (f"{name}: {cfg.preset}, {len(cfg.seeds)} seed(s) a point"
             + (f" ({len(points)} of {len(todo)} points finished)" if missing else ""))
    res = {"config": mine, "dataset": name, "points": points, "aggregate": agg, "verdicts": verdicts(agg),
           "missing_points": missing}
    (out / "sweep.json").write_text(json.dumps(res, indent=2) + "\n")
    (out / "sweep.md").write_text(table(agg, title))
    try:
        plot(agg, out / "pareto.png", title)
    except ImportError:          # matplotlib is the optional bench/test extra
        _say("no matplotlib: no plot (pip install 'mcubert[bench]')")
        if plot_to is not None:
            raise ValueError("--plot needs matplotlib: pip install 'mcubert[bench]'") from None
        return res
    if plot_to is not None:
        shutil.copyfile(out / "pareto.png", plot_to)
    return res
