# SPDX-License-Identifier: Apache-2.0
"""Bit-exactness of the C runtime against the integer reference on random inputs."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from ..targets import host
from ..int8 import reference
from ..export.generate import generate_from
from ..int8.qmodel import QuantModel


@dataclass
class VerifyResult:
    n: int
    exact: int
    mismatches: list = field(default_factory=list)
    lengths: list = field(default_factory=list)     # tokens of each input
    counts: list | None = None                      # instructions per classify (emulated cores)
    pairs: int = 0                                  # inputs that were sentence pairs

    @property
    def ok(self) -> bool:
        return self.exact == self.n


def random_inputs(qm: QuantModel, max_seq_len: int, n: int, seed: int = 0, pairs: bool | None = None) -> list:
    """n sequences of random length in 1..max_seq_len; the first and last lengths are 1 and the max.
    For a pair model (or pairs=True) each is a reference.Pair whose segment A is 1..n tokens, the
    first all segment A and the last with a one-token segment A."""
    pairs = qm.is_pair if pairs is None else pairs
    rng = np.random.default_rng(seed)
    lens = rng.integers(1, max_seq_len + 1, size=n)
    if n >= 2:
        lens[0], lens[-1] = 1, max_seq_len
    out = [rng.integers(0, qm.vocab_size, size=int(k)).astype(np.uint16) for k in lens]
    if not pairs:
        return out
    firsts = [int(rng.integers(1, len(ids) + 1)) for ids in out]
    if n >= 2:
        firsts[-1] = 1
    return [reference.Pair(ids, f) for ids, f in zip(out, firsts)]


def runner_command(target: str = "host", variant: str = "release") -> host.Runner:
    """The batch runner for `target`: "host" or an emulated core (host.QEMU_BOARDS)."""
    return host.runner(target, variant)


def verify(qm: QuantModel, max_seq_len: int, n: int, mode: str = "fine", seed: int = 0,
           target: str = "host", variant: str = "release", inputs=None, pairs: bool | None = None,
           **plan_kw) -> VerifyResult:
    if inputs is None and n < 1:
        raise ValueError(f"n {n}: verify needs at least one input")
    plan, blob = generate_from(qm, max_seq_len, mode, **plan_kw)
    inputs = inputs if inputs is not None else random_inputs(qm, max_seq_len, n, seed, pairs)
    counts = None
    if target in host.QEMU_BOARDS:
        statuses, logits, counts = host.run_runner(runner_command(target, variant), plan, blob, inputs, counts=True)
    else:
        statuses, logits = host.run_runner(runner_command(target, variant), plan, blob, inputs)
    res = VerifyResult(n=len(inputs), exact=0, lengths=[len(reference.split_input(x)[0]) for x in inputs],
                       counts=counts, pairs=sum(isinstance(x, reference.Pair) for x in inputs))
    for i, x in enumerate(tqdm(inputs, desc="reference", leave=False, disable=len(inputs) < 8 or None)):
        want = reference.classify(qm, x)
        if statuses[i] == 0 and np.array_equal(want, logits[i]):
            res.exact += 1
        else:
            res.mismatches.append({"index": i, "n_tokens": res.lengths[i], "status": host.ERRORS.get(statuses[i]),
                                   "reference": want.tolist(), "runtime": logits[i].tolist()})
    return res
