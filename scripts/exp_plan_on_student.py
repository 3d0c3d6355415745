# SPDX-License-Identifier: Apache-2.0
"""Experiment (docs/results.md, "The search's plan on the untouched student"): take the plan
(clusters, ranks) of a finished sweep search point, apply it to the dense student as the
adaptive baseline builds its model (per-cluster truncated SVD of the student's table), then the
same fine-tuning and best-dev selection as that budget's baseline points, then int8 as the
sweep does (256 calibration sentences, the point's seed; test split through the reference and
the host C runtime). Resumable: a point with point.json is skipped, a fine-tuned one only
quantized.

usage: python scripts/exp_plan_on_student.py BUDGET SEED   (reads runs/sweep-rt3, writes runs/exp-plan)
"""
import json
import sys
from pathlib import Path

import torch

from mcubert.training.pipeline import quantize_and_eval
from mcubert.training.search import (RunConfig, _log, distill_data, finetune_and_save, load_student,
                                     resolve_budget)

budget, seed = int(sys.argv[1]), int(sys.argv[2])
torch.set_num_threads(1)
out = Path(f"runs/exp-plan/plan-{budget}-s{seed}")
if (out / "point.json").is_file():
    print((out / "point.json").read_text())
    sys.exit(0)
cfgd = json.load(open(f"runs/sweep-rt3/points/adaptive-{budget}-s{seed}/metrics.json"))["config"]
cfgd.pop("kind")
cfgd.update(out=str(out), resume=False)
cfg = RunConfig(**cfgd)
out.mkdir(parents=True, exist_ok=True)
done = out / "finetune" / "metrics.json"
if (out / "model.safetensors").is_file() and done.is_file():
    m = json.loads(done.read_text())
else:
    searched = load_student(f"runs/sweep-rt3/points/search-{budget}-s{seed}").get_input_embeddings()
    s2 = {"cluster_of": searched.token_cluster.numpy(), "ranks": searched.ranks}
    model = load_student(cfg.student, cfg.position_rank)
    info = resolve_budget(cfg, model)
    dd = distill_data(cfg.student, model.config.vocab_size, cfg.max_len, cfg.limit, cfg.data_seed,
                      cfg.hidden_weight)
    table = model.get_input_embeddings().dense().detach()
    m = finetune_and_save(cfg, model, table, s2["cluster_of"], list(s2["ranks"]), dd, info, _log(out))
q = quantize_and_eval(out, out / "model.mcubert", 256, seed, None)
row = {"budget": budget, "seed": seed, "dev_accuracy": m["dev_accuracy"], "test_accuracy": m["test_accuracy"],
       "int8_test_accuracy": q["accuracy_reference"], "int8_c_accuracy": q["accuracy_c"],
       "identical": q["identical"], "blob_bytes": q["blob_bytes"], "selected_epoch": m.get("selected_epoch")}
(out / "point.json").write_text(json.dumps(row, indent=2) + "\n")
print(json.dumps(row))
