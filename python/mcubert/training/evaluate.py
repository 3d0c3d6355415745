# SPDX-License-Identifier: Apache-2.0
"""Accuracy on the Rotten Tomatoes split: an int8 `.mcubert` model through the integer
reference and the host C runtime (which must agree bit for bit), or a float checkpoint.

The quantized path tokenizes with the model file's own vocabulary, exactly as `mcubert run`
does, runs every sentence through the C batch runner in one process, and checks each
sentence's logits against the reference's.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..data import corpus, datasets
from ..targets import host
from ..int8 import modelfile
from ..int8 import reference
from ..export.generate import generate_from
from ..int8.numerics import unpack_ln
from ..int8.qmodel import QuantModel

# Tensors that are configuration rather than learned parameters: requantization multipliers
# and shifts, lookup tables for nonlinearities, and the token -> cluster index table.
_NOT_PARAMS = (".rq", ".scalars", "_lut", "emb.cluster_of")   # plus emb.rq.<cluster>


def quantized_params(qm: QuantModel) -> int:
    """Learned integers in the model: int8 weights and embeddings, int32 biases, and the
    LayerNorm gains and offsets (the packed LayerNorm tensors also hold an exponent word)."""
    n = 0
    for name, t in qm.tensors.items():
        if name.endswith(_NOT_PARAMS) or ".rq." in name:
            continue
        if name == "emb.ln" or name.endswith((".ln1", ".ln2")):
            g, b, _ = unpack_ln(t)
            n += g.size + b.size
        else:
            n += int(t.size)
    return n


def _examples(split: str, limit: int | None, data: str | None, labels: list[str]) -> list[corpus.Example]:
    """The split's examples, after checking that the dataset's labels are the model's."""
    if split not in corpus.SPLITS:
        raise ValueError(f"unknown split {split!r} (one of {', '.join(corpus.SPLITS)})")
    ds = datasets.load(data)
    unnamed = [f"LABEL_{i}" for i in range(len(labels))]     # transformers' names for unnamed labels
    if [str(x) for x in labels] not in (ds.labels, unnamed) or len(labels) != len(ds.labels):
        raise ValueError(f"the model's labels ({', '.join(map(str, labels))}) are not dataset {ds.name}'s "
                         f"({', '.join(ds.labels)}); evaluate on the data the model was trained on")
    xs = ds.splits[split]
    return xs[:limit] if limit is not None else xs


def longest(examples: list, n_tokens: list[int], fraction: float) -> tuple[list, list[int]]:
    """The ceil(fraction * n) examples with the most tokens (untruncated; ties: the earlier one),
    in split order, and their indices in `examples`."""
    if not 0 < fraction <= 1:
        raise ValueError(f"longest fraction {fraction:g} is outside (0, 1]")
    k = -(-len(examples) * fraction // 1)
    keep = sorted(sorted(range(len(examples)), key=lambda i: (-n_tokens[i], i))[:int(k)])
    return [examples[i] for i in keep], keep


def evaluate_quantized(path_or_qm, split: str = "test", limit: int | None = None,
                       max_seq_len: int | None = None, schedule: str = "fine", target: str = "host",
                       data: str | None = None, longest_fraction: float | None = None) -> dict:
    """Accuracy of the integer reference and the C runtime on one split of `data` (default: the
    dataset the model file says it was trained on), and how many sentences got identical logits
    from both. longest_fraction: only that fraction of the split, its longest examples by
    untruncated token count (the same examples at every max_seq_len). Raises ValueError if the
    model file has no vocabulary (the sentences could not be tokenized as on the device)."""
    from ..text.vocab import encode_example, tokenizer_from_vocab

    qm = path_or_qm if isinstance(path_or_qm, QuantModel) else modelfile.load(path_or_qm)
    if not qm.vocab:
        raise ValueError("this model file has no vocabulary, so sentences cannot be tokenized; "
                         "quantize a checkpoint directory that holds its tokenizer")
    if len(qm.vocab) != qm.vocab_size:
        raise ValueError(f"the model file's vocabulary has {len(qm.vocab)} tokens, its config "
                         f"vocab_size {qm.vocab_size}")
    L = max_seq_len or qm.max_positions
    data = data or qm.provenance.get("data")
    examples = _examples(split, limit, data, qm.labels)
    check_pair(qm.is_pair, examples, data, "the model file")
    tok = tokenizer_from_vocab(qm.vocab, L)
    full_tokens, picked = None, None
    if longest_fraction is not None:
        full = tokenizer_from_vocab(qm.vocab, 1 << 30)
        counts = [len(encode_example(full, e.text, e.text_pair, 1 << 30)[0]) for e in examples]
        examples, picked = longest(examples, counts, longest_fraction)
        full_tokens = [counts[i] for i in picked]
    inputs = [reference.as_input(*encode_example(tok, e.text, e.text_pair, L)) for e in examples]
    labels = np.array([e.label for e in examples], np.int64)

    plan, blob = generate_from(qm, L, schedule)
    statuses, c_logits = host.run_runner(host.runner(target), plan, blob, inputs) if inputs else ([], [])

    sentences, identical, ok_ref, ok_c = [], 0, 0, 0
    for i, x in enumerate(tqdm(inputs, desc="reference", leave=False, disable=None)):
        ids, n_first = reference.split_input(x)
        want = reference.classify(qm, x)
        got = np.asarray(c_logits[i])
        same = statuses[i] == 0 and np.array_equal(want, got)
        p_ref = int(np.argmax(want))
        p_c = int(np.argmax(got)) if statuses[i] == 0 else -1
        identical += same
        ok_ref += p_ref == labels[i]
        ok_c += p_c == labels[i]
        sentences.append({"index": picked[i] if picked else i, "text": examples[i].text, "text_pair": examples[i].text_pair,
                          "label": int(labels[i]), "n_tokens": len(ids), "n_first": n_first,
                          "reference": want.tolist(), "runtime": got.tolist(),
                          "status": host.ERRORS.get(statuses[i], str(statuses[i])),
                          "pred_reference": p_ref, "pred_c": p_c, "identical": bool(same)})
    n = len(inputs)
    nan = float("nan")
    return {"n": n, "split": split, "data": data or datasets.BUILTIN, "max_seq_len": L, "schedule": schedule,
            "target": target,
            "accuracy_reference": ok_ref / n if n else nan, "accuracy_c": ok_c / n if n else nan,
            "identical": int(identical), "blob_bytes": len(blob), "params": quantized_params(qm),
            "labels": qm.labels, "longest_fraction": longest_fraction,
            "min_full_tokens": min(full_tokens) if full_tokens else None, "predictions": sentences}


def check_pair(model_pair: bool, examples, data, what: str) -> None:
    """A pair model reads pair data, a one-sentence model one-sentence data."""
    data_pair = bool(examples) and examples[0].text_pair is not None
    if examples and model_pair != data_pair:
        kind = {True: "sentence pairs", False: "single sentences"}
        raise ValueError(f"{what} takes {kind[model_pair]}, dataset {data or datasets.BUILTIN} has {kind[data_pair]}")


def _float_class(cfg: dict):
    archs = cfg.get("architectures") or []
    if "cluster_sizes" in cfg or cfg.get("model_type") == "mcubert" or "McuBertForSequenceClassification" in archs:
        from ..modeling.model import McuBertForSequenceClassification
        return McuBertForSequenceClassification
    if not archs or "BertForSequenceClassification" in archs:
        from transformers import BertForSequenceClassification
        return BertForSequenceClassification
    raise ValueError(f"unsupported architecture {archs} (McuBertForSequenceClassification or "
                     f"BertForSequenceClassification)")


def evaluate_float(checkpoint_dir, split: str = "test", limit: int | None = None, max_len: int = 64,
                   data: str | None = None) -> dict:
    """Float accuracy of a fine-tuned checkpoint (tokenized with the bert-base-uncased vocabulary,
    as training does) and its parameter count."""
    import torch

    from . import train
    from ..text.vocab import BERT_UNCASED_VOCAB_SIZE

    d = Path(checkpoint_dir)
    cfg_path = d / "config.json"
    if not cfg_path.is_file():
        raise FileNotFoundError(f"{d}: no config.json (not a checkpoint directory)")
    cfg = json.loads(cfg_path.read_text())
    if int(cfg.get("vocab_size", 0)) != BERT_UNCASED_VOCAB_SIZE:
        raise ValueError(f"{d}: vocab_size {cfg.get('vocab_size')}; the float evaluation tokenizes with "
                         f"the bert-base-uncased vocabulary ({BERT_UNCASED_VOCAB_SIZE} tokens)")
    cls = _float_class(cfg)
    model = cls.from_pretrained(str(d)).eval()
    L = min(max_len, int(model.config.max_position_embeddings))
    data = data or train.data_of(d)
    names = [str(model.config.id2label[i]) for i in range(model.config.num_labels)]
    examples = _examples(split, limit, data, names)
    if "text_pair" in cfg:
        check_pair(bool(cfg["text_pair"]), examples, data, str(d))
    train.pair_mode(model, bool(examples) and examples[0].text_pair is not None)
    ids, labels = train.encode(examples, L)
    with torch.no_grad():
        acc = train.accuracy(model, ids, labels)
    return {"n": len(labels), "split": split, "data": data, "max_len": L, "architecture": cls.__name__,
            "accuracy_float": acc, "params": int(sum(p.numel() for p in model.parameters()))}
