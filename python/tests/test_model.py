# SPDX-License-Identifier: Apache-2.0
import logging

import pytest
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from mcubert.modeling.config import McuBertConfig, make_config
from mcubert.modeling.embedding import ClusteredLowRankEmbedding, contiguous_clusters
from mcubert.modeling.model import McuBertForSequenceClassification, compress_embedding
from mcubert.modeling.newmodel import new_model

# Small shapes keep the suite fast; bert-tiny at full vocab only in the new_model test.
SMALL = dict(vocab_size=1000, hidden_size=32, num_attention_heads=2, intermediate_size=64, num_hidden_layers=2)


def small_config(**kw) -> McuBertConfig:
    return make_config("bert-tiny", **{**SMALL, **kw})


def batch(vocab_size=1000, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, vocab_size, (3, 11), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0  # padding exercises the attention mask
    types = torch.zeros_like(ids)
    types[:, 5:] = 1
    return dict(input_ids=ids, attention_mask=mask, token_type_ids=types)


def test_contiguous_clusters():
    c = contiguous_clusters(10, 3)
    assert c.tolist() == sorted(c.tolist()) and c[0] == 0
    assert sorted(torch.bincount(c).tolist()) == [3, 3, 4]
    with pytest.raises(ValueError):
        contiguous_clusters(10, 11)


def test_full_rank_reproduces_dense():
    torch.manual_seed(0)
    w = torch.randn(1000, 32) * 0.02
    one = ClusteredLowRankEmbedding.from_dense(w, torch.zeros(1000, dtype=torch.long), [32])
    assert torch.allclose(one.dense(), w, atol=1e-5)
    # also with several full-rank, non-contiguous clusters
    cl = contiguous_clusters(1000, 4)[torch.randperm(1000)]
    many = ClusteredLowRankEmbedding.from_dense(w, cl, [32] * 4)
    assert torch.allclose(many.dense(), w, atol=1e-5)
    ids = torch.randint(0, 1000, (4, 9))
    assert torch.allclose(many(ids), w[ids], atol=1e-5)


def test_rank0_zero_and_error_decreases():
    torch.manual_seed(1)
    w = torch.randn(1000, 32)
    cl = contiguous_clusters(1000, 2)
    emb = ClusteredLowRankEmbedding.from_dense(w, cl, [8, 0])
    d = emb.dense()
    assert torch.equal(d[cl == 1], torch.zeros(500, 32))
    assert d[cl == 0].abs().sum() > 0
    assert emb.num_parameters() == 500 * 8 + 8 * 32

    errs = []
    for r in [0, 1, 4, 8, 16, 31, 32]:
        e = ClusteredLowRankEmbedding.from_dense(w, torch.zeros(1000, dtype=torch.long), [r])
        errs.append((e.dense() - w).norm().item())
    assert all(a > b for a, b in zip(errs, errs[1:])), errs
    assert errs[-1] < 1e-4


def test_matches_transformers_bert():
    """With one full-rank cluster, McuBert is exactly BertForSequenceClassification with the same weights."""
    torch.manual_seed(2)
    ref = BertForSequenceClassification(BertConfig(**SMALL, num_labels=2, attn_implementation="eager")).eval()
    with torch.no_grad():  # move every weight off its trivial init so the comparison means something
        for p in ref.parameters():
            p.add_(0.05 * torch.randn_like(p))
    sd = ref.state_dict()
    table = sd.pop("bert.embeddings.word_embeddings.weight")

    model = McuBertForSequenceClassification(small_config()).eval()
    compress_embedding(model, torch.zeros(1000, dtype=torch.long), [32], dense=table)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert unexpected == []
    assert all(k.startswith("bert.embeddings.word_embeddings.") for k in missing)
    assert torch.allclose(model.get_input_embeddings().dense(), table, atol=1e-5)

    b = batch()
    with torch.no_grad():
        want = ref(**b).logits
        got = model(**b).logits
        sdpa = BertForSequenceClassification(BertConfig(**SMALL, num_labels=2)).eval()
        sdpa.load_state_dict(ref.state_dict())
        also = sdpa(**b).logits
    assert want.abs().max() > 1e-3
    assert torch.allclose(got, want, atol=1e-5)
    assert torch.allclose(got, also, atol=1e-5)

    out = model(**b, labels=torch.tensor([0, 1, 1]))
    assert torch.allclose(out.loss, torch.nn.functional.cross_entropy(out.logits, torch.tensor([0, 1, 1])))


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_save_load_roundtrip(tmp_path):
    torch.manual_seed(3)
    model = McuBertForSequenceClassification(small_config(num_labels=3)).eval()
    cl = contiguous_clusters(1000, 3)[torch.randperm(1000)]  # non-contiguous assignment
    compress_embedding(model, cl, [16, 4, 0])
    assert model.config.cluster_ranks == [16, 4, 0] and sum(model.config.cluster_sizes) == 1000
    model.save_pretrained(tmp_path)

    tf_logger = logging.getLogger("transformers")  # propagate=False, so pytest's caplog misses it
    handler = _Records()
    tf_logger.addHandler(handler)
    try:
        loaded, info = McuBertForSequenceClassification.from_pretrained(tmp_path, output_loading_info=True)
    finally:
        tf_logger.removeHandler(handler)
    assert not handler.records, [r.getMessage() for r in handler.records]
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert loaded.config._attn_implementation == "eager"
    assert loaded.config.cluster_sizes == model.config.cluster_sizes

    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    emb = loaded.get_input_embeddings()
    assert torch.equal(emb.token_cluster, cl) and emb.token_cluster.dtype == torch.int64
    bt = batch()
    with torch.no_grad():
        assert torch.equal(model(**bt).logits, loaded(**bt).logits)


def test_new_model(tmp_path):
    out = tmp_path / "tiny"
    model = new_model("bert-tiny", 4, [64, 32, 16, 0], seed=0, out=str(out))
    loaded = McuBertForSequenceClassification.from_pretrained(out)
    cfg = loaded.config
    assert sum(cfg.cluster_sizes) == 30522 and cfg.cluster_ranks == [64, 32, 16, 0]
    assert cfg.num_clusters == 4 and cfg.hidden_size == 128 and cfg.num_hidden_layers == 2
    ln = loaded.bert.embeddings.LayerNorm
    assert not torch.equal(ln.weight, torch.ones_like(ln.weight))

    tok = AutoTokenizer.from_pretrained(out)
    assert len(tok) == 30522
    enc = tok(["a tiny test", "hello world"], padding=True, return_tensors="pt")
    assert enc["input_ids"][0, 0].item() == 101  # [CLS]
    with torch.no_grad():
        assert torch.equal(model(**enc).logits, loaded(**enc).logits)

    # same seed, same model
    again = new_model("bert-tiny", 4, [64, 32, 16, 0], seed=0, out=str(tmp_path / "again"))
    assert all(torch.equal(p, q) for p, q in zip(model.state_dict().values(), again.state_dict().values()))


def test_value_errors(tmp_path):
    with pytest.raises(ValueError, match="3 ranks for 2 clusters"):
        new_model("bert-tiny", 2, [8, 8, 8], seed=0, out=str(tmp_path / "x"), **SMALL)
    w = torch.randn(1000, 32)
    with pytest.raises(ValueError, match="rank 33"):  # rank above hidden
        ClusteredLowRankEmbedding.from_dense(w, torch.zeros(1000, dtype=torch.long), [33])
    small = torch.zeros(1000, dtype=torch.long)
    small[:10] = 1  # a 10-token cluster cannot hold rank 16
    with pytest.raises(ValueError, match="cluster size 10"):
        ClusteredLowRankEmbedding.from_dense(w, small, [16, 16])
    with pytest.raises(ValueError):
        small_config(cluster_sizes=[500, 400], cluster_ranks=[8, 8])
    with pytest.raises(ValueError):
        make_config("bert-huge")
    assert not (tmp_path / "x").exists()


def test_presets_and_the_cli_choices():
    """The CLI lists the presets without importing transformers; the lists must agree."""
    from mcubert.cli import PRESET_NAMES
    from mcubert.modeling.config import PRESETS

    assert PRESET_NAMES == list(PRESETS)
    c = make_config("bert-micro")
    assert (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.intermediate_size) == (1, 64, 2, 128)
    assert c.hidden_size % c.num_attention_heads == 0


# ---------------------------------------------------------------- low-rank position table

def test_compress_positions_is_a_truncated_svd():
    from mcubert.modeling.embedding import LowRankPositions
    from mcubert.modeling.model import compress_positions

    torch.manual_seed(3)
    model = McuBertForSequenceClassification(small_config(max_position_embeddings=40)).eval()
    dense = model.bert.embeddings.position_embeddings.weight.detach().clone()
    s = torch.linalg.svdvals(dense.double())
    errs = []
    for r in (1, 4, 16, 31):
        m = McuBertForSequenceClassification(small_config(max_position_embeddings=40)).eval()
        m.load_state_dict(model.state_dict())
        compress_positions(m, r)
        pe = m.bert.embeddings.position_embeddings
        assert isinstance(pe, LowRankPositions) and m.config.position_rank == r
        assert pe.A.shape == (40, r) and pe.B.shape == (r, 32)
        with torch.no_grad():
            # Eckart-Young: the error is the norm of the discarded singular values
            err = float((pe.weight - dense).norm())
            assert abs(err - float(s[r:].norm())) < 1e-4, r
            # the forward reads A[ids] @ B, the rows .weight gives
            assert torch.allclose(pe(torch.tensor([[0, 5, 39]]))[0], pe.weight[[0, 5, 39]], atol=1e-6)
        errs.append(err)
    assert errs == sorted(errs, reverse=True)
    with pytest.raises(ValueError, match="position rank"):
        compress_positions(m, 32)                           # rank + 1 columns must fit hidden
    with pytest.raises(ValueError, match="position rank"):
        compress_positions(m, 0)


def test_position_rank_config_and_init():
    with pytest.raises(ValueError, match="position_rank"):
        small_config(position_rank=32)
    with pytest.raises(ValueError, match="position_rank"):
        small_config(position_rank=-1)
    assert small_config().position_rank == 0
    torch.manual_seed(0)
    m = McuBertForSequenceClassification(small_config(position_rank=5))
    pe = m.bert.embeddings.position_embeddings
    # LowRankPositions' own init (A ~ N(0, 1)), not the generic BERT init, which would make A ~ N(0, 0.02)
    assert 0.8 < float(pe.A.detach().std()) < 1.2
    assert 0.01 < float(pe.weight.detach().std()) < 0.03


def test_low_rank_positions_save_load_roundtrip(tmp_path):
    from mcubert.modeling.model import compress_positions

    torch.manual_seed(4)
    m = McuBertForSequenceClassification(small_config(max_position_embeddings=24)).eval()
    compress_positions(m, 6)
    m.save_pretrained(tmp_path)
    back = McuBertForSequenceClassification.from_pretrained(tmp_path).eval()
    assert back.config.position_rank == 6
    a, b = m.bert.embeddings.position_embeddings, back.bert.embeddings.position_embeddings
    assert torch.equal(a.A, b.A) and torch.equal(a.B, b.B)
    x = batch()
    x["input_ids"] = x["input_ids"][:, :11]
    assert torch.equal(m(**x).logits, back(**x).logits)
