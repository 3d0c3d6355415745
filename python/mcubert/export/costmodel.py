# SPDX-License-Identifier: Apache-2.0
"""The planner's instruction model: what a schedule's encoder costs on the emulated Cortex-M7.

kernel_costs.py holds instruction counts of every kernel over a grid of shapes, measured by
`mcubert bench --cost-table` (tests/bench/mcubert_bench_costs.c, SIMD build). Each kernel's
counts are fitted by least squares to the shape of its loops:
  linear, Q.K^T, P.V  insns = a + k n + G (b + c Kp + n (d + e Kp)) + t (f + g Kp + n (h + i Kp)) + j r n
                      G full groups of 4 rows (the SIMD kernels work on four rows at once), Kp
                      the reduction padded to 8, n the outputs, t 1 when a short last group of
                      r rows remains (it takes the general path, computes 4 rows and stores r);
  element-wise        insns = a + b n (residual add, LUT, LayerNorm of a row, softmax of a row).
encoder_insns() sums the calls each schedule makes for one full-length input (n = max_seq_len),
mirroring src/mcubert_classify.c loop for loop. The embedding and the head cost the same in
every schedule and are left out. The figures rank tile choices; `mcubert bench` measures.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from . import kernel_costs

PAIRED = ("linear_s8", "linear_s8_s16", "attn_qk_s8", "attn_pv_s8")


def _kp(n: int) -> int:
    return -(-n // 8) * 8


def _paired_features(rows: int, k: int, n: int) -> list[float]:
    G, Kp, r = rows // 4, _kp(k), rows % 4
    t = float(r != 0)
    return [1.0, n, G, G * Kp, G * n, G * n * Kp, t, t * Kp, t * n, t * n * Kp, r * n]


def _features(kernel: str, rows: int, k: int, n: int) -> list[float]:
    return _paired_features(rows, k, n) if kernel in PAIRED else [1.0, n]


@lru_cache(maxsize=None)
def coefficients() -> dict[str, np.ndarray]:
    """Per kernel, the least-squares fit of kernel_costs.ROWS to _features()."""
    per: dict[str, list] = {}
    refill = {n: t / r for kern, _, _, n, t, r in kernel_costs.ROWS if kern == "softmax_refill"}
    for kern, rows, k, n, total, repeat in kernel_costs.ROWS:
        if kern == "softmax_refill":
            continue
        per_call = total / repeat - (refill[n] if kern == "softmax_s8" else 0.0)
        per.setdefault(kern, []).append((_features(kern, rows, k, n), per_call))
    out = {}
    for kern, pts in per.items():
        a = np.array([f for f, _ in pts])
        b = np.array([y for _, y in pts])
        out[kern] = np.linalg.lstsq(a, b, rcond=None)[0]
    return out


@lru_cache(maxsize=None)
def cost(kernel: str, rows: int = 1, k: int = 0, n: int = 0) -> float:
    """Modelled instructions of one call (rows x k -> n for the paired kernels; n elements else)."""
    return float(np.dot(coefficients()[kernel], _features(kernel, rows, k, n)))


def fit_error() -> float:
    """Largest relative error of the fit over the measured table (reported by `mcubert plan`)."""
    worst = 0.0
    refill = {n: t / r for kern, _, _, n, t, r in kernel_costs.ROWS if kern == "softmax_refill"}
    for kern, rows, k, n, total, repeat in kernel_costs.ROWS:
        if kern == "softmax_refill":
            continue
        y = total / repeat - (refill[n] if kern == "softmax_s8" else 0.0)
        worst = max(worst, abs(cost(kern, rows, k, n) - y) / y)
    return worst


def _tiles(n: int, t: int) -> list[tuple[int, int]]:
    """(tile rows, how many tiles) of n rows cut into tiles of t."""
    return [(t, n // t)] + ([(n % t, 1)] if n % t else [])


def _add_norm(H: int, rows: int) -> float:
    return cost("residual_add_s8", n=rows * H) + rows * cost("layernorm_s8", n=H)


def ffn_insns(d, L: int, tf: int) -> float:
    """The FFN loops of every layer (the last one on the [CLS] row only)."""
    H, F, total = d.hidden, d.ffn, 0.0
    for layer in range(d.layers):
        nf = 1 if layer + 1 == d.layers else L
        for T, k in _tiles(nf, tf):
            total += k * (cost("linear_s8", T, H, F) + cost("lut_s8", n=T * F) + cost("linear_s8_s16", T, F, H)
                          + _add_norm(H, T))
    return total


def attention_insns(d, L: int, tq: int, per_head: int) -> float:
    H, NH, dh, total = d.hidden, d.heads, d.head_dim, 0.0
    for layer in range(d.layers):
        n, nq = L, (1 if layer + 1 == d.layers else L)

        def attend(T: int) -> float:
            return cost("attn_qk_s8", T, dh, n) + T * cost("softmax_s8", n=n) + cost("attn_pv_s8", T, n, dh)

        if per_head:
            for _ in range(NH):
                total += 2 * cost("linear_s8", n, H, dh)
                total += sum(k * (cost("linear_s8", T, H, dh) + attend(T)) for T, k in _tiles(nq, tq))
            total += sum(k * (cost("linear_s8_s16", T, H, H) + _add_norm(H, T)) for T, k in _tiles(nq, tq))
        else:
            total += 2 * cost("linear_s8", n, H, H)
            total += sum(k * (cost("linear_s8", T, H, H) + NH * attend(T) + cost("linear_s8_s16", T, H, H)
                              + _add_norm(H, T)) for T, k in _tiles(nq, tq))
    return total


def layerwise_insns(d, L: int) -> float:
    H, NH, F, dh, total = d.hidden, d.heads, d.ffn, d.head_dim, 0.0
    for layer in range(d.layers):
        n, nq = L, (1 if layer + 1 == d.layers else L)
        total += cost("linear_s8", nq, H, H) + 2 * cost("linear_s8", n, H, H)
        total += NH * (cost("attn_qk_s8", nq, dh, n) + nq * cost("softmax_s8", n=n) + cost("attn_pv_s8", nq, n, dh))
        total += cost("linear_s8_s16", nq, H, H) + _add_norm(H, nq)
        total += cost("linear_s8", nq, H, F) + cost("lut_s8", n=nq * F) + cost("linear_s8_s16", nq, F, H)
        total += _add_norm(H, nq)
    return total


def encoder_insns(d, L: int, mode: str, tq: int, tf: int, per_head: int) -> int:
    """Modelled instructions of the encoder layers for one input of L tokens."""
    if mode == "layerwise":
        return round(layerwise_insns(d, L))
    return round(attention_insns(d, L, tq, per_head) + ffn_insns(d, L, tf))


def write_table(rows: list[tuple], path, command: str) -> None:
    """kernel_costs.py from the benchmark's lines (kernel, rows, k, n, total insns, repeat)."""
    body = ",\n".join(f"    {r!r}" for r in rows)
    path.write_text(f'''# SPDX-License-Identifier: Apache-2.0
"""Kernel instruction counts for the planner's cost model (costmodel.py): emulated Cortex-M7,
SIMD kernels, QEMU -icount shift=0. Generated; do not edit. Made by:
    {command}
Rows: (kernel, rows, reduction k, outputs or elements n, instructions of `repeat` calls, repeat).
"""
COMMAND = {command!r}
ROWS = [
{body},
]
''')
