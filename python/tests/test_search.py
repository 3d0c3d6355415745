# SPDX-License-Identifier: Apache-2.0
"""The flash cost model against real blobs, the board budget, the two-stage embedding search
(budget, assignment, ranks, resume, a checkpoint `mcubert quantize` takes) and the baselines."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from mcubert.targets import boards
from mcubert.data import corpus
from mcubert.int8 import modelfile
from mcubert.training import budget as B
from mcubert.export.blob import ALIGN, _slots, build_blob
from mcubert.cli import main
from mcubert.modeling.model import McuBertForSequenceClassification, compress_embedding
from mcubert.modeling.newmodel import new_model
from mcubert.quantization.quantize import CalibConfig, quantize_model, random_calibration_ids
from mcubert.training.search import (SearchConfig, budget_penalty, distill_data, fit_to_budget, frequency_buckets,
                            ladder_ranks, search, trim_to_budget)
from mcubert.training.train import encode, predict, save_distill_set

VOCAB = 30522          # the real tokenizer's: fit() encodes the real split with it
HIDDEN = 16
BUDGET = 20000         # embedding bytes for the small student below (its dense table takes ~490 KB)
BASE_BUDGET = 50000    # svd: rank 1 over all 30522 tokens fits; adaptive: its 16/4/1 buckets fit
FAST = dict(limit=32, batch_size=16, max_len=64, lr=5e-4, kd_alpha=0.0)


def _align(n):
    return n + (-n) % ALIGN


# ---------------------------------------------------------------- the byte model


@pytest.mark.parametrize("ranks,contiguous", [([12], True), ([12, 0], True), ([0, 5, 12], False),
                                               ([1, 2, 3, 0, 12], False), ([3] * 8 + [0] * 8 + [12], False)])
def test_flash_bytes_match_real_blobs(tmp_path, ranks, contiguous):
    """Slot by slot, for 1/2/4/8-bit cluster maps, rank-0 clusters and scattered token maps."""
    vocab, hidden, k = 301, 12, len(ranks)
    model = new_model("bert-tiny", k, ranks, 3, str(tmp_path / "m"), vocab_size=vocab, hidden_size=hidden,
                      num_attention_heads=2, intermediate_size=22, max_position_embeddings=17,
                      num_hidden_layers=2, num_labels=3)
    if not contiguous:
        cl = torch.as_tensor(np.random.default_rng(k).permutation(np.arange(vocab) % k))
        compress_embedding(model, cl, ranks)
        model.save_pretrained(tmp_path / "m")
    emb = model.get_input_embeddings()
    assert contiguous == bool((emb.token_cluster.diff() >= 0).all())
    qm = quantize_model(model, random_calibration_ids(vocab, CalibConfig(samples=2, max_len=8), 17))
    slots = [len(s) for s in _slots(qm)]
    assert slots[:6] == B.embedding_slot_sizes(emb.sizes, emb.ranks, vocab, hidden)
    assert slots[6:] == B.rest_slot_sizes(hidden, 2, 22, 17, 3)
    assert B.embedding_flash_bytes(emb.sizes, emb.ranks, vocab, hidden) == sum(_align(s) for s in slots[:6])
    blob = len(build_blob(qm, 0))
    assert blob == B.model_flash_bytes(model) == B.model_flash_bytes(qm) == B.model_flash_bytes(tmp_path / "m")
    assert B.rest_flash_bytes(model) == blob - B.embedding_flash_bytes(emb.sizes, emb.ranks, vocab, hidden)


@pytest.mark.parametrize("position_rank,max_pos", [(1, 17), (4, 17), (6, 37), (11, 512)])
def test_flash_bytes_match_real_blobs_low_rank_positions(tmp_path, position_rank, max_pos):
    """A low-rank position table: pos holds A' and B'^T (k = rank + 1 columns each), pos_rq
    a per-channel (M, S); the cost model predicts the blob from a config, a model, a checkpoint
    directory or the QuantModel, to the byte."""
    from mcubert.modeling.model import compress_positions

    vocab, hidden, ranks = 301, 12, [12, 0]
    model = new_model("bert-tiny", 2, ranks, 3, str(tmp_path / "m"), vocab_size=vocab, hidden_size=hidden,
                      num_attention_heads=2, intermediate_size=22, max_position_embeddings=max_pos,
                      num_hidden_layers=2, num_labels=3)
    dense_bytes = B.model_flash_bytes(model)
    compress_positions(model, position_rank)
    model.save_pretrained(tmp_path / "m")
    qm = quantize_model(model, random_calibration_ids(vocab, CalibConfig(samples=2, max_len=8), max_pos))
    k = position_rank + 1
    assert qm.pos_rank == k
    slots = [len(s) for s in _slots(qm)]
    assert slots[6:8] == [(max_pos + hidden) * k, 8 * hidden] == B.position_slot_sizes(hidden, max_pos, k)
    assert slots[6:] == B.rest_slot_sizes(hidden, 2, 22, max_pos, 3, k)
    blob = len(build_blob(qm, 0))
    assert blob == B.model_flash_bytes(model) == B.model_flash_bytes(qm) == B.model_flash_bytes(tmp_path / "m")
    assert blob == B.model_flash_bytes(model.config)
    emb = B.embedding_flash_bytes(model.get_input_embeddings().sizes, ranks, vocab, hidden)
    assert B.rest_flash_bytes(model) == blob - emb
    # what the factors save (or cost) against the dense table, padding included
    pad = lambda n: n + (-n) % ALIGN        # noqa: E731
    assert dense_bytes - blob == pad(max_pos * hidden) + pad(8) - pad((max_pos + hidden) * k) - pad(8 * hidden)


def test_blob_size_differences_are_embedding_differences(tmp_path):
    """Two blobs differing only in the embedding differ in size by the embedding bytes' difference."""
    sizes = {}
    for name, ranks in (("a", [16, 4, 0]), ("b", [16, 0]), ("c", [7])):
        m = new_model("bert-tiny", len(ranks), ranks, 0, str(tmp_path / name), vocab_size=203, hidden_size=16,
                      num_attention_heads=2, intermediate_size=20, max_position_embeddings=9,
                      num_hidden_layers=1)
        qm = quantize_model(m, random_calibration_ids(203, CalibConfig(samples=2, max_len=8), 9))
        e = m.get_input_embeddings()
        sizes[name] = (len(build_blob(qm, 0)), B.embedding_flash_bytes(e.sizes, e.ranks, 203, 16))
    for x in "ab":
        for y in "bc":
            assert sizes[x][0] - sizes[y][0] == sizes[x][1] - sizes[y][1]
    assert len({s[0] for s in sizes.values()}) == 3


def test_budget_from_board():
    from mcubert.modeling.config import make_config

    b = boards.get("nucleo_f746zg")
    assert b.firmware_bytes == 34136 == 947320 - 913184
    tiny = make_config("bert-tiny", max_position_embeddings=128)
    rest = B.rest_flash_bytes(tiny)
    got = B.embedding_budget("nucleo_f746zg", rest)
    assert got == 1048576 - 34136 - 414720 - rest
    assert rest + got <= 600 * 1024                 # a bert-tiny model lands at <= 600 KB
    assert B.embedding_budget(b, rest, firmware_bytes=0, reserve=0) == 1048576 - rest
    q = boards.get("qemu_cortex_m3")
    assert q.firmware_bytes is None
    with pytest.raises(ValueError, match="firmware_bytes"):
        B.embedding_budget(q, 1000)
    assert B.embedding_budget(q, 1000, firmware_bytes=24000, reserve=0) == q.flash.size - 25000
    with pytest.raises(ValueError, match="no room"):
        B.embedding_budget(b, 10**6)


# ---------------------------------------------------------------- assignment helpers


def test_fit_to_budget_moves_the_fewest_least_frequent_tokens():
    vocab, hidden, ranks = 1000, 16, [0, 4, 16]
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 50, vocab)
    assign = rng.integers(0, 3, vocab)
    over = B.embedding_flash_bytes(np.bincount(assign, minlength=3).tolist(), ranks, vocab, hidden)
    budget = over - 3000
    got, moved = fit_to_budget(assign, counts, np.zeros(vocab), ranks, hidden, budget)
    sizes = np.bincount(got, minlength=3).tolist()
    assert B.embedding_flash_bytes(sizes, ranks, vocab, hidden) <= budget
    changed = np.nonzero(got != assign)[0]
    assert len(changed) == moved > 0 and (got[changed] == 0).all()
    # the moved tokens are the least frequent of those outside the cheapest cluster ...
    stay = np.nonzero((assign != 0) & (got == assign))[0]
    assert counts[changed].max() <= counts[stay].min()
    # ... and one move fewer (the last token in that order back) would not fit
    cand = np.nonzero(assign != 0)[0]
    last = cand[np.argsort(counts[cand], kind="stable")][moved - 1]
    back = got.copy()
    back[last] = assign[last]
    assert B.embedding_flash_bytes(np.bincount(back, minlength=3).tolist(), ranks, vocab, hidden) > budget


def test_trim_to_budget_drops_lowest_value_directions_then_fills():
    sizes, hidden, vocab = [100, 900], 16, 1000
    sv = [np.linspace(10, 1, 16), np.linspace(2, 0.1, 16)]
    cost = lambda rk: B.embedding_flash_bytes(sizes, rk, vocab, hidden)     # noqa: E731
    ranks = trim_to_budget(sizes, [16, 16], sv, vocab, hidden, 15000)
    assert ranks[0] == 16 and ranks[1] < 16          # the big cluster's small values go
    assert cost(ranks) <= 15000 < cost([16, ranks[1] + 1])
    # fill: slack goes to the best direction that fits, past the given ranks
    ranks = trim_to_budget(sizes, [4, 2], sv, vocab, hidden, 15000)
    assert ranks[0] == 16 and cost(ranks) <= 15000 < cost([16, ranks[1] + 1])
    # a cheap direction dropped for a costly one comes back into the slack
    sizes2, sv2 = [10, 990], [np.full(10, 0.1), np.full(10, 1.0)]
    budget = B.embedding_flash_bytes(sizes2, [10, 10], vocab, hidden) - 300
    assert trim_to_budget(sizes2, [10, 10], sv2, vocab, hidden, budget) == [10, 9]
    with pytest.raises(ValueError, match="rank-0 cost"):
        trim_to_budget(sizes, [1, 1], sv, vocab, hidden, 100)
    # floors: the budget is met without taking a cluster under its floor, even its cheapest one
    tight = cost([16, 2])
    free = trim_to_budget(sizes, [16, 16], sv, vocab, hidden, tight)
    floored = trim_to_budget(sizes, [16, 16], sv, vocab, hidden, tight, floors=[0, 4])
    assert free[1] < 4 <= floored[1] and floored[0] < 16 and cost(floored) <= tight
    assert trim_to_budget(sizes, [0, 0], sv, vocab, hidden, tight, floors=[2, 2])[1] >= 2   # raised to the floor
    with pytest.raises(ValueError, match=r"floor ranks \[4, 4\]"):
        trim_to_budget(sizes, [16, 16], sv, vocab, hidden, cost([3, 3]), floors=[4, 4])


def test_budget_penalty_soft_and_straight_through():
    p = torch.tensor([[0.6, 0.4], [0.3, 0.7]], requires_grad=True)
    r = torch.tensor([0.0, 100.0])
    soft = (p.sum(0) * r).sum()                        # 110 expected bytes
    hard = r[p.argmax(1)].sum()                        # 100: token 1 at rank 100
    g_soft = torch.autograd.grad(budget_penalty(soft, hard, 50, 2.0, "soft"), p, retain_graph=True)[0]
    v = budget_penalty(soft, hard, 50, 2.0, "hard")
    assert v.item() == pytest.approx(2.0 * 50 / 50)    # the hard bytes' excess
    assert torch.allclose(torch.autograd.grad(v, p, retain_graph=True)[0], g_soft)
    assert (g_soft[:, 1] > 0).all() and (g_soft[:, 0] == 0).all()
    # hard bytes within budget: no push, however far the soft expectation is over
    v = budget_penalty(soft, hard, 105, 2.0, "hard")
    assert v.item() == 0 and (torch.autograd.grad(v, p)[0] == 0).all()
    assert budget_penalty(soft, hard, 105, 2.0, "soft").item() == pytest.approx(2.0 * 5 / 105)


# ---------------------------------------------------------------- a small student with a distillation set


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """1 layer, hidden 16, the real 30522-token vocab, weights large enough that the logits depend
    on the tokens; its teacher is itself (so every seen token's embedding matters). The extra
    sentences use ids 2000-2599 only, so most of the vocab is never seen."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("search") / "student"
    m = new_model("bert-tiny", 1, [HIDDEN], 0, str(out), hidden_size=HIDDEN, num_attention_heads=2,
                  intermediate_size=32, num_hidden_layers=1, max_position_embeddings=64, num_labels=2,
                  initializer_range=0.5)
    train = corpus.load()["train"]
    rng = np.random.default_rng(0)
    extra = [[101] + rng.integers(2000, 2600, int(rng.integers(3, 20))).tolist() + [102] for _ in range(64)]
    logits = np.zeros((len(train) + len(extra), 2), np.float32)
    logits[:64] = predict(m, encode(train, FAST["max_len"], 64)[0])
    logits[len(train):] = predict(m, extra)
    save_distill_set(out, extra, logits)
    return out


def test_distill_data_slices_like_fit(student, tmp_path):
    """Teacher logits line up with fit()'s sentence order (train[:limit] + extra[:limit]), also for
    a distillation set made by a student trained with --limit (fewer train sentences)."""
    from mcubert.training.train import load_distill_set

    extra, logits = load_distill_set(student)
    n = len(logits) - len(extra)
    dd = distill_data(student, VOCAB, 64, 16)
    assert len(dd.extra_ids) == 16 and dd.train_sentences == 16
    assert torch.equal(dd.soft, torch.from_numpy(np.concatenate([logits[:16], logits[n:n + 16]])))
    assert dd.counts.sum() == sum(map(len, encode(corpus.load()["train"], 64, 16)[0] + extra[:16]))
    save_distill_set(tmp_path, extra, np.concatenate([logits[:40], logits[n:]]))
    small = distill_data(tmp_path, VOCAB, 64, 16)
    assert torch.equal(small.soft, dd.soft)
    with pytest.raises(ValueError, match="first 40 train sentences"):
        distill_data(tmp_path, VOCAB, 64, 41)


@pytest.fixture(scope="module")
def searched(student):
    """The search through the CLI: 4 candidate clusters (0/1/4/16), two epochs of stage 1 and of
    fine-tuning (the resume test interrupts both)."""
    out = student.parent / "searched"
    assert main(["search", "--student", str(student), "--out", str(out), "--budget", str(BUDGET),
                 "--limit", "32", "--batch-size", "16", "--stage1-epochs", "2", "--finetune-epochs", "2",
                 "--threads", "1"]) == 0
    return out


def test_search_fits_and_quantizes(searched, student, tmp_path):
    m = json.loads((searched / "metrics.json").read_text())
    model = McuBertForSequenceClassification.from_pretrained(searched)
    emb = model.get_input_embeddings()
    assert [emb.sizes, emb.ranks] == [m["cluster_sizes"], m["cluster_ranks"]]
    assert B.embedding_flash_bytes(emb.sizes, emb.ranks, VOCAB, HIDDEN) == m["embedding_bytes"] <= BUDGET
    assert m["budget"] == BUDGET and 0 <= m["dev_accuracy"] <= 1 and 0 <= m["test_accuracy"] <= 1
    assert len(emb.ranks) >= 2 and min(emb.ranks) == 0 and max(emb.ranks) > 0
    for f in ("search.log", "tokenizer.json", "stage1/result.pt", "stage2/result.pt", "finetune/checkpoint.pt"):
        assert (searched / f).is_file(), f
    assert "stage 2 done" in (searched / "search.log").read_text()
    # frequency init: tokens never seen in the distillation set sit in the rank-0 cluster
    dd = distill_data(student, VOCAB, 64, 32)
    cl = emb.token_cluster.numpy()
    zero = [c for c, r in enumerate(emb.ranks) if r == 0]
    assert np.isin(cl[dd.counts == 0], zero).all()
    assert not np.isin(cl[dd.counts > 0], zero).all()
    # `mcubert quantize` takes the directory as it is; the blob is exactly model_flash_bytes
    assert main(["quantize", str(searched), "--out", str(tmp_path / "s.mcubert"), "--samples", "4"]) == 0
    qm = modelfile.load(tmp_path / "s.mcubert")
    assert len(build_blob(qm, 0)) == B.model_flash_bytes(searched) == m["model_bytes"]
    assert m["model_bytes"] == m["rest_bytes"] + m["embedding_bytes"]


def test_stage2_ranks_respect_the_budget(searched):
    s1 = torch.load(searched / "stage1" / "result.pt", weights_only=False)
    s2 = torch.load(searched / "stage2" / "result.pt", weights_only=False)
    sizes = np.bincount(s2["cluster_of"]).tolist()
    assert np.array_equal(s1["cluster_of"], s2["cluster_of"])
    assert B.embedding_flash_bytes(sizes, s2["ranks"], VOCAB, HIDDEN) <= BUDGET
    assert all(0 <= r <= min(n, HIDDEN) for n, r in zip(sizes, s2["ranks"]))
    sm = s2["summary"]
    assert sm["ranks"] == s2["ranks"]
    assert sum(s2["ranks"]) == sum(sm["gate_ranks"]) - sm["directions_dropped"] + sm["directions_added"]
    m = json.loads((searched / "metrics.json").read_text())
    assert m["cluster_ranks"] == s2["ranks"]


def test_stage2_trimming_enforces_the_budget(student, tmp_path):
    """Stage 2 without its budget term (penalty 0) and fast soft ranks opens gates past the
    budget; the trimming then closes the lowest-value directions until the exact bytes fit."""
    m = search(SearchConfig(student=str(student), out=str(tmp_path / "s"), budget=13000, stage1_epochs=1,
                            stage2_epochs=1, finetune_epochs=1, penalty=0.0, rank_lr=1.0, **FAST))
    s2 = m["stage2"]
    sizes, gate = m["cluster_sizes"], s2["gate_ranks"]
    assert B.embedding_flash_bytes(sizes, gate, VOCAB, HIDDEN) > 13000 and s2["directions_dropped"] > 0
    assert m["embedding_bytes"] == s2["bytes"] == B.embedding_flash_bytes(sizes, s2["ranks"], VOCAB, HIDDEN) <= 13000
    assert m["cluster_ranks"] == s2["ranks"]
    assert sum(gate) - sum(s2["ranks"]) == s2["directions_dropped"] - s2["directions_added"]
    # no slack left: opening any one more direction breaks the budget
    for c in range(len(gate)):
        if s2["ranks"][c] < min(sizes[c], HIDDEN):
            more = list(s2["ranks"])
            more[c] += 1
            assert B.embedding_flash_bytes(sizes, more, VOCAB, HIDDEN) > 13000


def test_resume_equals_uninterrupted(searched, student):
    cfg = json.loads((searched / "metrics.json").read_text())["config"]
    part = searched.parent / "part"
    cfg.update(out=str(part), resume=False)
    assert search(SearchConfig(**cfg), stop_after=("stage1", 1)) is None          # interrupted in stage 1
    assert not (part / "stage1" / "result.pt").exists()
    cfg["resume"] = True
    assert search(SearchConfig(**cfg), stop_after=("finetune", 1)) is None        # ... and in the fine-tuning
    assert (part / "stage2" / "result.pt").is_file() and not (part / "metrics.json").exists()
    m = search(SearchConfig(**cfg))
    log = (part / "search.log").read_text()
    assert "resume: stage1 already finished" in log
    assert "resumed from" in (part / "finetune" / "train.log").read_text()
    want = json.loads((searched / "metrics.json").read_text())
    for k in ("cluster_sizes", "cluster_ranks", "embedding_bytes", "dev_accuracy", "test_accuracy"):
        assert m[k] == want[k], k
    a, b = load_file(searched / "model.safetensors"), load_file(part / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_other_options(searched, tmp_path):
    """A half-finished stage made with one option must not be resumed under another."""
    cfg = json.loads((searched / "metrics.json").read_text())["config"]
    cfg.update(out=str(tmp_path / "r"), resume=False)
    assert search(SearchConfig(**cfg), stop_after=("stage1", 0)) is None
    assert json.loads((tmp_path / "r" / "run_config.json").read_text())["penalty"] == cfg["penalty"]
    with pytest.raises(ValueError, match="another penalty"):
        search(SearchConfig(**{**cfg, "resume": True, "penalty": cfg["penalty"] + 1}), stop_after=("stage1", 0))
    # the same options resume; without --resume the directory starts over under the new ones
    assert search(SearchConfig(**{**cfg, "resume": True}), stop_after=("stage1", 0)) is None
    assert search(SearchConfig(**{**cfg, "penalty": cfg["penalty"] + 1}), stop_after=("stage1", 0)) is None


@pytest.mark.parametrize("start", ["search", "student"])
def test_finetune_from(searched, student, tmp_path, start):
    """--finetune-from: the searched plan (stage 2's clusters and ranks) on the stages' trained
    weights, or on the untouched student's, cut by per-cluster truncated SVD of its own table.
    With lr 0 the fine-tuning leaves its starting point as it is, so the saved model shows it."""
    import shutil

    cfg = json.loads((searched / "metrics.json").read_text())["config"]
    out = tmp_path / start
    for stage in ("stage1", "stage2"):                   # the stages are done; only the start differs
        shutil.copytree(searched / stage, out / stage)
    m = search(SearchConfig(**{**cfg, "out": str(out), "resume": True, "finetune_from": start,
                               "finetune_epochs": 1, "lr": 0.0}))
    assert f"finetune from {start}" in (out / "search.log").read_text()
    s2 = torch.load(out / "stage2" / "result.pt", weights_only=False)
    got = load_file(out / "model.safetensors")
    dense = load_file(student / "model.safetensors")
    body = [k for k in dense if "encoder" in k]
    assert body
    trained = {k: v for k, v in s2["rest"].items()}
    for k in body:
        want = dense[k] if start == "student" else trained[k]
        assert torch.equal(got[k], want), k
    if start == "student":
        assert not all(torch.equal(dense[k], trained[k]) for k in body)   # the stages did move them
    # the word table: each cluster's rows at its rank, from the student's table or stage 2's
    own = McuBertForSequenceClassification.from_pretrained(student).get_input_embeddings().dense().detach()
    table = (own if start == "student" else s2["table"]).double().numpy()
    emb = McuBertForSequenceClassification.from_pretrained(out).get_input_embeddings()
    assert list(emb.ranks) == list(s2["ranks"]) == m["cluster_ranks"]
    of = np.asarray(s2["cluster_of"])
    rebuilt = emb.dense().detach().double().numpy()
    for c, r in enumerate(s2["ranks"]):
        rows = table[of == c]
        u, sv, vt = np.linalg.svd(rows, full_matrices=False)
        np.testing.assert_allclose(rebuilt[of == c], (u[:, :r] * sv[:r]) @ vt[:r], atol=1e-4)


def test_finetune_from_best_takes_the_start_with_the_best_dev_accuracy(searched, student, tmp_path):
    """--finetune-from best: the dev accuracy of each start (the stages' network, stage 2's plan
    on the student, stage 1's starting plan on the student) is recorded, each equals that start's
    own (lr 0: the fine-tuning keeps it), and the model saved is the best one's."""
    import shutil

    from mcubert.training.search import normalize
    from mcubert.training.train import accuracy

    cfg = json.loads((searched / "metrics.json").read_text())["config"]
    runs = {}
    for start in ("search", "student", "best"):
        out = tmp_path / start
        for stage in ("stage1", "stage2"):
            shutil.copytree(searched / stage, out / stage)
        runs[start] = search(SearchConfig(**{**cfg, "out": str(out), "resume": True, "finetune_from": start,
                                             "finetune_epochs": 1, "lr": 0.0}))
    starts = runs["best"]["start_dev_accuracy"]
    assert set(starts) == {"search", "student", "start"}
    assert starts["search"] == runs["search"]["dev_accuracy"]
    assert starts["student"] == runs["student"]["dev_accuracy"]
    s1 = torch.load(searched / "stage1" / "result.pt", weights_only=False)
    model = McuBertForSequenceClassification.from_pretrained(str(student))
    of, rk, _ = normalize(s1["init"], s1["candidate_ranks"], HIDDEN)
    compress_embedding(model, torch.as_tensor(of), rk)
    ids, y = encode(corpus.load()["dev"], 64, cfg["limit"])
    assert starts["start"] == accuracy(model, ids, y)
    best = max(("search", "student", "start"), key=lambda k: starts[k])
    assert runs["best"]["finetune_start"] == best and runs["best"]["dev_accuracy"] == starts[best]
    if best != "start":
        a, b = load_file(tmp_path / best / "model.safetensors"), load_file(tmp_path / "best" / "model.safetensors")
        assert all(torch.equal(a[k], b[k]) for k in a)
    else:
        assert runs["best"]["cluster_ranks"] == rk


def test_resume_with_another_finetune_start_keeps_the_stages(searched, tmp_path):
    """--finetune-from only changes the fine-tuning: a resumed run with the other value keeps
    stages 1 and 2 (their results are not rewritten) and redoes the fine-tuning; any other
    option is still refused. A run recorded before the option existed counts as `search`."""
    import shutil

    cfg = json.loads((searched / "metrics.json").read_text())["config"]
    out = tmp_path / "r"
    shutil.copytree(searched, out)
    stamps = {s: (out / s / "result.pt").stat().st_mtime_ns for s in ("stage1", "stage2")}
    rc = json.loads((out / "run_config.json").read_text())
    rc.pop("finetune_from", None)                      # as written before the option existed
    (out / "run_config.json").write_text(json.dumps(rc))
    kw = {**cfg, "out": str(out), "resume": True, "finetune_epochs": 1}
    with pytest.raises(ValueError, match="another finetune_epochs"):
        search(SearchConfig(**kw))
    kw["finetune_epochs"] = cfg["finetune_epochs"]
    m = search(SearchConfig(**{**kw, "finetune_from": "student"}))
    assert m["config"]["finetune_from"] == "student"
    assert stamps == {s: (out / s / "result.pt").stat().st_mtime_ns for s in ("stage1", "stage2")}
    assert "finetune from student" in (out / "search.log").read_text()
    assert json.loads((out / "run_config.json").read_text())["finetune_from"] == "student"


def test_finetune_from_is_checked(student, tmp_path, capsys):
    assert main(["search", "--student", str(student), "--out", str(tmp_path / "x"), "--finetune-from", "teacher"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "invalid choice: 'teacher'" in err[0], err
    with pytest.raises(ValueError, match="finetune_from"):
        search(SearchConfig(student=str(student), out=str(tmp_path / "y"), budget=BUDGET, finetune_from="teacher",
                            limit=8))


def test_stage1_sinks_unseen_tokens(student, tmp_path):
    """No frequency prior (uniform alpha; the soft expected bytes, which start far over budget):
    the budget term alone drives the never-seen tokens into the rank-0 candidate, while the
    distillation loss keeps seen ones at full rank."""
    cfg = SearchConfig(student=str(student), out=str(tmp_path / "u"), budget=BUDGET, clusters=2, ranks=[0, HIDDEN],
                       init="uniform", cost="soft", stage1_epochs=3, stage2_epochs=1, finetune_epochs=1,
                       penalty=0.05, alpha_lr=0.05, **{**FAST, "batch_size": 8})
    search(cfg, stop_after=("stage2", 0))
    s1 = torch.load(tmp_path / "u" / "stage1" / "result.pt", weights_only=False)
    argmax = s1["argmax"]                             # before any budget fix-up
    assert (s1["init"] == 0).all()                     # nothing assigned up front
    seen = distill_data(student, VOCAB, 64, 32).counts > 0
    assert (argmax[~seen] == 0).all()
    alpha = torch.load(tmp_path / "u" / "stage1" / "checkpoint.pt", weights_only=False)["model"][
        "bert.embeddings.word_embeddings.alpha"]
    assert (alpha[torch.from_numpy(~seen)].diff(dim=1) < 0).all()       # strictly, not by a tie
    assert (argmax[seen] == 1).sum() >= 3              # e.g. [CLS], [SEP] and frequent words keep rank 16


def test_ladder_ranks():
    assert ladder_ranks(4, 128) == [2, 8, 32, 128]          # bert-tiny: a rank-2 floor
    assert ladder_ranks(4, 256) == [4, 16, 64, 256]         # bert-mini
    assert ladder_ranks(4, 16) == [0, 1, 4, 16]             # the floor rounds to 0 only when it must
    assert ladder_ranks(2, 128) == [32, 128] and ladder_ranks(1, 128) == [128]
    with pytest.raises(ValueError):
        ladder_ranks(0, 128)


def test_search_with_a_rank_floor_keeps_every_token_a_vector(student, tmp_path):
    """Candidates 2/4/16: never-seen tokens start in the rank-2 cluster, and after both stages
    and fine-tuning no token's vector is zero, within the budget."""
    m = search(SearchConfig(student=str(student), out=str(tmp_path / "f"), budget=80000, ranks=[2, 4, HIDDEN],
                            clusters=3, stage1_epochs=1, stage2_epochs=1, finetune_epochs=1, **FAST))
    emb = McuBertForSequenceClassification.from_pretrained(tmp_path / "f").get_input_embeddings()
    assert min(emb.ranks) >= 1 and m["embedding_bytes"] <= 80000
    s1 = torch.load(tmp_path / "f" / "stage1" / "result.pt", weights_only=False)
    seen = distill_data(student, VOCAB, 64, 32).counts > 0
    assert s1["candidate_ranks"] == [2, 4, HIDDEN] and (s1["init"][~seen] == 0).all()
    with torch.no_grad():
        assert (emb.dense().abs().sum(dim=1) > 0).all()


def test_default_floor_falls_back_to_rank_0_when_over_budget(student, tmp_path):
    """3 clusters of hidden 16 default to 1/4/16; rank 1 for all 30522 tokens is over BUDGET,
    so the floor becomes 0 (an explicit --ranks is never changed)."""
    search(SearchConfig(student=str(student), out=str(tmp_path / "d"), budget=BUDGET, clusters=3, stage1_epochs=1,
                        stage2_epochs=1, finetune_epochs=1, **FAST), stop_after=("stage2", 0))
    s1 = torch.load(tmp_path / "d" / "stage1" / "result.pt", weights_only=False)
    assert ladder_ranks(3, HIDDEN) == [1, 4, HIDDEN] and s1["candidate_ranks"] == [0, 4, HIDDEN]
    with pytest.raises(ValueError, match="tail bucket"):
        search(SearchConfig(student=str(student), out=str(tmp_path / "e"), budget=BUDGET, clusters=3,
                            ranks=[1, 4, HIDDEN], **FAST))


def test_default_floor_falls_to_the_largest_rank_that_fits():
    """When the ladder's floor is over budget, the floor falls to the largest rank at which every
    token fits with the index tables of K clusters, not straight to 0 (rank-0 tokens that the
    training never shows cost test accuracy)."""
    from mcubert.training.search import assignment_bytes, default_ranks, frequency_plan

    assert ladder_ranks(2, HIDDEN) == [4, HIDDEN]
    for budget in (70000, 80000, 100000):
        ranks = default_ranks(2, HIDDEN, VOCAB, budget)
        floor = ranks[0]
        assert ranks[1:] == [HIDDEN] and 1 <= floor < 4

        def cost(r):
            return B.embedding_flash_bytes([VOCAB - 1, 1], [r, 0], VOCAB, HIDDEN)
        assert cost(floor) <= budget < cost(floor + 1), budget
        # stage 1's starting plan exists at that floor and keeps every token at rank >= floor
        of, rk = frequency_plan(np.ones(VOCAB, np.int64), 2, HIDDEN, budget)
        assert rk == ranks and assignment_bytes(of, rk, HIDDEN) <= budget
    assert default_ranks(2, HIDDEN, VOCAB, 200000) == [4, HIDDEN]        # the ladder fits: unchanged
    assert default_ranks(2, HIDDEN, VOCAB, 30000) == [0, HIDDEN]         # not even rank 1 fits


def test_one_cluster_takes_the_largest_rank_that_fits(student, tmp_path):
    """--clusters 1 without ranks is SVD's plan (every token at the largest rank in the budget),
    not the ladder's rank-16 table cut to rank 0."""
    from mcubert.training.baselines import svd_plan
    from mcubert.training.search import default_ranks

    assert default_ranks(1, HIDDEN, VOCAB, 80000) == svd_plan(VOCAB, HIDDEN, 80000)[1] == [2]
    with pytest.raises(ValueError, match="budget 20000 B: not even rank 1"):
        default_ranks(1, HIDDEN, VOCAB, 20000)
    search(SearchConfig(student=str(student), out=str(tmp_path / "one"), budget=80000, clusters=1,
                        stage1_epochs=1, stage2_epochs=1, finetune_epochs=1, **FAST), stop_after=("finetune", 0))
    s2 = torch.load(tmp_path / "one" / "stage2" / "result.pt", weights_only=False)
    assert s2["ranks"] == [2] and float(s2["table"].abs().sum()) > 0


# ---------------------------------------------------------------- baselines


def test_frequency_buckets_rule():
    counts = np.arange(1000)[::-1].copy()             # token t has count 999 - t
    cl, ranks = frequency_buckets(counts, [16, 4, 1], 16, 6000)
    sizes = np.bincount(cl, minlength=3)
    assert sizes[1] == 4 * sizes[0] and sizes[2] == 1000 - 5 * sizes[0] and sizes[0] > 0
    assert (np.diff(cl) >= 0).all()                    # most frequent (lowest ids here) in the top bucket
    assert B.embedding_flash_bytes(sizes.tolist(), ranks, 1000, 16) <= 6000 < \
        B.embedding_flash_bytes([sizes[0] + 1, sizes[1] + 4, sizes[2] - 5], ranks, 1000, 16)
    bigger = np.bincount(frequency_buckets(counts, [16, 4, 1], 16, 10**6)[0], minlength=3)
    assert bigger[0] > sizes[0]


@pytest.mark.parametrize("kind", ["svd", "prune", "adaptive"])
def test_baselines_fit_with_the_claimed_structure(kind, student, tmp_path):
    out = tmp_path / kind
    assert main(["baseline", kind, "--student", str(student), "--out", str(out), "--budget", str(BASE_BUDGET),
                 "--limit", "32", "--batch-size", "16", "--finetune-epochs", "1", "--threads", "1"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    emb = McuBertForSequenceClassification.from_pretrained(out).get_input_embeddings()
    assert m["method"] == kind and [emb.sizes, emb.ranks] == [m["cluster_sizes"], m["cluster_ranks"]]
    assert B.embedding_flash_bytes(emb.sizes, emb.ranks, VOCAB, HIDDEN) == m["embedding_bytes"] <= BASE_BUDGET
    # the largest of its kind: one more rank / token / bucket step would not fit
    counts = distill_data(student, VOCAB, 64, 32).counts
    cl = emb.token_cluster.numpy()
    if kind == "svd":
        assert len(emb.ranks) == 1 and emb.ranks[0] >= 1
        assert B.embedding_flash_bytes([VOCAB], [emb.ranks[0] + 1], VOCAB, HIDDEN) > BASE_BUDGET
    elif kind == "prune":
        assert emb.ranks == [HIDDEN, 0]
        n = emb.sizes[0]
        assert set(np.nonzero(cl == 0)[0]) == set(np.argsort(-counts, kind="stable")[:n])
        assert n > HIDDEN and B.embedding_flash_bytes([n + 1, VOCAB - n - 1], [HIDDEN, 0], VOCAB, HIDDEN) > BASE_BUDGET
    else:
        assert emb.ranks == [16, 4, 1]                 # hidden, hidden/4, hidden/16; every token represented
        s = emb.sizes
        assert s[1] == 4 * s[0] and s[2] == VOCAB - 5 * s[0]
        assert B.embedding_flash_bytes([s[0] + 1, s[1] + 4, s[2] - 5], emb.ranks, VOCAB, HIDDEN) > BASE_BUDGET
        for c in range(len(emb.ranks) - 1):          # ranks decrease with frequency
            assert counts[cl == c].min() >= counts[cl == c + 1].max()
    assert main(["quantize", str(out), "--out", str(tmp_path / "b.mcubert"), "--samples", "4"]) == 0
    assert len(build_blob(modelfile.load(tmp_path / "b.mcubert"), 0)) == m["model_bytes"]


def test_dense_baseline_evaluates_only(student, tmp_path):
    assert main(["baseline", "dense", "--student", str(student), "--out", str(tmp_path / "d"),
                 "--budget", str(BUDGET), "--limit", "32"]) == 0
    m = json.loads((tmp_path / "d" / "metrics.json").read_text())
    assert m["cluster_ranks"] == [HIDDEN] and m["embedding_bytes"] > BUDGET
    assert m["model_bytes"] == B.model_flash_bytes(student)
    assert not (tmp_path / "d" / "model.safetensors").exists()


def test_search_and_baselines_use_the_students_data(tmp_path):
    from mcubert.training.search import RunConfig, run_data

    student = tmp_path / "student"
    student.mkdir()
    (student / "metrics.json").write_text('{"data": "bbc-news"}')
    assert run_data(RunConfig(student=str(student), out="x")) == "bbc-news"
    assert run_data(RunConfig(student=str(student), out="x", data="bbc-news")) == "bbc-news"
    with pytest.raises(ValueError, match="trained on bbc-news"):
        run_data(RunConfig(student=str(student), out="x", data="tweets"))
    (student / "metrics.json").write_text("{}")                # students from before datasets
    assert run_data(RunConfig(student=str(student), out="x")) == "rotten-tomatoes"


# ---------------------------------------------------------------- FWSVD


def test_fwsvd_table_is_svd_under_uniform_weights_and_favours_heavy_rows():
    from mcubert.training.baselines import fwsvd_table

    g = torch.Generator().manual_seed(0)
    e = torch.randn(200, 16, generator=g) @ torch.diag(torch.linspace(2, 0.1, 16))
    u, s, vt = torch.linalg.svd(e.double(), full_matrices=False)
    plain = (u[:, :4] * s[:4]) @ vt[:4]
    assert torch.allclose(fwsvd_table(e, np.ones(200), 4).double(), plain, atol=1e-5)
    heavy = np.zeros(200)
    heavy[:10] = 1.0                                 # the loss only ever touched rows 0..9
    fw = fwsvd_table(e, heavy, 4).double()
    err = lambda t: (t[:10] - e[:10].double()).norm()            # noqa: E731
    best = torch.linalg.svdvals(e[:10].double())[4:].norm()     # the optimum for those rows at rank 4
    assert err(fw) < best + 1e-3 < err(plain)
    assert torch.linalg.matrix_rank(fw, rtol=1e-4) == 4
    # an untouched row is its projection onto the kept directions, not blown up
    assert fw[50].norm() <= e[50].double().norm() + 1e-6


def test_fwsvd_baseline_uses_the_fisher_weighted_table(student, tmp_path):
    """With no fine-tuning, the saved embedding is exactly fwsvd_table(dense, fisher, rank); the
    Fisher is zero on tokens the sampled sentences never hold (and can underflow to zero on a
    few that saturated attention ignores in this tiny model)."""
    from mcubert.training.baselines import fisher_rows, fwsvd_table  # re-exported from search
    from mcubert.training.search import RunConfig

    out = tmp_path / "fw"
    assert main(["baseline", "fwsvd", "--student", str(student), "--out", str(out), "--budget", str(BASE_BUDGET),
                 "--limit", "32", "--batch-size", "16", "--finetune-epochs", "0", "--threads", "1"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    emb = McuBertForSequenceClassification.from_pretrained(out).get_input_embeddings()
    assert m["method"] == "fwsvd" and len(emb.ranks) == 1
    assert B.embedding_flash_bytes([VOCAB], [emb.ranks[0] + 1], VOCAB, HIDDEN) > BASE_BUDGET
    dense = McuBertForSequenceClassification.from_pretrained(student).get_input_embeddings().dense().detach()
    dd = distill_data(student, VOCAB, 64, 32)
    fisher = fisher_rows(RunConfig(student=str(student), out=str(out), limit=32, budget=BASE_BUDGET), dense, dd)
    seen = set(np.nonzero(dd.counts)[0])
    assert set(np.nonzero(fisher)[0]) <= seen                  # tokens never read: exactly zero
    assert len(np.nonzero(fisher)[0]) > len(seen) // 2
    want = fwsvd_table(dense, fisher, emb.ranks[0])
    assert torch.allclose(emb.dense().detach(), want, atol=1e-4)
    plain = fwsvd_table(dense, np.ones(VOCAB), emb.ranks[0])
    assert not torch.allclose(want, plain, atol=1e-3)


# ---------------------------------------------------------------- the sweep


def test_sweep_points_resume_and_report(student, tmp_path, capsys):
    """Every method at two budgets and two seeds on the small student: a budget where SVD
    cannot fit is a 'does not fit' point, every other point has int8 accuracy from the reference
    and the C runtime, the aggregate is the mean and spread of the points, and a second run
    (resume) trains nothing."""
    from mcubert.training import sweep

    out = tmp_path / "sw"
    tiny = 12000             # below rank 1 for one cluster of 30522 tokens: svd/fwsvd cannot fit
    args = ["sweep", "--student", str(student), "--out", str(out), "--budgets", f"{tiny},{BASE_BUDGET}",
            "--seeds", "0,1", "--limit", "32", "--stage-limit", "32", "--threads", "1",
            "--plot", str(tmp_path / "p.png")]
    assert main(args) == 0
    r = json.loads((out / "sweep.json").read_text())
    assert len(r["points"]) == 2 * 2 * 5
    by = {(p["method"], p["budget"], p["seed"]): p for p in r["points"]}
    assert not by[("svd", tiny, 0)]["fits"] and by[("svd", tiny, 0)]["reason"].startswith("budget ")
    for p in r["points"]:
        if p["fits"]:
            assert p["embedding_bytes"] <= p["budget"] and p["identical"] == p["n_test"] == 32
            assert p["int8_test_accuracy"] == p["int8_c_accuracy"]
    assert all(by[(m, BASE_BUDGET, s)]["fits"] for m in sweep.METHODS for s in (0, 1))
    agg = {(a["method"], a["budget"]): a for a in r["aggregate"]}
    a = agg[("adaptive", BASE_BUDGET)]
    xs = [by[("adaptive", BASE_BUDGET, s)]["int8_test_accuracy"] for s in (0, 1)]
    assert a["int8_test_accuracy"] == pytest.approx(np.mean(xs))
    assert a["int8_test_accuracy_std"] == pytest.approx(np.std(xs, ddof=1))
    assert agg[("svd", tiny)]["fits"] == 0
    assert (tmp_path / "p.png").stat().st_size > 1000 and (out / "pareto.png").is_file()
    md = (out / "sweep.md").read_text()
    assert "does not fit" in md and f"budget {BASE_BUDGET:,}:" in md
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("points/*/point.json")}
    capsys.readouterr()
    assert main(args) == 0                              # resumed: every point already there
    assert "point 1/" not in capsys.readouterr().out
    assert stamps == {p: p.stat().st_mtime_ns for p in out.glob("points/*/point.json")}
    # --report: the finished points of a partial run, without training anything
    one = out / "points" / f"prune-{BASE_BUDGET}-s1" / "point.json"
    one.rename(one.with_suffix(".bak"))
    assert main(args[:-2] + ["--report"]) == 0
    assert "point 1/" not in capsys.readouterr().out and not one.is_file()
    part = json.loads((out / "sweep.json").read_text())
    assert part["missing_points"] == 1 and len(part["points"]) == 2 * 2 * 5 - 1
    assert "(19 of 20 points finished)" in (out / "sweep.md").read_text()
    one.with_suffix(".bak").rename(one)
    assert main(["sweep", "--out", str(tmp_path / "none"), "--report"]) == 2
    assert "no sweep to report" in capsys.readouterr().err
    # another protocol in the same directory is refused
    assert main(args[:-2] + ["--finetune-epochs", "2"]) == 2
    assert "another finetune_epochs" in capsys.readouterr().err
    assert main(args[:-2] + ["--search-clusters", "auto"]) == 2
    assert "another search_clusters" in capsys.readouterr().err
    assert main(args[:-2] + ["--search-finetune-from", "student"]) == 2
    assert "another search_finetune_from" in capsys.readouterr().err
    # a sweep written before --search-clusters existed resumes as the default
    f = out / "sweep_config.json"
    f.write_text(json.dumps({k: v for k, v in json.loads(f.read_text()).items() if k != "search_clusters"}))
    assert main(args) == 0


@pytest.mark.parametrize("args,msg", [
    (["--methods", "search,lora"], "unknown method 'lora'"),
    (["--budgets", "100,x"], "not a comma list"),
    (["--seeds", "0,0"], "repeated entry in seeds"),
    (["--budgets", "0"], "budgets must be positive"),
])
def test_sweep_cli_errors(student, tmp_path, capsys, args, msg):
    assert main(["sweep", "--student", str(student), "--out", str(tmp_path / "x"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and msg in err and "Traceback" not in err


def test_stage2_keeps_every_cluster_at_its_floor(student, tmp_path):
    """A strong budget term and fast soft ranks push stage 2's ranks down; with a floor of 1
    no cluster ends below min(1, its stage-1 rank, its size)."""
    m = search(SearchConfig(student=str(student), out=str(tmp_path / "f"), budget=13000, stage1_epochs=1,
                            stage2_epochs=1, finetune_epochs=0, penalty=50.0, rank_lr=1.0, rank_floor=1, **FAST))
    s2 = m["stage2"]
    assert s2["floors"] and all(r >= f for r, f in zip(m["cluster_ranks"], s2["floors"]))
    assert all(f == min(1, n) or f == 0 for f, n in zip(s2["floors"], m["cluster_sizes"]))
    assert m["embedding_bytes"] <= 13000


def test_gated_rank_embedding_floor():
    """rho below a cluster's floor reads as the floor: its gates stay open, its hard rank is the floor."""
    from mcubert.training.search import GatedRankEmbedding

    cl = np.array([0] * 6 + [1] * 10)
    us = [torch.randn(6, 4), torch.randn(10, 6)]
    vs = [torch.randn(4, 8), torch.randn(6, 8)]
    emb = GatedRankEmbedding(cl, us, vs, [0.2, 5.0], 1.0, (0.1, 0.1), 10, floors=[2, 1])
    assert emb.hard_ranks() == [2, 5]
    assert (emb.gates(0)[:2] > 0.5).all() and (emb.gates(0)[2:] < 0.5).all()
    assert GatedRankEmbedding(cl, us, vs, [0.2, 5.0], 1.0, (0.1, 0.1), 10).hard_ranks() == [0, 5]


def test_straight_through_gates_ship_what_they_train():
    """relax "st": a cluster whose soft rank sits at a gate's midpoint (rho = 1/2, gate 1/2 in
    the soft relaxation) gets no direction in the forward pass, as its hard rank says, yet rho
    still gets a gradient; "soft" gives it half a direction for free."""
    from mcubert.training.search import GatedRankEmbedding

    torch.manual_seed(0)
    cl = np.array([0] * 6 + [1] * 10)
    us = [torch.randn(6, 4), torch.randn(10, 6)]
    vs = [torch.randn(4, 8), torch.randn(6, 8)]
    ids = torch.arange(16)
    for relax in ("st", "soft"):
        emb = GatedRankEmbedding(cl, us, vs, [0.5, 2.3], 1.0, (0.5, 0.5), 10, relax=relax)
        assert emb.hard_ranks() == [0, 2]
        out = emb(ids)
        rare = out[:6]
        if relax == "st":
            assert torch.equal(rare, torch.zeros_like(rare))
            want = (us[1][:, :2] @ vs[1][:2])
            assert torch.allclose(out[6:], want, atol=1e-5)
        else:
            assert rare.abs().sum() > 0
        out.pow(2).sum().backward()
        assert emb.rho.grad is not None and emb.rho.grad.abs().sum() > 0
        soft = emb.gates(0, soft_only=True)
        assert torch.allclose(soft[0], torch.tensor(0.5))


def test_straight_through_assignment_is_the_argmax_row():
    """relax "st" in stage 1: a token's row is its argmax cluster's (hard_table), while alpha gets
    the softmax's gradient; "soft" mixes the candidates."""
    from mcubert.training.search import SoftAssignEmbedding

    torch.manual_seed(1)
    dense = torch.randn(20, 8)
    alpha0 = torch.randn(20, 3)
    ids = torch.arange(20)
    for relax in ("st", "soft"):
        emb = SoftAssignEmbedding(dense, [0, 2, 8], alpha0, 1.0, (1.0, 1.0), 10, relax=relax)
        out = emb(ids)
        hard = emb.hard_table(emb.logits().argmax(1).numpy())
        assert torch.allclose(out, hard, atol=1e-5) == (relax == "st")
        out.pow(2).sum().backward()
        assert emb.alpha.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="relax"):
        SoftAssignEmbedding(dense, [0, 2, 8], alpha0, 1.0, (1.0, 1.0), 10, relax="gumbel")


def test_position_rank_is_trained_and_counted(student, tmp_path):
    """--position-rank: the baseline fine-tunes a rank-3 position table, the budget's rest of the
    model shrinks by exactly the saved bytes, and the int8 blob has the predicted size."""
    common = ["--student", str(student), "--budget", str(BASE_BUDGET), "--limit", "32", "--batch-size", "16",
              "--finetune-epochs", "1", "--threads", "1"]
    assert main(["baseline", "svd", "--out", str(tmp_path / "d"), *common]) == 0
    assert main(["baseline", "svd", "--out", str(tmp_path / "r"), *common, "--position-rank", "3"]) == 0
    dense = json.loads((tmp_path / "d" / "metrics.json").read_text())
    low = json.loads((tmp_path / "r" / "metrics.json").read_text())
    model = McuBertForSequenceClassification.from_pretrained(tmp_path / "r")
    assert model.config.position_rank == 3 and model.bert.embeddings.position_embeddings.A.shape == (64, 3)
    # 64 x 16 int8 and one (M, S) against 64 x 4 + 16 x 4 int8 and 16 (M, S) pairs, 16-aligned
    assert dense["rest_bytes"] - low["rest_bytes"] == dense["model_bytes"] - low["model_bytes"] == \
        (1024 + 16) - (320 + 128)
    assert main(["quantize", str(tmp_path / "r"), "--out", str(tmp_path / "r.mcubert"), "--samples", "4"]) == 0
    qm = modelfile.load(tmp_path / "r.mcubert")
    assert qm.pos_rank == 4 and len(build_blob(qm, 0)) == low["model_bytes"]


def test_trim_to_budget_with_the_position_table():
    """The position table is one more block: sigma^2 per (positions + hidden) byte against the
    clusters', its exact slot bytes in the budget, never under rank 1."""
    sizes, hidden, vocab, n_pos = [100, 900], 16, 1000, 64
    sv = [np.linspace(10, 1, 16), np.linspace(2, 0.1, 16)]
    cost = lambda rk, p: B.embedding_flash_bytes(sizes, rk, vocab, hidden) + \
        B.position_flash_bytes(hidden, n_pos, p + 1)                                       # noqa: E731
    joint = cost([16, 8], 5)          # start 5 position directions (400 B) over
    strong = trim_to_budget(sizes, [16, 8], sv, vocab, hidden, joint, positions=(np.full(10, 100.0), 10, n_pos))
    weak = trim_to_budget(sizes, [16, 8], sv, vocab, hidden, joint, positions=(np.full(10, 1e-3), 10, n_pos))
    assert strong == ([16, 7], 10)    # a strong table keeps its directions; a cluster direction goes
    assert weak == ([16, 8], 5)       # a weak one gives up its own
    for ranks, p in (strong, weak):
        assert cost(ranks, p) <= joint
    # the floor: 1, however weak, and the slack of a costly drop is filled again
    floor = trim_to_budget(sizes, [16, 8], sv, vocab, hidden, cost([16, 8], 1),
                           positions=(np.full(10, 1e-3), 10, n_pos))
    assert floor == ([16, 8], 1)
    assert trim_to_budget(sizes, [16, 8], sv, vocab, hidden, joint) == [16, 8]     # no positions: ranks only
    with pytest.raises(ValueError, match="and the position table"):
        trim_to_budget(sizes, [1, 1], sv, vocab, hidden, 100, positions=(np.ones(10), 5, n_pos))


def test_search_chooses_the_position_rank(student, tmp_path):
    """--position-rank search: stage 2 gates the position table's directions, the chosen rank is
    trained and stored, and word embedding + positions stay within the budget plus the dense
    table's bytes; the int8 blob has the predicted size."""
    from mcubert.int8.modelfile import load

    out = tmp_path / "s"
    assert main(["search", "--student", str(student), "--out", str(out), "--budget", str(BUDGET),
                 "--limit", "32", "--batch-size", "16", "--finetune-epochs", "1", "--threads", "1",
                 "--position-rank", "search"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    model = McuBertForSequenceClassification.from_pretrained(out)
    r = model.config.position_rank
    assert r == m["position_rank"] == m["stage2"]["position_rank"]
    assert 1 <= r <= B.max_position_rank(HIDDEN, 64) == 10
    assert model.bert.embeddings.position_embeddings.A.shape == (64, r)
    pos = B.position_flash_bytes(HIDDEN, 64, r + 1)
    assert m["embedding_bytes"] + pos <= BUDGET + B.position_flash_bytes(HIDDEN, 64)
    assert m["budget"] == BUDGET + B.position_flash_bytes(HIDDEN, 64) - pos
    assert "position table 64 x 16 gated" in (out / "search.log").read_text()
    assert main(["quantize", str(out), "--out", str(tmp_path / "s.mcubert"), "--samples", "4"]) == 0
    qm = load(tmp_path / "s.mcubert")
    assert qm.pos_rank == r + 1 and len(build_blob(qm, 0)) == m["model_bytes"] == B.model_flash_bytes(model)


def test_position_rank_search_is_for_the_search_only(student, tmp_path, capsys):
    assert main(["baseline", "svd", "--student", str(student), "--out", str(tmp_path / "b"),
                 "--position-rank", "search"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: --position-rank search: only the search")
    assert main(["search", "--student", str(student), "--out", str(tmp_path / "b"),
                 "--position-rank", "sideways"]) == 2
    assert "sideways" in capsys.readouterr().err
    with pytest.raises(ValueError, match="chooses the position rank itself"):
        search(SearchConfig(student=str(student), out=str(tmp_path / "c"), budget=BUDGET, position_rank=3,
                            search_positions=True, limit=8))


# ---------------------------------------------------------------- the number of clusters


def _weighted_error_direct(dense, w, of, ranks):
    """sum_t w_t |e_t - e'_t|^2 / sum_t w_t |e_t|^2, e' the per-cluster best rank-r table in the
    w-weighted norm, by numpy (independent of structure_error's torch path)."""
    e = np.sqrt(w)[:, None] * dense
    left = 0.0
    for c, r in enumerate(ranks):
        rows = e[of == c]
        u, s, vt = np.linalg.svd(rows, full_matrices=False)
        approx = (u[:, :r] * s[:r]) @ vt[:r]
        left += float(((rows - approx) ** 2).sum())
    return left / float((e ** 2).sum())


def test_structure_error_is_the_weighted_truncation_error_within_budget():
    from mcubert.training.search import frequency_plan, normalize, structure_error

    rng = np.random.default_rng(0)
    vocab, hidden = 3000, 16
    dense = rng.normal(size=(vocab, hidden))
    counts = (1000 / np.arange(1, vocab + 1)).astype(np.int64)
    w = counts + 0.5
    for k, budget in ((1, 20_000), (2, 20_000), (4, 40_000)):
        of, ranks = frequency_plan(counts, k, hidden, budget)
        of, _, _ = normalize(of, ranks, hidden)
        n = int(of.max()) + 1
        err, rk = structure_error(torch.as_tensor(dense), w, of, n, budget)
        assert B.embedding_flash_bytes(np.bincount(of, minlength=n).tolist(), rk, vocab, hidden) <= budget
        assert err == pytest.approx(_weighted_error_direct(dense, w, of, rk), rel=1e-9)
        # no single direction more fits: the budget is used
        assert all(B.embedding_flash_bytes(np.bincount(of, minlength=n).tolist(),
                                           rk[:c] + [rk[c] + 1] + rk[c + 1:], vocab, hidden) > budget
                   for c in range(n) if rk[c] < min(hidden, int((of == c).sum())))


def test_choose_clusters_pays_for_index_tables_only_when_it_buys_accuracy():
    """Every token equally used and the table nearly rank 1: at a budget of about rank 1 for all,
    one cluster (no index table) is best, where 4 clusters' index tables leave most tokens at
    rank 0. With 40 frequent full-rank rows carrying the weight and room for them, more
    clusters win."""
    from mcubert.training.search import choose_clusters

    rng = np.random.default_rng(1)
    vocab, hidden = 30522, 16
    flat = np.outer(rng.normal(size=vocab), rng.normal(size=hidden)) + 0.05 * rng.normal(size=(vocab, hidden))
    ones = np.ones(vocab, np.int64)
    k_small, rows = choose_clusters(torch.as_tensor(flat), ones, ones.astype(float), 34_000)
    assert k_small == 1, rows
    errs = {r["clusters"]: r["error"] for r in rows if r["fits"]}
    assert errs[1] < 0.05 < errs[4]
    heavy = rng.choice(vocab, 40, replace=False)
    peaked, counts = flat.copy(), ones.copy()
    counts[heavy] = 1000
    peaked[heavy] = 3 * rng.normal(size=(40, hidden))
    k_big, rows = choose_clusters(torch.as_tensor(peaked), counts, counts.astype(float), 60_000)
    assert k_big > 1, rows
    errs = {r["clusters"]: r["error"] for r in rows if r["fits"]}
    assert errs[k_big] == min(errs.values()) < errs[1]
    with pytest.raises(ValueError, match="budget 100 B"):
        choose_clusters(torch.as_tensor(flat), ones, ones.astype(float), 100)


def test_search_with_auto_clusters(student, tmp_path):
    """--clusters auto: the count and its scores are in metrics.json, stage 1 ran with that many
    candidates, and the config asked for is what resume compares."""
    out = tmp_path / "auto"
    assert main(["search", "--student", str(student), "--out", str(out), "--budget", str(BUDGET),
                 "--clusters", "auto", "--limit", "32", "--batch-size", "16", "--finetune-epochs", "1",
                 "--threads", "1"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    k = m["clusters_chosen"]
    assert k in (1, 2, 3, 4) and m["config"]["clusters"] == "auto"
    assert {r["clusters"] for r in m["cluster_choice"]} == {1, 2, 3, 4}
    fit = [r for r in m["cluster_choice"] if r["fits"]]
    assert min(fit, key=lambda r: (r["error"], r["clusters"]))["clusters"] == k
    s1 = torch.load(out / "stage1" / "result.pt", weights_only=False)
    assert len(s1["candidate_ranks"]) == k and len(m["cluster_ranks"]) <= k
    assert m["embedding_bytes"] <= BUDGET
    assert main(["search", "--student", str(student), "--out", str(out), "--budget", str(BUDGET),
                 "--clusters", "auto", "--ranks", "1,2", "--threads", "1"]) == 2


def test_sweep_made_before_the_relaxation_option_was_soft(tmp_path):
    """A sweep directory whose config predates `search_relax` holds soft-relaxation points: the
    default (st) refuses to add to it, `--search-relax soft` continues it."""
    from dataclasses import asdict

    from mcubert.training import sweep

    old = asdict(sweep.SweepConfig(out=str(tmp_path)))
    del old["search_relax"]
    (tmp_path / "sweep_config.json").write_text(json.dumps(old))
    with pytest.raises(ValueError, match="another search_relax"):
        sweep.run(sweep.SweepConfig(out=str(tmp_path), student=str(tmp_path / "none")))
    with pytest.raises(ValueError, match="no distill_set.npz"):    # past the check: it goes on to the student
        sweep.run(sweep.SweepConfig(out=str(tmp_path), student=str(tmp_path / "none"), search_relax="soft"))


# ---------------------------------------------------------------- dual ascent and the choice by dev


def test_budget_multiplier_grows_over_budget_and_shrinks_under():
    """lambda * relu(bytes - budget) / budget, the hard bytes in value and the soft gradient;
    lambda multiplied by exp(lr * excess) after each training step (never on an eval pass),
    never below its start."""
    from mcubert.training.search import BudgetMultiplier

    p = torch.tensor([[0.6, 0.4], [0.3, 0.7]], requires_grad=True)
    r = torch.tensor([0.0, 100.0])
    soft, hard = (p.sum(0) * r).sum(), r[p.argmax(1)].sum()          # 110 expected, 100 chosen
    mult = BudgetMultiplier(2.0, 0.5)
    v = mult.term(soft, hard, 50, "hard", training=True)
    assert v.item() == pytest.approx(2.0 * (100 - 50) / 50)          # the value before the step
    g = torch.autograd.grad(v, p, retain_graph=True)[0]
    assert torch.allclose(g, torch.autograd.grad(2.0 * soft / 50, p, retain_graph=True)[0])
    assert float(mult.value) == pytest.approx(2.0 * np.exp(0.5 * 1.0))
    for _ in range(3):
        mult.term(soft, hard, 50, "hard", training=True)
    grown = float(mult.value)
    assert grown == pytest.approx(2.0 * np.exp(4 * 0.5))
    mult.term(soft, hard, 50, "hard", training=False)
    assert float(mult.value) == grown
    # within budget: no push (value and gradient 0), and lambda shrinks, to its start at most
    v = mult.term(soft, hard, 200, "hard", training=True)
    assert v.item() == 0 and (torch.autograd.grad(v, p, retain_graph=True)[0] == 0).all()
    assert float(mult.value) == pytest.approx(grown * np.exp(0.5 * -0.5))
    for _ in range(20):
        mult.term(soft, hard, 200, "hard", training=True)
    assert float(mult.value) == 2.0
    # cost "soft" reads the expected bytes, for the value and for the step
    v = mult.term(soft, hard, 105, "soft", training=True)
    assert v.item() == pytest.approx(2.0 * 5 / 105)
    assert float(mult.value) == pytest.approx(2.0 * np.exp(0.5 * 5 / 105))
    for _ in range(200):
        mult.term(soft, hard, 1, "hard", training=True)
    assert float(mult.value) == BudgetMultiplier.CEILING
    again = BudgetMultiplier(1.0, 0.5)
    again.load_state_dict(mult.state_dict())
    assert float(again.value) == BudgetMultiplier.CEILING
    with pytest.raises(ValueError, match="dual_lr > 0"):
        BudgetMultiplier(1.0, 0.0)


def test_dual_search_records_the_multiplier_and_resumes_exactly(student, tmp_path):
    """--multiplier dual: stage 1 at a budget its start is far over grows lambda, each stage
    reports lambda and what its own choice cost, and a run interrupted mid-stage ends with the
    same weights (lambda is in the checkpoint)."""
    cfg = dict(student=str(student), budget=11_000, limit=32, batch_size=16, stage1_epochs=2,
               finetune_epochs=1, multiplier="dual", dual_lr=2.0, penalty=1e-3, alpha_lr=0.2, init="uniform")
    m = search(SearchConfig(out=str(tmp_path / "a"), **cfg))
    s1, s2 = m["stage1"], m["stage2"]
    assert s1["multiplier_end"] != 1e-3 and s2["multiplier_end"] > 0
    assert s1["chosen_bytes_end"] >= s1["bytes"] and m["embedding_bytes"] <= 11_000
    assert m["config"]["multiplier"] == "dual"
    part = tmp_path / "b"
    assert search(SearchConfig(out=str(part), **cfg), stop_after=("stage1", 1)) is None
    m2 = search(SearchConfig(out=str(part), resume=True, **cfg))
    assert m2["stage1"]["multiplier_end"] == s1["multiplier_end"]
    a, b = load_file(tmp_path / "a" / "model.safetensors"), load_file(part / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="multiplier must be"):
        search(SearchConfig(out=str(tmp_path / "c"), **{**cfg, "multiplier": "both"}))


def test_dual_multiplier_pushes_harder_than_the_fixed_one(student, tmp_path):
    """The same stage 1 with a tiny fixed penalty against dual ascent from that penalty: the
    fixed term leaves the stage's own choice far over budget; dual ascent grows lambda and
    ends with a cheaper choice."""
    cfg = dict(student=str(student), budget=11_000, limit=32, batch_size=16, stage1_epochs=3,
               finetune_epochs=1, penalty=1e-3, alpha_lr=0.2, init="uniform")
    fixed = search(SearchConfig(out=str(tmp_path / "f"), **cfg))["stage1"]
    dual = search(SearchConfig(out=str(tmp_path / "d"), multiplier="dual", dual_lr=5.0, **cfg))["stage1"]
    assert fixed["chosen_bytes_end"] > 11_000
    assert dual["multiplier_end"] > 1e-2
    assert dual["chosen_bytes_end"] < fixed["chosen_bytes_end"]


def test_candidate_ladders_add_the_rank_0_floor_only_when_the_floor_was_lowered():
    from mcubert.training.search import candidate_ladders

    assert candidate_ladders(4, 128, 30522, 10**7) == [[2, 8, 32, 128]]
    assert candidate_ladders(4, 128, 30522, 48_000) == [[1, 8, 32, 128], [0, 8, 32, 128]]
    assert candidate_ladders(1, 128, 30522, 48_000) == [[1]]


def test_choose_clusters_by_dev_tries_both_floors_and_takes_the_best():
    """With a dev scorer every ladder is scored with the plan stage 1 starts from (frequency
    buckets at the candidate ranks); the best score wins, whatever the Fisher error says."""
    from mcubert.training.search import choose_clusters, frequency_plan, normalize

    rng = np.random.default_rng(3)
    vocab, hidden, budget = 30522, 128, 48_000
    dense = torch.as_tensor(rng.normal(size=(vocab, hidden)))
    counts = np.zeros(vocab, np.int64)
    counts[:3000] = rng.integers(1, 500, 3000)
    seen = []

    def score(of, ranks):                   # prefers plans whose largest cluster is at rank 0
        seen.append((np.asarray(of).copy(), list(ranks)))
        sizes = np.bincount(of)
        return 0.9 if ranks[int(np.argmax(sizes))] == 0 else 0.5 + 0.01 * len(ranks)
    score.n = 10**6                         # no noise: only the 0.9 plans are level

    k, rows = choose_clusters(dense, counts, counts.astype(float), budget, dev_score=score)
    fit = [r for r in rows if r["fits"]]
    assert len(seen) == len(fit) and all("dev_accuracy" in r for r in fit)
    chosen = [r for r in rows if r.get("chosen")]
    assert len(chosen) == 1 and chosen[0]["candidates"][0] == 0 and chosen[0]["dev_accuracy"] == 0.9
    zero = [r for r in fit if r["candidates"][0] == 0]
    assert chosen[0] is min(zero, key=lambda r: (r["error"], r["clusters"]))
    # each score saw the frequency plan of its row
    for (of, rk), r in zip(seen, fit):
        want, ranks = frequency_plan(counts, r["clusters"], hidden, budget, r["candidates"])
        want, rk0, _ = normalize(want, ranks, hidden)
        assert np.array_equal(of, want) and rk == rk0
    # the Fisher choice is unchanged: one ladder per count, the smallest error
    k_f, rows_f = choose_clusters(dense, counts, counts.astype(float), budget)
    assert [r["clusters"] for r in rows_f] == [1, 2, 3, 4]
    assert min((r for r in rows_f if r["fits"]), key=lambda r: (r["error"], r["clusters"]))["chosen"]
    # dev differences within one standard error decide nothing: the smallest error among them wins
    by_error = sorted(fit, key=lambda r: (r["error"], r["clusters"]))
    worst = by_error[-1]

    def near(of, ranks):                    # the worst-error plan 0.01 ahead, 100 dev sentences
        key = (len(ranks), list(ranks))
        return 0.81 if key == (len(worst["ranks"]), list(normalize(*frequency_plan(
            counts, worst["clusters"], hidden, budget, worst["candidates"]), hidden)[1])) else 0.80
    near.n = 100
    _, rows_n = choose_clusters(dense, counts, counts.astype(float), budget, dev_score=near)
    chosen = next(r for r in rows_n if r.get("chosen"))
    assert chosen["dev_accuracy"] == 0.80 and chosen["candidates"] == by_error[0]["candidates"]
    near.n = 10**6                          # the same 0.01 with a large dev set is a real lead
    _, rows_n = choose_clusters(dense, counts, counts.astype(float), budget, dev_score=near)
    assert next(r for r in rows_n if r.get("chosen"))["dev_accuracy"] == 0.81


def test_search_with_dev_cluster_choice(student, tmp_path, capsys):
    """--clusters auto --cluster-choice dev: the chosen row's dev accuracy is the student's with
    that plan (recomputed here), it is the best of the rows, and stage 1 ran on its ladder."""
    from mcubert.training.search import plan_dev_scorer, frequency_plan, normalize

    out = tmp_path / "dev"
    args = ["search", "--student", str(student), "--out", str(out), "--budget", str(BUDGET), "--clusters", "auto",
            "--limit", "32", "--batch-size", "16", "--finetune-epochs", "1", "--threads", "1"]
    assert main(args + ["--cluster-choice", "dev"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    fit = [r for r in m["cluster_choice"] if r["fits"]]
    chosen = next(r for r in fit if r.get("chosen"))
    assert chosen["dev_accuracy"] == max(r["dev_accuracy"] for r in fit)
    s1 = torch.load(out / "stage1" / "result.pt", weights_only=False)
    assert s1["candidate_ranks"] == sorted(chosen["candidates"])
    model = McuBertForSequenceClassification.from_pretrained(str(student))
    dense = model.get_input_embeddings().dense().detach()
    dd = distill_data(student, VOCAB, 64, 32)
    of, ranks = frequency_plan(dd.counts, chosen["clusters"], HIDDEN, BUDGET, chosen["candidates"])
    of, rk, _ = normalize(of, ranks, HIDDEN)
    cfg = SearchConfig(student=str(student), out=str(out), budget=BUDGET, limit=32)
    assert plan_dev_scorer(cfg, dense)(of, rk) == pytest.approx(chosen["dev_accuracy"], abs=1e-6)
    capsys.readouterr()
    assert main(args[:-6] + ["--clusters", "4", "--cluster-choice", "dev"]) == 2
    assert "give it with --clusters auto" in capsys.readouterr().err
    assert main(args[:-6] + ["--multiplier", "dual", "--dual-lr", "0"]) == 2
    assert "--dual-lr: 0 must be at least" in capsys.readouterr().err


@pytest.mark.parametrize("key,value", [("search_multiplier", "dual"), ("search_cluster_choice", "dev")])
def test_sweep_refuses_to_mix_search_options(tmp_path, key, value):
    """A sweep directory's search points were all made one way: another multiplier or cluster
    choice needs another --out; a sweep recorded before the option continues under the default."""
    from dataclasses import asdict

    from mcubert.training import sweep

    old = asdict(sweep.SweepConfig(out=str(tmp_path)))
    del old[key]
    (tmp_path / "sweep_config.json").write_text(json.dumps(old))
    with pytest.raises(ValueError, match=f"another {key}"):
        sweep.run(sweep.SweepConfig(out=str(tmp_path), student=str(tmp_path / "none"), **{key: value}))
    with pytest.raises(ValueError, match="no distill_set.npz"):
        sweep.run(sweep.SweepConfig(out=str(tmp_path), student=str(tmp_path / "none")))
