# SPDX-License-Identifier: Apache-2.0
"""`mcubert eval`: accuracy of a .mcubert model on the real split through the integer
reference and the host C runtime (bit-exact), and of a float checkpoint directory."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from mcubert.data import corpus
from mcubert.int8 import modelfile
from mcubert.int8 import reference
from mcubert.targets.host import REPO
from mcubert.cli import main
from mcubert.modeling.newmodel import new_model
from mcubert.quantization.quantize import CalibConfig, quantize_model, random_calibration_ids
from mcubert.text.vocab import encode, tokenizer_from_vocab

N = 40
SAMPLE = REPO / "samples" / "bert_classify" / "model" / "sentiment_micro.mcubert"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A random model over the full bert-base-uncased vocabulary (so the tokenizer saved
    beside it matches and `mcubert quantize` stores the vocabulary), but small elsewhere.
    The large initializer_range makes its predictions depend on the sentence (at 0.02 a random
    model answers one class everywhere, and accuracy checks would only count labels)."""
    t = tmp_path_factory.mktemp("eval")
    new_model("bert-tiny", 2, [16, 0], 3, str(t / "ckpt"), hidden_size=32, num_attention_heads=2,
              intermediate_size=64, num_hidden_layers=1, max_position_embeddings=48, initializer_range=1.0)
    assert main(["quantize", str(t / "ckpt"), "--out", str(t / "m.mcubert"), "--samples", "8",
                 "--max-len", "32", "--check", "2"]) == 0
    return t


def _value(out: str, key: str) -> str:
    m = re.search(rf"^{re.escape(key)}: (.*)$", out, re.M)
    assert m, f"no '{key}:' line in\n{out}"
    return m.group(1)


@pytest.mark.parametrize("which", ["random", "sample"])
def test_eval_quantized_matches_reference(which, small, capsys, tmp_path):
    """The small random model, and the Zephyr sample's bert-tiny-shaped model (L = 128)."""
    f = small / "m.mcubert" if which == "random" else SAMPLE
    if not f.is_file():
        pytest.skip(f"{f} not in this checkout")
    capsys.readouterr()
    rc = main(["eval", str(f), "--split", "test", "--limit", str(N), "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert rc == 0, out
    ref, c = float(_value(out, "accuracy (reference)")), float(_value(out, "accuracy (host C runtime)"))
    assert ref == c
    assert _value(out, "data") == f"rotten-tomatoes, split test ({N} sentences)"
    assert f"C runtime logits identical to the reference on {N}/{N} sentences" in out

    # independently: tokenize as `mcubert run` does, argmax of the integer reference vs the labels
    qm = modelfile.load(f)
    L = qm.max_positions
    tok = tokenizer_from_vocab(qm.vocab, L)
    xs = corpus.load(corpus.DataConfig())["test"][:N]
    preds = [int(np.argmax(reference.classify(qm, encode(tok, e.text, L)))) for e in xs]
    want = float(np.mean([p == e.label for p, e in zip(preds, xs)]))
    if which == "random":
        assert 0 < sum(preds) < N            # both classes predicted: the check has teeth
    assert ref == float(f"{want:.4f}")

    from mcubert.export.generate import generate_from
    blob = generate_from(qm, L)[1]
    assert _value(out, "model") == f"{f} ({len(blob)} bytes of weights and index tables)"
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["n"] == N and r["identical"] == N and r["blob_bytes"] == len(blob)
    assert r["accuracy_reference"] == r["accuracy_c"] == pytest.approx(want)
    assert [p["pred_reference"] for p in r["predictions"]] == preds
    assert [p["label"] for p in r["predictions"]] == [e.label for e in xs]
    assert 0 < r["params"] < qm.weight_bytes()


def test_eval_mismatch_exits_1(small, capsys, monkeypatch):
    import mcubert.training.evaluate as ev

    real = ev.host.run_runner

    def off_by_one(*args, **kw):
        statuses, logits = real(*args, **kw)
        logits = logits.copy()
        logits[2, 0] += 1
        statuses[3] = -11
        return statuses, logits

    monkeypatch.setattr(ev.host, "run_runner", off_by_one)
    capsys.readouterr()
    assert main(["eval", str(small / "m.mcubert"), "--limit", "6"]) == 1
    out = capsys.readouterr().out
    assert "identical to the reference on 4/6 sentences" in out
    assert "mismatch: sentence 2" in out and "mismatch: sentence 3" in out and "MCUBERT_ERR_N_TOKENS" in out

    def broken(*args, **kw):
        raise ev.host.RuntimeError_("runner exited -11: crashed")

    monkeypatch.setattr(ev.host, "run_runner", broken)
    assert main(["eval", str(small / "m.mcubert"), "--limit", "6"]) == 1
    assert "runner exited -11" in capsys.readouterr().err


def test_eval_layerwise_short(small, capsys):
    from mcubert.training.evaluate import evaluate_quantized

    r = evaluate_quantized(small / "m.mcubert", split="dev", limit=8, max_seq_len=12, schedule="layerwise")
    assert r["n"] == 8 and r["identical"] == 8 and r["max_seq_len"] == 12
    assert max(p["n_tokens"] for p in r["predictions"]) <= 12


def test_eval_bad_models(small, tmp_path, capsys):
    # no vocabulary in the file: a clean error, not a traceback
    ckpt = small / "ckpt"
    from mcubert.modeling.model import McuBertForSequenceClassification

    model = McuBertForSequenceClassification.from_pretrained(str(ckpt)).eval()
    samples = random_calibration_ids(model.config.vocab_size, CalibConfig(samples=2, max_len=8), 48)
    nov = tmp_path / "novocab.mcubert"
    modelfile.save(quantize_model(model, samples), nov)
    capsys.readouterr()
    assert main(["eval", str(nov), "--limit", "4"]) == 2
    assert "no vocabulary" in capsys.readouterr().err

    raw = (small / "m.mcubert").read_bytes()
    bad = tmp_path / "bad.mcubert"
    bad.write_bytes(raw[:-100] + bytes(100))
    assert main(["eval", str(bad), "--limit", "4"]) == 2
    assert "CRC mismatch" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.mcubert")]) == 2
    assert "error:" in capsys.readouterr().err


def test_eval_float_checkpoint(small, capsys, tmp_path):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from mcubert.training.train import encode as train_encode

    capsys.readouterr()
    assert main(["eval", str(small / "ckpt"), "--split", "dev", "--limit", "20"]) == 0
    out = capsys.readouterr().out
    acc = float(_value(out, "accuracy (float)"))
    assert _value(out, "data") == "rotten-tomatoes, split dev (20 sentences)"
    assert "McuBertForSequenceClassification" in _value(out, "model")

    # independently: one sentence at a time, no padding
    from mcubert.modeling.model import McuBertForSequenceClassification

    model = McuBertForSequenceClassification.from_pretrained(str(small / "ckpt")).eval()
    ids, y = train_encode(corpus.load(corpus.DataConfig())["dev"][:20], 48)
    with torch.no_grad():
        preds = [int(model(input_ids=torch.tensor([s])).logits[0].argmax()) for s in ids]
    assert 0 < sum(preds) < len(preds)
    assert acc == float(f"{np.mean(np.array(preds) == y):.4f}")
    n_params = sum(p.numel() for p in model.parameters())
    assert f"{n_params} parameters" in out

    # a plain BERT classifier directory takes the same path
    torch.manual_seed(0)
    bert = BertForSequenceClassification(BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                                    intermediate_size=32, max_position_embeddings=64))
    bert.save_pretrained(tmp_path / "bert")
    assert main(["eval", str(tmp_path / "bert"), "--limit", "10", "--json", str(tmp_path / "f.json")]) == 0
    r = json.loads((tmp_path / "f.json").read_text())
    assert r["architecture"] == "BertForSequenceClassification" and r["n"] == 10
    assert r["params"] == sum(p.numel() for p in bert.parameters())
    assert f"accuracy (float): {r['accuracy_float']:.4f}" in capsys.readouterr().out


def test_eval_longest_fraction(small, capsys, tmp_path):
    """--longest 0.1: the tenth of the split with the most tokens (counted untruncated with the
    model's vocabulary), the same sentences at any --max-seq-len, each read to that length."""
    m = small / "m.mcubert"
    qm = modelfile.load(m)
    tok = tokenizer_from_vocab(qm.vocab, 1 << 30)
    texts = [e.text for e in corpus.load()["test"][:200]]
    counts = [len(encode(tok, t, 1 << 30)) for t in texts]
    want = sorted(sorted(range(200), key=lambda i: (-counts[i], i))[:20])
    runs = {}
    for L in (16, 48):
        assert main(["eval", str(m), "--limit", "200", "--longest", "0.1", "--max-seq-len", str(L),
                     "--json", str(tmp_path / f"{L}.json")]) == 0
        out = capsys.readouterr().out
        assert f"(20 sentences), the longest 0.1 of it: {min(counts[i] for i in want)} tokens or more" in out
        r = json.loads((tmp_path / f"{L}.json").read_text())
        assert [p["index"] for p in r["predictions"]] == want
        assert all(p["n_tokens"] == min(L, counts[i]) for p, i in zip(r["predictions"], want))
        runs[L] = r
    assert runs[16]["identical"] == runs[48]["identical"] == 20
    assert [p["reference"] for p in runs[16]["predictions"]] != [p["reference"] for p in runs[48]["predictions"]]
    for bad in ("0", "1.5", "x"):
        assert main(["eval", str(m), "--longest", bad]) == 2
        assert capsys.readouterr().err.startswith("error: ")
    assert main(["eval", str(small / "ckpt"), "--longest", "0.1"]) == 2
    assert "--longest needs a .mcubert model" in capsys.readouterr().err
