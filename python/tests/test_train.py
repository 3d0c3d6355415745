# SPDX-License-Identifier: Apache-2.0
"""The fine-tuning loop on a slice of the real split: outputs, log, and a resume that gives
the same weights as an uninterrupted run."""
from __future__ import annotations

import json

import pytest
import torch

from mcubert.training.train import TrainConfig, train_teacher


@pytest.mark.slow
def test_teacher_smoke_and_exact_resume(tmp_path):
    kw = dict(batch_size=16, max_len=24, limit=32, lr=1e-4)
    full = train_teacher(TrainConfig(out=str(tmp_path / "full"), epochs=2, **kw))
    assert set(full) >= {"dev_accuracy", "test_accuracy"} and full["train_sentences"] == 32
    for f in ("config.json", "model.safetensors", "metrics.json", "train.log", "checkpoint.pt"):
        assert (tmp_path / "full" / f).is_file(), f
    assert json.loads((tmp_path / "full" / "metrics.json").read_text()) == full

    part = tmp_path / "part"
    train_teacher(TrainConfig(out=str(part), epochs=2, **kw), stop_after=1)     # "interrupted"
    train_teacher(TrainConfig(out=str(part), epochs=2, **kw), resume=True)
    log = (part / "train.log").read_text()
    assert "resumed from" in log and log.count("epoch 1:") == 1 and log.count("epoch 2:") == 1
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=False)["model"]
    b = torch.load(part / "checkpoint.pt", weights_only=False)["model"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_student_distils_and_quantizes(tmp_path):
    """A dense bert-tiny student from a (barely trained) teacher: PCA-initialised embeddings,
    the distillation loss, and a directory that `mcubert quantize` takes as it is."""
    import numpy as np

    from mcubert.int8 import modelfile
    from mcubert.cli import main
    from mcubert.training.train import DistillConfig, load_distill_set, new_student, new_teacher, train_student

    kw = dict(batch_size=16, max_len=24, limit=32)
    train_teacher(TrainConfig(out=str(tmp_path / "t"), epochs=1, lr=1e-4, **kw))
    m = train_student(TrainConfig(out=str(tmp_path / "s"), epochs=1, lr=5e-4, **kw), str(tmp_path / "t"),
                      DistillConfig("bert-tiny", temperature=2.0, alpha=0.5, unlabelled=16))
    assert m["train_sentences"] == 32 and m["unlabelled_sentences"] == 16 and 0.0 <= m["test_accuracy"] <= 1.0
    extra, logits = load_distill_set(tmp_path / "s")
    assert len(extra) == 16 and logits.shape == (48, 2)

    # the student's word table is the teacher's, centred and projected: inner products match
    # the teacher's up to the discarded components
    teacher = new_teacher()
    s = new_student(teacher, "bert-tiny")
    w = teacher.bert.embeddings.word_embeddings.weight.detach()
    wc = w - w.mean(0)
    d = s.get_input_embeddings().dense().detach()
    assert d.shape == (30522, 128)
    captured = (d.norm() ** 2 / wc.norm() ** 2).item()
    assert 0.5 < captured <= 1.0 + 1e-4
    top = torch.linalg.svdvals(wc)[:128]
    assert abs(d.norm().item() ** 2 - (top ** 2).sum().item()) / (top ** 2).sum().item() < 1e-3

    assert main(["quantize", str(tmp_path / "s"), "--out", str(tmp_path / "s.mcubert"), "--samples", "8"]) == 0
    qm = modelfile.load(tmp_path / "s.mcubert")
    assert qm.labels == ["negative", "positive"] and qm.vocab and len(qm.vocab) == 30522


def test_augment_variants():
    """Augmented variants are new, deterministic, well-formed [CLS] ... [SEP] sequences that
    use [MASK], embedding neighbours and n-grams of the source sentence's words."""
    from mcubert.data import corpus
    from mcubert.data.augment import AugmentConfig, augment, words
    from mcubert.training.train import encode, new_teacher
    from mcubert.text.vocab import bert_uncased_tokenizer

    tok = bert_uncased_tokenizer()
    vocab = [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
    ids, _ = encode(corpus.load()["train"], 64, 40)
    emb = new_teacher().bert.embeddings.word_embeddings.weight
    cfg = AugmentConfig(per_sentence=6, seed=3)
    a, b = augment(ids, vocab, emb, cfg), augment(ids, vocab, emb, cfg)
    assert a == b and len(a) > 3 * len(ids)
    assert len({tuple(s) for s in a}) == len(a) and not {tuple(s) for s in a} & {tuple(s) for s in ids}
    cls_id, sep_id, mask_id = (vocab.index(t) for t in ("[CLS]", "[SEP]", "[MASK]"))
    assert all(s[0] == cls_id and s[-1] == sep_id and len(s) <= 64 for s in a)
    assert sum(mask_id in s for s in a) > len(a) // 10
    src = {t for s in ids for t in s}
    new = {t for s in a for t in s} - src - {mask_id}
    assert new and all(vocab[t].isalpha() for t in new)          # swaps are whole-word neighbours
    short = [s for s in a if len(s) <= 4]                         # n-grams: 1-2 word fragments
    assert short
    cont = [v.startswith("##") for v in vocab]
    assert all(len(words(s, cont)) <= max(len(words(t, cont)) for t in ids) for s in a)


@pytest.mark.slow
def test_teacher_layers_and_context_init():
    """Student layer i imitates evenly spaced teacher layers ending at the last; the context
    initialisation keeps the input-embedding part as the basis that positions go through."""
    import numpy as np

    from mcubert.training.train import new_student, new_teacher, teacher_layers

    assert teacher_layers(2, 6) == [3, 6] and teacher_layers(4, 6) == [1, 3, 4, 6] and teacher_layers(6, 6)[-1] == 6
    teacher = new_teacher()
    V, H = teacher.config.vocab_size, teacher.config.hidden_size
    rng = np.random.default_rng(0)
    counts = np.zeros(V, np.int64)
    counts[:500] = 3                                       # only these tokens have a context vector
    ctx = rng.standard_normal((V, H)).astype(np.float32)
    a = new_student(teacher, "bert-tiny").get_input_embeddings().dense().detach()
    b = new_student(teacher, "bert-tiny", context=ctx, counts=counts).get_input_embeddings().dense().detach()
    assert a.shape == b.shape == (V, 128) and not torch.allclose(a, b)
    # unseen tokens' context part is zero, so their rows differ from seen ones' in kind: the
    # context must move seen rows more than unseen ones
    moved = (b.norm(dim=1) - a.norm(dim=1)).abs()
    assert moved[:500].mean() > moved[500:].mean()
    # a context that is a copy of the input embedding changes nothing but the scale
    w = teacher.bert.embeddings.word_embeddings.weight.detach().numpy()
    c = new_student(teacher, "bert-tiny", context=w, counts=np.ones(V)).get_input_embeddings().dense().detach()
    cos = torch.nn.functional.cosine_similarity(c.abs().sum(0), a.abs().sum(0), dim=0)
    assert cos > 0.99


@pytest.mark.slow
def test_student_hidden_distill_resume_is_exact(tmp_path, monkeypatch):
    """The hidden-state loss's projections and the cached teacher pass survive an interruption:
    a resumed run ends with the same weights as an uninterrupted one, without a second pass.
    One thread: with more, the gather's backward in the word embedding sums in varying order."""
    monkeypatch.setenv("MCUBERT_THREADS", "1")
    from mcubert.training.train import DistillConfig, HiddenDistill, teacher_pass, train_student

    kw = dict(batch_size=16, max_len=24, limit=32)
    train_teacher(TrainConfig(out=str(tmp_path / "t"), epochs=1, lr=1e-4, **kw))
    dc = DistillConfig("bert-tiny", unlabelled=8, hidden_weight=1.0)
    full = train_student(TrainConfig(out=str(tmp_path / "full"), epochs=2, lr=5e-4, **kw), str(tmp_path / "t"), dc)
    part = tmp_path / "part"
    train_student(TrainConfig(out=str(part), epochs=2, lr=5e-4, **kw), str(tmp_path / "t"), dc, stop_after=1)
    stamp = (part / "teacher_pass" / "pass.npz").stat().st_mtime_ns
    again = train_student(TrainConfig(out=str(part), epochs=2, lr=5e-4, **kw), str(tmp_path / "t"), dc, resume=True)
    assert (part / "teacher_pass" / "pass.npz").stat().st_mtime_ns == stamp       # not recomputed
    a = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=False)
    b = torch.load(part / "checkpoint.pt", weights_only=False)
    assert a["aux"] is not None and a["aux"].keys() == b["aux"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert all(torch.equal(a["aux"][k], b["aux"][k]) for k in a["aux"])
    assert again["test_accuracy"] == full["test_accuracy"] and full["distill"]["hidden_weight"] == 1.0
    # the default relation loss: the pass caches the teacher's layer 5 and its layer-6 projections
    assert full["distill"]["relation_weight"] == 1.0 and (part / "teacher_pass" / "hidden_5.npy").is_file()
    assert (part / "teacher_pass" / "relation.npz").is_file()
    # the projections are not part of the saved model
    from safetensors.torch import load_file

    assert not any("proj" in k for k in load_file(tmp_path / "full" / "model.safetensors"))

    # the teacher pass: hidden states of every token of every sequence, in sequence order
    from transformers import BertForSequenceClassification

    teacher = BertForSequenceClassification.from_pretrained(tmp_path / "t")
    ids = [[101, 2023, 102], [101, 2204, 3185, 2003, 102], [101, 102]]
    tp = teacher_pass(teacher, ids, [3, 6], bs=2)
    assert tp.offsets.tolist() == [0, 3, 8, 10] and tp.hidden[6].shape == (10, 384)
    one = teacher(input_ids=torch.tensor([ids[1]]), output_hidden_states=True)
    assert torch.allclose(torch.from_numpy(tp.hidden[3][3:8]).float(), one.hidden_states[3][0], atol=2e-2)
    assert np_close(tp.logits[1], one.logits[0].detach().numpy())
    assert tp.counts[101] == 3 and tp.counts[2204] == 1
    hd = HiddenDistill(128, tp, [3, 6], 1.0)
    s = torch.zeros(3, 5, 128)
    m = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    loss = hd((s, s, s), m, [0, 1, 2])
    assert loss.item() > 0 and loss.requires_grad


def np_close(a, b):
    import numpy as np

    return np.allclose(a, b, atol=1e-4)


@pytest.mark.slow
def test_select_best_restores_the_best_dev_epoch(tmp_path, monkeypatch):
    """select_best keeps the weights of the epoch with the best dev accuracy, the starting
    point (epoch 0) included; dev accuracies are scripted so the choice is known."""
    from mcubert.training import train
    from mcubert.training.train import fit, new_teacher

    scripted = iter([0.9, 0.5, 0.6, 0.9, 0.7])   # epoch 0, 1, 2, then the final dev and test
    real = train.accuracy
    monkeypatch.setattr(train, "accuracy", lambda m, ids, y: next(scripted) if len(y) else real(m, ids, y))
    torch.manual_seed(0)
    model = new_teacher()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    m = fit(model, TrainConfig(out=str(tmp_path / "f"), epochs=2, batch_size=16, max_len=24, limit=32, lr=1e-3),
            select_best=True)
    assert m["selected_epoch"] == 0 and m["dev_accuracy"] == 0.9
    assert all(torch.equal(v, start[k]) for k, v in model.state_dict().items())
    assert "selected epoch 0" in (tmp_path / "f" / "train.log").read_text()


def test_relation_loss_matches_the_teacher_and_ignores_padding():
    """The MiniLMv2-style relation loss: the teacher's Q/K/V rebuilt from its cached input to the
    last layer equal the layer's own; the loss is zero for a student that reproduces them (here:
    the teacher's own Q/K/V), positive otherwise, and padding changes nothing."""
    import numpy as np

    from mcubert.training.train import HiddenDistill, _log_relations, new_teacher, teacher_pass, teacher_relation

    teacher = new_teacher().eval()
    rel = teacher_relation(teacher, 1.0, 4)
    assert rel.layer == 5 and rel.w.shape == (3 * 384, 384) and rel.b.shape == (3 * 384,)
    ids = [[101, 2023, 2003, 2204, 102], [101, 2919, 102]]
    tp = teacher_pass(teacher, ids, [3, 5, 6], bs=2)
    sa = teacher.bert.encoder.layer[-1].attention.self
    got = []
    hooks = [mod.register_forward_hook(lambda _m, _i, out: got.append(out.detach())) for mod in (sa.query, sa.key, sa.value)]
    x = torch.tensor([[101, 2023, 2003, 2204, 102], [101, 2919, 102, 0, 0]])
    m = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    with torch.no_grad():
        teacher(input_ids=x, attention_mask=m)
    for h in hooks:
        h.remove()
    hd = HiddenDistill(384, tp, [3, 6], 0.0, relation=rel)
    mb = m.bool()
    rows = torch.arange(8)
    # fp16 cache: the rebuilt Q/K/V are close to the teacher's, and so the loss is ~0
    assert hd._relation_loss(mb, rows, got).item() < 1e-3
    noisy = [g + torch.randn_like(g) for g in got]
    assert hd._relation_loss(mb, rows, noisy).item() > 1e-2
    # the loss through forward(): weight times the relation part when the hidden weight is 0
    states = tuple(torch.zeros(2, 5, 384) for _ in range(3))
    assert torch.isclose(hd(states, m, [0, 1], noisy), hd._relation_loss(mb, rows, noisy))

    # padded keys get no probability and do not change the real rows
    a = torch.randn(1, 3, 16)
    pad = torch.cat([a, torch.randn(1, 2, 16)], 1)
    r1 = _log_relations(a, torch.ones(1, 3, dtype=torch.bool), 4).exp()
    r2 = _log_relations(pad, torch.tensor([[1, 1, 1, 0, 0]]).bool(), 4).exp()
    assert torch.allclose(r2[..., :3, :3], r1, atol=1e-6) and r2[..., 3:].max() < 1e-6
    assert np.allclose(r1.sum(-1).numpy(), 1.0)


@pytest.mark.slow
def test_teacher_from_a_local_checkpoint(tmp_path):
    """train teacher --init-from: any local BERT with the bert-base-uncased vocabulary starts the teacher."""
    from transformers import BertConfig, BertForSequenceClassification

    from mcubert.cli import main

    init = tmp_path / "my_bert"
    torch.manual_seed(0)
    BertForSequenceClassification(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1,
                                             num_attention_heads=2, intermediate_size=64,
                                             num_labels=5)).save_pretrained(init)
    out = tmp_path / "teacher"
    assert main(["train", "teacher", "--init-from", str(init), "--out", str(out), "--limit", "64", "--epochs", "1",
                 "--max-len", "32"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    cfg = json.loads((out / "config.json").read_text())
    assert m["init"] == str(init.resolve()) and m["labels"] == ["negative", "positive"]
    assert cfg["hidden_size"] == 32 and cfg["id2label"] == {"0": "negative", "1": "positive"}
    bad = tmp_path / "gpt"
    bad.mkdir()
    (bad / "config.json").write_text(json.dumps({"model_type": "gpt2", "vocab_size": 30522}))
    assert main(["train", "teacher", "--init-from", str(bad), "--out", str(tmp_path / "t2")]) == 2
    (bad / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 1000}))
    assert main(["train", "teacher", "--init-from", str(bad), "--out", str(tmp_path / "t2")]) == 2


@pytest.mark.slow
def test_two_thread_training_is_reproducible(tmp_path):
    """Two runs of fit() on two threads give the same weights, bit for bit (train.deterministic);
    without it the embedding gradient's accumulation order varies (checked when this was written:
    the hashes differed)."""
    import hashlib

    from mcubert.modeling.newmodel import new_model
    from mcubert.training.train import TrainConfig, fit

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        digests = []
        for k in range(2):
            torch.manual_seed(0)
            m = new_model("bert-tiny", 1, [128], 0, str(tmp_path / f"m{k}"), hidden_size=128,
                          num_attention_heads=2, intermediate_size=512, num_hidden_layers=2,
                          max_position_embeddings=64, num_labels=2)
            fit(m, TrainConfig(out=str(tmp_path / f"f{k}"), epochs=1, batch_size=32, limit=400, max_len=64))
            h = hashlib.sha256()
            for _, v in sorted(m.state_dict().items()):
                h.update(v.detach().numpy().tobytes())
            digests.append(h.hexdigest())
        assert digests[0] == digests[1]
    finally:
        torch.set_num_threads(threads)
