# SPDX-License-Identifier: Apache-2.0
"""Fine-tuning on the Rotten Tomatoes split: the teacher (all-MiniLM-L6-v2 with a
classification head), with tqdm progress, a log, a checkpoint per epoch and --resume.
The students (distillation) build on the same loop."""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from . import data
from .vocab import bert_uncased_tokenizer, vocab_dir


@dataclass
class TrainConfig:
    out: str
    epochs: int = 3
    batch_size: int = 32
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_frac: float = 0.1
    max_len: int = 64
    seed: int = 0
    limit: int | None = None        # first N sentences of each split (smoke runs)
    data_seed: int = 0


def encode(examples: list[data.Example], max_len: int, limit: int | None = None):
    tok = bert_uncased_tokenizer()
    xs = examples[:limit] if limit else examples
    ids = tok([e.text for e in xs], truncation=True, max_length=max_len)["input_ids"]
    return ids, np.array([e.label for e in xs], dtype=np.int64)


def batches(ids: list[list[int]], labels: np.ndarray, bs: int, rng: np.random.Generator | None = None):
    """Padded (input_ids, attention_mask, labels, indices) batches; shuffled when rng is given."""
    order = rng.permutation(len(ids)) if rng is not None else np.arange(len(ids))
    for i in range(0, len(order), bs):
        sel = order[i:i + bs]
        width = max(len(ids[j]) for j in sel)
        x = torch.zeros(len(sel), width, dtype=torch.long)
        m = torch.zeros(len(sel), width, dtype=torch.long)
        for r, j in enumerate(sel):
            x[r, :len(ids[j])] = torch.tensor(ids[j])
            m[r, :len(ids[j])] = 1
        yield x, m, torch.from_numpy(labels[sel]), sel


@torch.no_grad()
def predict(model, ids, bs: int = 128) -> np.ndarray:
    """Logits in input order; batches of similar length, so little compute goes to padding."""
    model.eval()
    order = np.argsort([len(s) for s in ids], kind="stable")
    out = [model(input_ids=x, attention_mask=m).logits.float().numpy()
           for x, m, _, _ in batches([ids[i] for i in order], np.zeros(len(ids), np.int64), bs)]
    if not out:
        return np.zeros((0, 2), np.float32)
    logits = np.empty((len(ids), out[0].shape[1]), np.float32)
    logits[order] = np.concatenate(out)
    return logits


def accuracy(model, ids, labels) -> float:
    return float(np.mean(predict(model, ids).argmax(-1) == labels)) if len(labels) else float("nan")


def _logger(out: Path) -> logging.Logger:
    log = logging.getLogger(f"mcubert.train.{out}")
    if not log.handlers:
        log.setLevel(logging.INFO)
        h = logging.FileHandler(out / "train.log")
        h.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(h)
    return log


def new_teacher():
    from transformers import BertForSequenceClassification

    return BertForSequenceClassification.from_pretrained(
        vocab_dir(), num_labels=2, id2label=dict(enumerate(data.LABELS)),
        label2id={n: i for i, n in enumerate(data.LABELS)})


def fit(model, cfg: TrainConfig, loss_fn=None, resume: bool = False, desc: str = "train",
        stop_after: int | None = None, extra_ids: list[list[int]] | None = None) -> dict:
    """Train `model` on the train split; checkpoint each epoch; return dev/test accuracy.
    loss_fn(model, x, mask, y, idx) (idx: the batch's train-split indices) defaults to the
    model's cross-entropy. stop_after ends the run
    after that many epochs, as an interruption would (tests of --resume). extra_ids are
    unlabelled training sentences (label -1), appended after the train split."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    log = _logger(out)
    torch.manual_seed(cfg.seed)
    splits = data.load(data.DataConfig(seed=cfg.data_seed))
    tr_ids, tr_y = encode(splits["train"], cfg.max_len, cfg.limit)
    dev_ids, dev_y = encode(splits["dev"], cfg.max_len, cfg.limit)
    te_ids, te_y = encode(splits["test"], cfg.max_len, cfg.limit)
    if extra_ids:
        tr_ids = tr_ids + extra_ids
        tr_y = np.concatenate([tr_y, np.full(len(extra_ids), -1, np.int64)])
    steps_per_epoch = -(-len(tr_ids) // cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    warm = max(1, int(cfg.warmup_frac * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    start, ckpt = 0, out / "checkpoint.pt"
    if resume and ckpt.is_file():
        st = torch.load(ckpt, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        torch.set_rng_state(st["torch_rng"])       # dropout masks continue as if never stopped
        start = st["epoch"]
        log.info(f"resumed from {ckpt} after epoch {start}")
    log.info(f"config {json.dumps(asdict(cfg))}; {len(tr_ids)} train sentences, {total} steps")
    loss_fn = loss_fn or (lambda mdl, x, m, y, idx: mdl(input_ids=x, attention_mask=m, labels=y).loss)
    rng = np.random.default_rng(cfg.seed)
    for _ in range(start):                       # the same shuffles as an uninterrupted run
        rng.permutation(len(tr_ids))
    for epoch in range(start, cfg.epochs if stop_after is None else min(cfg.epochs, stop_after)):
        model.train()
        t0, run = time.time(), []
        bar = tqdm(batches(tr_ids, tr_y, cfg.batch_size, rng), total=steps_per_epoch,
                   desc=f"{desc} epoch {epoch + 1}/{cfg.epochs}", disable=None)
        for x, m, y, idx in bar:
            loss = loss_fn(model, x, m, y, idx)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            run.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(run[-50:]):.4f}")
            if len(run) % 500 == 0:                 # the log shows progress where tqdm has no terminal
                log.info(f"epoch {epoch + 1} step {len(run)}/{steps_per_epoch}: loss {np.mean(run[-500:]):.4f}, "
                         f"{time.time() - t0:.0f} s")
        dev = accuracy(model, dev_ids, dev_y)
        log.info(f"epoch {epoch + 1}: loss {np.mean(run):.4f}, dev accuracy {dev:.4f}, {time.time() - t0:.0f} s")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "torch_rng": torch.get_rng_state(), "epoch": epoch + 1}, ckpt)
    metrics = {"dev_accuracy": accuracy(model, dev_ids, dev_y), "test_accuracy": accuracy(model, te_ids, te_y),
               "train_sentences": int((tr_y >= 0).sum()), "unlabelled_sentences": int((tr_y < 0).sum()),
               "epochs": cfg.epochs}
    model.save_pretrained(out)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    log.info(f"final: {json.dumps(metrics)}")
    return metrics


def train_teacher(cfg: TrainConfig, resume: bool = False, stop_after: int | None = None) -> dict:
    torch.set_num_threads(int(os.environ.get("MCUBERT_THREADS", 0)) or os.cpu_count() or 1)
    torch.manual_seed(cfg.seed)                  # the new head's initial weights
    return fit(new_teacher(), cfg, resume=resume, desc="teacher", stop_after=stop_after)


@dataclass
class DistillConfig:
    preset: str = "bert-tiny"
    temperature: float = 2.0
    alpha: float = 0.5             # weight of the hard-label cross-entropy; 1 - alpha for the teacher
    unlabelled: int = 0            # extra sentences (tweets, news) that only the teacher labels
    augment: int = 0               # augmented variants per training sentence (augment.py), teacher-labelled


@torch.no_grad()
def new_student(teacher, preset: str, max_positions: int = 128):
    """A dense student whose embeddings are the teacher's, projected onto their top principal
    directions (word, position and token-type tables share the word table's basis)."""
    from .config import make_config
    from .embedding import contiguous_clusters
    from .model import McuBertForSequenceClassification, compress_embedding

    cfg = make_config(preset, num_labels=2, id2label=dict(enumerate(data.LABELS)),
                      label2id={n: i for i, n in enumerate(data.LABELS)}, max_position_embeddings=max_positions,
                      cluster_sizes=[teacher.config.vocab_size], cluster_ranks=[make_config(preset).hidden_size])
    student = McuBertForSequenceClassification(cfg)
    emb = teacher.bert.embeddings
    w = emb.word_embeddings.weight.float()
    mean = w.mean(0, keepdim=True)
    _, _, vh = torch.linalg.svd(w - mean, full_matrices=False)
    basis = vh[: cfg.hidden_size].T                       # (teacher hidden, student hidden)
    compress_embedding(student, contiguous_clusters(cfg.vocab_size, 1), [cfg.hidden_size],
                       dense=(w - mean) @ basis)
    se = student.bert.embeddings
    se.position_embeddings.weight.copy_(emb.position_embeddings.weight[:max_positions].float() @ basis)
    se.token_type_embeddings.weight.copy_(emb.token_type_embeddings.weight.float() @ basis)
    return student


def kd_loss(soft: torch.Tensor, temperature: float, alpha: float):
    """Distillation loss over fit()'s batches: alpha * cross-entropy on the labelled sentences
    plus (1 - alpha) * T^2 * KL to the teacher's softened logits (soft[idx]) on all of them."""
    T = temperature

    def kd(model, x, m, y, idx):
        logits = model(input_ids=x, attention_mask=m).logits
        lab = y >= 0           # unlabelled sentences learn from the teacher alone
        hard = torch.nn.functional.cross_entropy(logits[lab], y[lab]) if lab.any() else logits.sum() * 0
        kl = torch.nn.functional.kl_div(torch.log_softmax(logits / T, -1), torch.softmax(soft[idx] / T, -1),
                                        reduction="batchmean")
        return alpha * hard + (1 - alpha) * T * T * kl

    return kd


def save_distill_set(out: Path, extra_ids: list[list[int]], logits: np.ndarray) -> None:
    """The sentences beyond the train split and the teacher's logits for train + extra, so
    later stages (search, baselines) distil on exactly the same data."""
    flat = np.array([t for s in extra_ids for t in s], np.int32)
    offsets = np.cumsum([0] + [len(s) for s in extra_ids]).astype(np.int64)
    np.savez(out / "distill_set.npz", ids=flat, offsets=offsets, logits=logits.astype(np.float32))


def load_distill_set(path: str | Path) -> tuple[list[list[int]], np.ndarray]:
    """(extra_ids, teacher logits for train split + extra) from a student directory."""
    z = np.load(Path(path) / "distill_set.npz")
    flat, off = z["ids"], z["offsets"]
    return [flat[off[i]:off[i + 1]].tolist() for i in range(len(off) - 1)], z["logits"]


def distill_extra(tr_ids: list[list[int]], teacher, cfg: TrainConfig, dc: DistillConfig) -> list[list[int]]:
    """The sentences beyond the train split that the student distils on: augmented variants
    of the training sentences, then unlabelled tweets and news sentences."""
    from .augment import AugmentConfig, augment

    tok = bert_uncased_tokenizer()
    extra = []
    if dc.augment:
        vocab = [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
        extra += augment(tr_ids, vocab, teacher.bert.embeddings.word_embeddings.weight,
                         AugmentConfig(per_sentence=dc.augment, seed=cfg.data_seed))
    if dc.unlabelled:
        sents = data.unlabelled_sentences(limit=dc.unlabelled, seed=cfg.data_seed)
        extra += tok(sents, truncation=True, max_length=cfg.max_len)["input_ids"]
    return extra


def train_student(cfg: TrainConfig, teacher_dir: str, dc: DistillConfig | None = None, resume: bool = False,
                  stop_after: int | None = None) -> dict:
    """Knowledge distillation from a fine-tuned teacher (`mcubert train teacher`) into a dense
    bert-tiny/bert-mini student."""
    from transformers import BertForSequenceClassification

    dc = dc or DistillConfig()
    torch.set_num_threads(int(os.environ.get("MCUBERT_THREADS", 0)) or os.cpu_count() or 1)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    teacher = BertForSequenceClassification.from_pretrained(teacher_dir).eval()
    tr_ids, _ = encode(data.load(data.DataConfig(seed=cfg.data_seed))["train"], cfg.max_len, cfg.limit)
    extra_ids = distill_extra(tr_ids, teacher, cfg, dc)
    key = out / "distill_set.npz"
    if key.is_file() and load_distill_set(out)[0] == extra_ids:
        t_logits = load_distill_set(out)[1]          # resume: the teacher's pass is the slow part
    else:
        t_logits = predict(teacher, tr_ids + extra_ids, bs=256)
        save_distill_set(out, extra_ids, t_logits)
    torch.manual_seed(cfg.seed)
    student = new_student(teacher, dc.preset, max_positions=max(cfg.max_len, 128))
    del teacher
    kd = kd_loss(torch.from_numpy(t_logits), dc.temperature, dc.alpha)

    metrics = fit(student, cfg, loss_fn=kd, resume=resume, desc=f"student {dc.preset}", stop_after=stop_after,
                  extra_ids=extra_ids)
    bert_uncased_tokenizer().save_pretrained(out)       # `mcubert quantize` reads the vocabulary from here
    return metrics
