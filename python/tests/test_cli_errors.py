# SPDX-License-Identifier: Apache-2.0
"""Every CLI mistake gets one line, `error: ...`, and exit 2: a table of bad inputs driven
through every subcommand, plus the models the runtime would refuse."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mcubert.cli import main
from mcubert.int8 import modelfile

SHIPPED = Path(__file__).resolve().parents[2] / "samples" / "bert_classify" / "model" / "sentiment_tiny.mcubert"


@pytest.fixture(scope="module")
def files(tmp_path_factory, small_qm):
    """A valid model and the bad inputs the table refers to by name."""
    t = tmp_path_factory.mktemp("bad")
    good = t / "good.mcubert"
    modelfile.save(small_qm, good)
    raw = good.read_bytes()
    (t / "empty.mcubert").write_bytes(b"")
    (t / "truncated.mcubert").write_bytes(raw[: len(raw) // 2])
    (t / "foreign.mcubert").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    (t / "a_file").write_text("not a directory\n")
    (t / "empty.txt").write_text("# only a comment\n\n")
    (t / "board.yaml").write_text("- just\n- a list\n")
    (t / "dir").mkdir()
    ck = t / "bert_ckpt"
    ck.mkdir()
    (ck / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 128}))
    (t / "bert_ckpt_gpt").mkdir()
    (t / "bert_ckpt_gpt" / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    bad_json = t / "bad_json"
    bad_json.mkdir()
    (bad_json / "config.json").write_text("{not json")
    for name, change in {"vocab": ("vocab_size", 65536), "labels": ("num_labels", 257),
                         "layers": ("num_layers", 49), "ffn": ("ffn_size", 4097),
                         "positions": ("max_positions", 4097), "hidden": ("hidden_size", 1025),
                         "headdim": ("num_heads", 1)}.items():
        qm = modelfile.load(good)
        qm.config[change[0]] = change[1]
        if name == "headdim":
            qm.config["hidden_size"] = 512
        modelfile.save(qm, t / f"over_{name}.mcubert")
    return t


M = "{t}/good.mcubert"
CASES = [
    # run
    ("run-dir", ["run", "{t}/dir", "--text", "fine film"], "is a directory"),
    ("run-tmp", ["run", "/tmp", "--text", "fine film"], "is a directory"),
    ("run-missing", ["run", "{t}/nope.mcubert", "--text", "x"], "no such file"),
    ("run-empty", ["run", "{t}/empty.mcubert", "--text", "x"], "not a .mcubert file"),
    ("run-truncated", ["run", "{t}/truncated.mcubert", "--text", "x"], "CRC mismatch"),
    ("run-foreign", ["run", "{t}/foreign.mcubert", "--text", "x"], "bad magic"),
    ("run-id-big", ["run", M, "--ids", "999999"], "outside the vocabulary"),
    ("run-id-neg", ["run", M, "--ids", "-1"], "outside the vocabulary"),
    ("run-id-70000", ["run", M, "--ids", "70000"], "outside the vocabulary"),
    ("run-id-text", ["run", M, "--ids", "1,two"], "integer token ids"),
    ("run-id-empty", ["run", M, "--ids", ""], "--ids is empty"),
    ("run-len-neg", ["run", M, "--ids", "1", "--max-seq-len", "-5"], "outside 1.."),
    ("run-len-0", ["run", M, "--ids", "1", "--max-seq-len", "0"], "outside 1.."),
    ("run-len-big", ["run", M, "--ids", "1", "--max-seq-len", "65"], "above the model's max positions"),
    ("run-text-empty", ["run", M, "--text", ""], "--text is empty"),
    ("run-text-blank", ["run", M, "--text", "   "], "--text is empty"),
    ("run-no-input", ["run", M], "one of the arguments --text --ids is required"),
    # plan
    ("plan-dir", ["plan", "{t}/dir", "--max-seq-len", "16"], "is a directory"),
    ("plan-qtile-neg", ["plan", M, "--max-seq-len", "16", "--q-tile", "-3"], "outside 1..64"),
    ("plan-qtile-0", ["plan", M, "--max-seq-len", "16", "--q-tile", "0"], "outside 1..64"),
    ("plan-qtile-65", ["plan", M, "--max-seq-len", "16", "--q-tile", "65"], "outside 1..64"),
    ("plan-ffntile", ["plan", M, "--max-seq-len", "16", "--ffn-tile", "100"], "outside 1..64"),
    ("plan-len-0", ["plan", M, "--max-seq-len", "0"], "outside 1.."),
    ("plan-len-model", ["plan", M, "--max-seq-len", "65"], "the model's max positions"),
    ("plan-len-text", ["plan", M, "--max-seq-len", "many"], "not an integer"),
    ("plan-board", ["plan", M, "--max-seq-len", "16", "--board", "no_such_board"], "no board profile"),
    ("plan-board-file", ["plan", M, "--max-seq-len", "16", "--board", "{t}/board.yaml"], "not a board profile"),
    # verify
    ("verify-n0", ["verify", M, "--max-seq-len", "16", "--n", "0"], "must be at least 1"),
    ("verify-qtile", ["verify", M, "--max-seq-len", "16", "--q-tile", "-3"], "outside 1..64"),
    ("verify-dir", ["verify", "{t}/dir", "--max-seq-len", "16"], "is a directory"),
    ("verify-target", ["verify", M, "--max-seq-len", "16", "--target", "cortex-m0"], "invalid choice"),
    # generate
    ("gen-out-file", ["generate", M, "--max-seq-len", "16", "--out-dir", "{t}/a_file"], "not a directory"),
    ("gen-out-unwritable", ["generate", M, "--max-seq-len", "16", "--out-dir", "/proc/mcubert/gen"], "/proc/mcubert"),
    ("gen-out-under-file", ["generate", M, "--max-seq-len", "16", "--out-dir", "{t}/a_file/sub"], "a_file"),
    ("gen-inputs-missing", ["generate", M, "--max-seq-len", "16", "--out-dir", "{t}/g", "--inputs", "{t}/nope.txt"],
     "no such file"),
    ("gen-inputs-empty", ["generate", M, "--max-seq-len", "16", "--out-dir", "{t}/g", "--inputs", "{t}/empty.txt"],
     "no sentences"),
    ("gen-arena-name", ["generate", M, "--max-seq-len", "16", "--out-dir", "{t}/g", "--c-source",
                        "--arena-extern", "1bad"], "not a C identifier"),
    ("gen-truncated", ["generate", "{t}/truncated.mcubert", "--max-seq-len", "16", "--out-dir", "{t}/g"], "CRC"),
    # info
    ("info-dir", ["info", "{t}/dir"], "is a directory"),
    ("info-foreign", ["info", "{t}/foreign.mcubert"], "bad magic"),
    # eval
    ("eval-limit-0", ["eval", M, "--limit", "0"], "must be at least 1"),
    ("eval-limit-neg", ["eval", M, "--limit", "-1"], "must be at least 1"),
    ("eval-missing", ["eval", "{t}/nope.mcubert"], "no such file"),
    ("eval-dir", ["eval", "{t}/dir"], "no config.json"),
    ("eval-json-dir", ["eval", M, "--json", "{t}/dir"], "is a directory"),
    # quantize
    ("q-missing", ["quantize", "{t}/no_such_dir", "--out", "{t}/q.mcubert"], "no such directory"),
    ("q-file", ["quantize", M, "--out", "{t}/q.mcubert"], "is a file"),
    ("q-no-config", ["quantize", "{t}/dir", "--out", "{t}/q.mcubert"], "no config.json"),
    ("q-bad-json", ["quantize", "{t}/bad_json", "--out", "{t}/q.mcubert"], "not valid JSON"),
    ("q-bert", ["quantize", "{t}/bert_ckpt", "--out", "{t}/q.mcubert"], "run `mcubert import"),
    ("q-samples-0", ["quantize", "{t}/dir", "--out", "{t}/q.mcubert", "--samples", "0"], "must be at least 1"),
    ("q-check-0", ["quantize", "{t}/dir", "--out", "{t}/q.mcubert", "--check", "0"], "must be at least 1"),
    ("q-data-missing", ["quantize", "{t}/dir", "--out", "{t}/q.mcubert", "--data", "{t}/nope.txt"], "nope.txt"),
    ("q-out-dir", ["quantize", "{t}/dir", "--out", "{t}/dir"], "is a directory"),
    # new-model
    ("new-ranks", ["new-model", "--clusters", "2", "--ranks", "8", "--out", "{t}/n"], "2 clusters"),
    ("new-ranks-text", ["new-model", "--ranks", "a,b", "--out", "{t}/n"], "comma list"),
    ("new-override-json", ["new-model", "--override", "{{", "--out", "{t}/n"], "not valid JSON"),
    ("new-override-list", ["new-model", "--override", "[1]", "--out", "{t}/n"], "JSON object"),
    ("new-vocab", ["new-model", "--override", '{{"vocab_size": 65536}}', "--out", "{t}/n"], "MCUBERT_MAX_VOCAB"),
    ("new-labels", ["new-model", "--override", '{{"num_labels": 257}}', "--out", "{t}/n"], "MCUBERT_MAX_LABELS"),
    ("new-layers", ["new-model", "--override", '{{"num_hidden_layers": 49}}', "--out", "{t}/n"],
     "MCUBERT_MAX_LAYERS"),
    ("new-headdim", ["new-model", "--override", '{{"hidden_size": 1024, "num_attention_heads": 2}}',
                     "--ranks", "8", "--out", "{t}/n"], "MCUBERT_MAX_HEAD_DIM"),
    ("new-hidden", ["new-model", "--override", '{{"hidden_size": 1025, "num_attention_heads": 5}}', "--ranks", "8",
                    "--out", "{t}/n"], "MCUBERT_MAX_HIDDEN"),
    ("new-ffn", ["new-model", "--override", '{{"intermediate_size": 4097}}', "--out", "{t}/n"], "MCUBERT_MAX_FFN"),
    ("new-positions", ["new-model", "--override", '{{"max_position_embeddings": 4097}}', "--out", "{t}/n"],
     "MCUBERT_MAX_POSITIONS"),
    ("new-clusters-0", ["new-model", "--clusters", "0", "--out", "{t}/n"], "outside 1..256"),
    ("new-out-file", ["new-model", "--out", "{t}/a_file"], "not a directory"),
    ("new-preset", ["new-model", "--preset", "bert-huge", "--out", "{t}/n"], "invalid choice"),
    # models the runtime would refuse, through every command that reads a model
    *[(f"over-{n}-{c}", [c, f"{{t}}/over_{n}.mcubert", *rest], f"MCUBERT_MAX_{m}")
      for n, m in (("vocab", "VOCAB"), ("labels", "LABELS"), ("layers", "LAYERS"), ("ffn", "FFN"),
                   ("positions", "POSITIONS"), ("hidden", "HIDDEN"), ("headdim", "HEAD_DIM"))
      for c, rest in (("plan", ["--max-seq-len", "16"]), ("generate", ["--max-seq-len", "16", "--out-dir", "{t}/o"]),
                      ("verify", ["--max-seq-len", "16"]), ("run", ["--ids", "1"]), ("info", []))],
    # data, train, search, baseline, pipeline, bench
    ("data-seed", ["data", "--seed", "-1"], "must be at least 0"),
    ("data-cache-file", ["data", "--cache", "{t}/a_file"], "a_file"),
    ("train-what", ["train", "professor", "--out", "{t}/tr"], "invalid choice"),
    ("train-no-teacher", ["train", "student", "--out", "{t}/tr"], "needs --teacher"),
    ("train-bad-teacher", ["train", "student", "--teacher", "{t}/dir", "--out", "{t}/tr"], "no config.json"),
    ("train-epochs", ["train", "teacher", "--out", "{t}/tr", "--epochs", "0"], "must be at least 1"),
    ("train-lr", ["train", "teacher", "--out", "{t}/tr", "--lr", "-1"], "must be at least"),
    ("train-out-file", ["train", "teacher", "--out", "{t}/a_file"], "not a directory"),
    ("train-init-missing", ["train", "teacher", "--init-from", "{t}/dir", "--out", "{t}/tr"], "no config.json"),
    ("train-init-type", ["train", "teacher", "--init-from", "{t}/bert_ckpt_gpt", "--out", "{t}/tr"],
     "model_type 'gpt2'"),
    ("train-init-vocab", ["train", "teacher", "--init-from", "{t}/bert_ckpt", "--out", "{t}/tr"], "vocab_size None"),
    ("train-init-student", ["train", "student", "--init-from", "{t}/bert_ckpt", "--teacher", "{t}/x", "--out",
                            "{t}/tr"], "a student starts from --teacher"),
    ("train-data", ["train", "teacher", "--data", "no_such_data", "--out", "{t}/tr"], "no cached dataset"),
    ("eval-data", ["eval", M, "--data", "no_such_data"], "no cached dataset"),
    ("pipeline-teacher-init", ["pipeline", "--out", "{t}/p", "--teacher-init", "{t}/dir"], "no config.json"),
    ("pipeline-columns", ["pipeline", "--out", "{t}/p", "--text-column", "x"], "options are for importing a file"),
    ("pipeline-data-file", ["pipeline", "--out", "{t}/p", "--data", "{t}/empty.txt"], "unknown format .txt"),
    ("search-student", ["search", "--student", "{t}/no_such", "--out", "{t}/s"], "no such directory"),
    ("search-no-set", ["search", "--student", "{t}/dir", "--out", "{t}/s"], "distill_set.npz"),
    ("search-budget", ["search", "--student", "{t}/dir", "--out", "{t}/s", "--budget", "0"], "must be at least 1"),
    ("search-ranks", ["search", "--student", "{t}/dir", "--out", "{t}/s", "--ranks", "2,-8"], "rank >= 0"),
    ("baseline-kind", ["baseline", "pca", "--student", "{t}/dir", "--out", "{t}/s"], "invalid choice"),
    ("baseline-no-set", ["baseline", "svd", "--student", "{t}/dir", "--out", "{t}/s"], "distill_set.npz"),
    ("pipeline-baselines", ["pipeline", "--out", "{t}/p", "--baselines", "svd,pca"], "unknown baseline 'pca'"),
    ("pipeline-teacher", ["pipeline", "--out", "{t}/p", "--teacher", "{t}/dir"], "no config.json"),
    ("pipeline-out-file", ["pipeline", "--out", "{t}/a_file"], "not a directory"),
    ("pipeline-position-rank", ["pipeline", "--out", "{t}/p", "--position-rank", "full"],
     "'full' is not a rank (an integer >= 1), 'search' or 'dense'"),
    ("pipeline-position-rank-0", ["pipeline", "--out", "{t}/p", "--position-rank", "0"], "must be at least 1"),
    ("search-position-dense", ["search", "--student", "{t}/dir", "--out", "{t}/s", "--position-rank", "dense"],
     "'dense' is not a rank (an integer >= 1) or 'search'"),
    ("bench-json-dir", ["bench", "--quick", "--json", "{t}/dir"], "is a directory"),
    ("no-command", [], "required"),
    ("unknown-command", ["frobnicate"], "invalid choice"),
    ("unknown-option", ["info", M, "--colour"], "unrecognized arguments"),
]


@pytest.mark.parametrize("argv,expect", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_error_line(files, capsys, argv, expect):
    rc = main([a.format(t=files) for a in argv])
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert rc == 2, (rc, out, err)
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expect in lines[0], lines[0]
    assert "Traceback" not in out + err


def test_nothing_is_written_for_a_refused_model(files):
    out = files / "refused_out"
    assert main(["generate", f"{files}/over_vocab.mcubert", "--max-seq-len", "16", "--out-dir", str(out)]) == 2
    assert not out.exists()
    assert main(["new-model", "--override", '{"num_labels": 257}', "--out", str(files / "refused_ckpt")]) == 2
    assert not any((files / "refused_ckpt").glob("*"))


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "mcubert", *map(str, args)], capture_output=True, text=True, **kw)


def test_errors_in_a_real_process(files):
    """The same contract from a shell: exit status 2, one `error:` line, no traceback."""
    r = _cli("run", "/tmp", "--text", "fine film")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: ") and not r.stdout
    r = _cli("verify", files / "good.mcubert", "--max-seq-len", "16", "--q-tile", "-3")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_broken_pipe_is_quiet():
    r = subprocess.run(f"{sys.executable} -m mcubert plan {SHIPPED} --max-seq-len 128 | head -3; "
                       "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", capture_output=True, text=True)
    assert len(r.stdout.splitlines()) == 3 and r.stdout.startswith("schedule: fine")
    assert r.stderr == "" and r.returncode == 0


def test_help_lists_defaults_and_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip().startswith("mcubert 0.")
    assert main(["verify", "--help"]) == 0
    out = capsys.readouterr().out
    assert "(default: 20)" in out and "(default: host)" in out and "(default: fine)" in out
    import argparse

    from mcubert.cli import build_parser

    subs = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert len(subs.choices) >= 14
    for name, sp in subs.choices.items():
        assert isinstance(sp.formatter_class, type) and issubclass(sp.formatter_class,
                                                                   argparse.ArgumentDefaultsHelpFormatter), name
        missing = [a.dest for a in sp._actions if not a.help]
        assert not missing, f"mcubert {name}: options without help: {missing}"


def test_run_says_when_it_truncates(files, capsys):
    words = " ".join(["film"] * 100)
    assert main(["run", str(SHIPPED), "--text", words, "--max-seq-len", "32"]) == 0
    out, err = capsys.readouterr()
    assert "tokens: 32" in out
    assert err.strip() == "note: input truncated to 32 of 102 tokens ([CLS] and [SEP] included)"
    assert main(["run", str(SHIPPED), "--text", "film", "--max-seq-len", "32"]) == 0
    assert capsys.readouterr().err == ""


def test_one_position_model_quantizes_and_runs(tmp_path, capsys):
    ck, out = tmp_path / "ck", tmp_path / "one.mcubert"
    assert main(["new-model", "--override", '{"max_position_embeddings": 1, "vocab_size": 300, "hidden_size": 32, '
                 '"num_attention_heads": 2, "intermediate_size": 64, "num_hidden_layers": 1}',
                 "--ranks", "8", "--out", str(ck)]) == 0
    assert main(["quantize", str(ck), "--out", str(out), "--samples", "4", "--check", "2"]) == 0
    assert main(["verify", str(out), "--max-seq-len", "1", "--n", "3"]) == 0
    assert capsys.readouterr().out.strip().endswith("bit-exact: 3/3")


def test_pipeline_position_rank_forms(monkeypatch, tmp_path):
    """The pipeline searches the position rank unless told `dense` or a rank."""
    from mcubert.training import pipeline

    seen = []
    monkeypatch.setattr(pipeline, "run", lambda cfg: seen.append(cfg.position_rank) or (_ for _ in ()).throw(
        SystemExit(0)))
    for arg, want in (([], "search"), (["--position-rank", "dense"], None), (["--position-rank", "7"], 7),
                      (["--position-rank", "search"], "search")):
        main(["pipeline", "--out", str(tmp_path / "p"), *arg])
        assert seen[-1] == want, arg
    assert pipeline.PipelineConfig(out="x").position_rank == "search"
