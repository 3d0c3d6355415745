# SPDX-License-Identifier: Apache-2.0
"""One set of model bounds: Python reads them from include/mcubert/mcubert.h, and at every bound
the toolchain and mcubert_init agree (the bound itself passes, one past it is refused)."""
from __future__ import annotations

import re

import pytest

from mcubert.export.planner import Dims, fnv1a, plan
from mcubert.int8 import bounds
from mcubert.targets import host

HEADER = bounds.HEADER.read_text()
INIT_C = (bounds.HEADER.parents[2] / "src" / "mcubert_init.c").read_text()
WORD = {"vocab_size": 3, "hidden": 4, "layers": 5, "heads": 6, "ffn": 7, "max_positions": 8, "labels": 9,
        "clusters": 10, "max_seq_len": 11, "q_tile": 12, "ffn_tile": 13}


def test_every_bound_the_runtime_uses_is_read():
    used = set(re.findall(r"MCUBERT_MAX_(\w+)", INIT_C))
    assert used and used <= set(bounds.MAX)
    for name, value in bounds.MAX.items():
        assert re.search(rf"^#define MCUBERT_MAX_{name} {value}u$", HEADER, re.M)


def test_a_header_without_a_bound_is_an_error(tmp_path):
    h = tmp_path / "mcubert.h"
    h.write_text(HEADER.replace("#define MCUBERT_MAX_FFN", "#define MCUBERT_MAX_FNN"))
    with pytest.raises(RuntimeError, match="MCUBERT_MAX_FFN"):
        bounds.read_header(h)


def _init(words):
    w = list(words)
    w[1] = fnv1a(w[:1] + w[2:])
    return host.Runtime(w, b"\0" * 64).status


def _dims(**kw):
    base = dict(vocab_size=400, hidden=64, layers=2, heads=4, ffn=64, max_positions=64, num_labels=2, clusters=2)
    base.update(kw)
    return base


# (schedule fields set together, the value at the bound)
CASES = {
    "VOCAB": ({"vocab_size": None}, {}),
    "HIDDEN": ({"hidden": None}, {"heads": 4}),
    "LAYERS": ({"layers": None}, {}),
    "HEAD_DIM": ({"hidden": "hd*2"}, {"heads": 2}),
    "FFN": ({"ffn": None}, {}),
    "POSITIONS": ({"max_positions": None}, {}),
    "LABELS": ({"labels": None}, {}),
    "CLUSTERS": ({"clusters": None}, {}),
    "TILE": ({"q_tile": None}, {}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_runtime_and_toolchain_agree_at_each_bound(name):
    p = plan(Dims(**_dims()), 16)
    words = p.words()
    hi = bounds.MAX[name]
    for value, runtime_refuses in ((hi, False), (hi + 1, True)):
        w = list(words)
        field, extra = CASES[name]
        (key, how), = field.items()
        w[WORD[key]] = value * 2 if how == "hd*2" else value
        for k, v in extra.items():
            w[WORD[k]] = v
        status = _init(w)
        assert (status == host.ERR["MCUBERT_ERR_CONFIG"]) == runtime_refuses, (name, value, host.ERRORS[status])
        d = dict(vocab_size=w[3], hidden=w[4], layers=w[5], heads=w[6], ffn=w[7], max_positions=w[8],
                 num_labels=w[9], clusters=w[10])
        try:
            bounds.check_model(**d)
            bounds.check_schedule(min(16, d["max_positions"]), d["max_positions"], q_tile=w[12])
            refused = False
        except bounds.BoundsError as e:
            refused = True
            assert f"MCUBERT_MAX_{name}" in str(e)
        assert refused == runtime_refuses, (name, value)


@pytest.mark.parametrize("field,value", [("hidden", 0), ("layers", 0), ("heads", 0), ("heads", 3), ("ffn", 0),
                                         ("num_labels", 0), ("clusters", 0), ("vocab_size", 0)])
def test_lower_bounds(field, value):
    with pytest.raises(bounds.BoundsError):
        bounds.check_model(**_dims(**{field: value}))


def test_planner_refuses_tiles_and_lengths():
    d = Dims(**_dims())
    for kw in (dict(q_tile=0), dict(q_tile=-3), dict(q_tile=65), dict(ffn_tile=0), dict(ffn_tile=100)):
        with pytest.raises(bounds.BoundsError, match="tile"):
            plan(d, 16, **kw)
    for L in (0, -5, 65):
        with pytest.raises(bounds.BoundsError, match="max_seq_len"):
            plan(d, L)
    assert plan(d, 16, q_tile=1).q_tile == 1 and plan(d, 64, q_tile=64).q_tile == 64
