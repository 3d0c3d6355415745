# SPDX-License-Identifier: Apache-2.0
"""`mcubert import`: a user's BertForSequenceClassification becomes an mcubert checkpoint whose
float logits equal the original's, that quantizes and runs bit-exactly; what the runtime cannot
honour is refused by name."""
from __future__ import annotations

import json

import pytest
import torch

from mcubert.cli import main
from mcubert.modeling.importer import check_config, import_checkpoint
from mcubert.text.vocab import bert_uncased_tokenizer
from mcubert.training import budget as B


def _hf(tmp_path, name="hf", **kw):
    from transformers import BertConfig, BertForSequenceClassification

    cfg = dict(vocab_size=30522, hidden_size=64, num_hidden_layers=2, num_attention_heads=2, intermediate_size=128,
               max_position_embeddings=64, num_labels=3, id2label={0: "billing", 1: "outage", 2: "other"},
               label2id={"billing": 0, "outage": 1, "other": 2})
    cfg.update(kw)
    torch.manual_seed(0)
    m = BertForSequenceClassification(BertConfig(**cfg)).eval()
    d = tmp_path / name
    m.save_pretrained(d)
    bert_uncased_tokenizer().save_pretrained(d)
    return m, d


@torch.no_grad()
def test_import_keeps_the_logits(tmp_path):
    hf, d = _hf(tmp_path)
    mine = import_checkpoint(d)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 30522, (4, 40), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 20:] = 0
    types = torch.zeros_like(ids)
    want = hf(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
    got = mine(input_ids=ids, attention_mask=mask, token_type_ids=types).logits
    assert (want - got).abs().max().item() <= 1e-5
    assert mine.config.cluster_sizes == [30522] and mine.config.cluster_ranks == [64]
    assert [mine.config.id2label[i] for i in range(3)] == ["billing", "outage", "other"]


@pytest.mark.slow
@pytest.mark.parametrize("act", ["gelu", "gelu_new", "relu"])
def test_import_quantize_verify(tmp_path, capsys, act):
    """The issue's chain: import -> quantize -> verify, for each activation's lookup table."""
    _, d = _hf(tmp_path, hidden_act=act)
    out, model = tmp_path / "imp", tmp_path / "imp.mcubert"
    assert main(["import", str(d), "--out", str(out)]) == 0
    assert main(["quantize", str(out), "--out", str(model), "--samples", "8", "--check", "8"]) == 0
    text = capsys.readouterr().out
    agreement = float(text.split("label agreement ")[1].split(",")[0])
    assert agreement >= 0.75, text
    assert main(["verify", str(model), "--max-seq-len", "64", "--n", "5"]) == 0
    assert capsys.readouterr().out.strip().endswith("bit-exact: 5/5")
    assert main(["info", str(model)]) == 0
    info = capsys.readouterr().out
    assert "labels (3): billing, outage, other" in info and "cluster 0: 30,522 tokens, rank 64" in info
    # the label names reach the firmware's sources
    assert main(["generate", str(model), "--max-seq-len", "32", "--out-dir", str(tmp_path / "gen"), "--name", "intent",
                 "--c-source"]) == 0
    c = (tmp_path / "gen" / "intent_model.c").read_text()
    assert '"billing",' in c and '"outage",' in c and '"other",' in c
    assert "#define INTENT_NUM_LABELS 3u" in (tmp_path / "gen" / "intent_model.h").read_text()


def test_import_under_a_budget(tmp_path, capsys):
    _, d = _hf(tmp_path)
    out = tmp_path / "small"
    budget = 400_000
    assert main(["import", str(d), "--out", str(out), "--budget", str(budget)]) == 0
    text = capsys.readouterr().out
    cfg = json.loads((out / "config.json").read_text())
    r = cfg["cluster_ranks"][0]
    assert f"truncated SVD, rank {r}, within {budget} B" in text
    assert B.embedding_flash_bytes([30522], [r], 30522, 64) <= budget < B.embedding_flash_bytes([30522], [r + 1],
                                                                                                  30522, 64)
    assert main(["import", str(d), "--out", str(out), "--budget", "100", "--method", "search"]) == 2
    assert "mcubert pipeline" in capsys.readouterr().err
    assert main(["import", str(d), "--out", str(out), "--budget", str(budget), "--method", "adaptive"]) == 2
    assert "--method adaptive needs --data" in capsys.readouterr().err


@pytest.mark.slow
def test_import_adaptive_from_a_datasets_frequencies(tmp_path, capsys, monkeypatch):
    """Frequent tokens of the data's train split get the highest rank; the result fits and runs."""
    monkeypatch.setenv("MCUBERT_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "intents.csv"
    data.write_text("text,label\n" + "".join(f"my bill is wrong again {i},billing\nthe network is down {i},outage\n"
                                             f"hello there {i},other\n" for i in range(20)))
    _, d = _hf(tmp_path)
    out, budget = tmp_path / "ad", 300_000
    assert main(["import", str(d), "--out", str(out), "--budget", str(budget), "--method", "adaptive",
                 "--data", str(data)]) == 0
    text = capsys.readouterr().out
    cfg = json.loads((out / "config.json").read_text())
    assert "adaptive:" in text and cfg["cluster_ranks"][0] == 64 and len(cfg["cluster_ranks"]) >= 2
    assert B.embedding_flash_bytes(cfg["cluster_sizes"], cfg["cluster_ranks"], 30522, 64) <= budget
    from mcubert.modeling.model import McuBertForSequenceClassification

    emb = McuBertForSequenceClassification.from_pretrained(out).get_input_embeddings()
    tok = bert_uncased_tokenizer()
    for word in ("bill", "network", "hello"):                 # frequent in the data: the full-rank cluster
        assert int(emb.token_cluster[tok.convert_tokens_to_ids(word)]) == 0
    assert main(["quantize", str(out), "--out", str(tmp_path / "ad.mcubert"), "--data", str(data)]) == 0
    assert main(["verify", str(tmp_path / "ad.mcubert"), "--max-seq-len", "32", "--n", "3"]) == 0


@pytest.mark.parametrize("change,match", [
    ({"model_type": "roberta"}, "model_type 'roberta'"),
    ({"model_type": "mcubert"}, "already an mcubert checkpoint"),
    ({"architectures": ["BertForMaskedLM"]}, "architectures \\['BertForMaskedLM'\\]"),
    ({"position_embedding_type": "relative_key"}, "position_embedding_type 'relative_key'"),
    ({"hidden_act": "silu"}, "hidden_act 'silu' has no lookup table; supported: gelu"),
    ({"vocab_size": 70000}, "MCUBERT_MAX_VOCAB"),
    ({"num_hidden_layers": 49}, "MCUBERT_MAX_LAYERS"),
    ({"hidden_size": 2048}, "MCUBERT_MAX_HIDDEN"),
    ({"num_labels": 1, "id2label": {"0": "score"}}, "single-label classification"),
    ({"problem_type": "multi_label_classification"}, "single-label classification"),
    ({"is_decoder": True}, "decoder"),
])
def test_refusals_name_the_field(change, match):
    cfg = {"model_type": "bert", "architectures": ["BertForSequenceClassification"], "vocab_size": 30522,
           "hidden_size": 128, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 512,
           "max_position_embeddings": 512, "num_labels": 2, "hidden_act": "gelu"}
    cfg.update(change)
    with pytest.raises(ValueError, match=match):      # ImportError_, or BoundsError for the runtime's bounds
        check_config(cfg)


def test_cli_refusals(tmp_path, capsys):
    assert main(["import", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "no such directory" in capsys.readouterr().err
    _, d = _hf(tmp_path, hidden_act="silu")
    assert main(["import", str(d), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "hidden_act 'silu'" in err and err.count("\n") == 1
