# SPDX-License-Identifier: Apache-2.0
"""Integer primitives shared by the quantizer and the reference (docs/numerics.md).

Everything below `quantize_multiplier` and the LUT builders runs on integers only;
the C runtime implements the same functions in src/mcubert_support.h.
"""
from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127
INT16_MIN, INT16_MAX = -32768, 32767
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
SHIFT_MIN, SHIFT_MAX = 1, 62

# Fixed-point formats of the integer LayerNorm (numerics.md, "LayerNorm").
LN_INV_BITS = 46
LN_Z_SHIFT = 30
LN_OUT_SHIFT = 24
LN_G_BITS = 8          # G = gamma / s_out * 2**8
LN_E_MAX = 2**56

SOFTMAX_ONE = 32767    # exp LUT value at distance 0
SOFTMAX_RECIP_BITS = 40
SCORE_GRID = 1.0 / 32  # softmax input grid: 255 steps cover ~8 nats

BIAS_MAX = 2**30


# ---------------------------------------------------------------- quantization time (float allowed)

def quantize_multiplier(real: float) -> tuple[int, int]:
    """real ~= M * 2**-S with M in [2**30, 2**31) and S in [1, 62]."""
    if not math.isfinite(real) or real <= 0.0:
        return 0, SHIFT_MIN
    mant, exp = math.frexp(real)          # real = mant * 2**exp, mant in [0.5, 1)
    m = int(round(mant * 2**31))
    if m == 2**31:
        m //= 2
        exp += 1
    s = 31 - exp
    if s > SHIFT_MAX:                     # tiny multiplier: drop precision, keep the shift legal
        m = int(round(m / 2 ** (s - SHIFT_MAX)))
        s = SHIFT_MAX
    if s < SHIFT_MIN:                     # huge multiplier: saturate
        return INT32_MAX, SHIFT_MIN
    return m, s


def quantize_multipliers(reals) -> np.ndarray:
    """Per-channel multipliers as an int32 array [2, n]: row 0 M, row 1 S."""
    ms = [quantize_multiplier(float(r)) for r in np.asarray(reals, dtype=np.float64).ravel()]
    return np.array(ms, dtype=np.int64).T.astype(np.int32).reshape(2, -1)


def scale_of(maxabs: float, qmax: int) -> float:
    return max(float(maxabs), 1e-8) / qmax


def quantize_tensor(x: np.ndarray, scale, qmin=INT8_MIN, qmax=INT8_MAX, dtype=np.int8) -> np.ndarray:
    return np.clip(np.round(np.asarray(x, np.float64) / scale), qmin, qmax).astype(dtype)


def quantize_weight_per_channel(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output row; an all-zero row gets scale 1 (its output is the bias)."""
    w = np.asarray(w, np.float64)
    maxabs = np.abs(w).max(axis=1) if w.shape[1] else np.zeros(w.shape[0])
    scale = np.where(maxabs > 0, maxabs / INT8_MAX, 1.0)
    return quantize_tensor(w, scale[:, None]), scale


def quantize_bias(b: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(b, np.float64) / scale), -BIAS_MAX, BIAS_MAX).astype(np.int32)


def _gelu_tanh(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


# The FFN activations a model may use, by transformers' hidden_act names: the firmware applies
# each as a 256-entry lookup table, so any of them costs the same on the device.
ACTIVATIONS = {
    "gelu": lambda x: 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0))),     # exact (erf)
    "gelu_python": lambda x: 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0))),
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "relu": lambda x: np.maximum(x, 0.0),
}


def activation(name: str):
    if name not in ACTIVATIONS:
        raise ValueError(f"hidden_act {name!r} has no lookup table; supported: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def gelu_lut(s_in: float, s_out: float, act: str = "gelu") -> np.ndarray:
    """The FFN activation's lookup table over the int8 input grid (named for the default GELU)."""
    x = np.arange(-128, 128, dtype=np.float64) * s_in
    return quantize_tensor(activation(act)(x), s_out)


def tanh_lut(s_in: float) -> np.ndarray:
    x = np.arange(-128, 128, dtype=np.float64) * s_in
    return quantize_tensor(np.tanh(x), 1.0 / INT8_MAX)


def softmax_lut(grid: float = SCORE_GRID) -> np.ndarray:
    d = np.arange(256, dtype=np.float64)
    return np.round(SOFTMAX_ONE * np.exp(-d * grid)).astype(np.uint16)


def layernorm_params(gamma, beta, eps: float, s_in: float, s_out: float, hidden: int):
    """G, B (int32 [H]) and E (int64) of the integer LayerNorm."""
    g = np.clip(np.round(np.asarray(gamma, np.float64) / s_out * 2**LN_G_BITS), INT32_MIN, INT32_MAX)
    b = np.clip(np.round(np.asarray(beta, np.float64) / s_out * 2**LN_OUT_SHIFT), INT32_MIN, INT32_MAX)
    e = int(min(max(1, round(eps * hidden * hidden / (s_in * s_in))), LN_E_MAX))
    return g.astype(np.int32), b.astype(np.int32), e


# ---------------------------------------------------------------- integer-only (mirrors the C runtime)

def requant(acc, rq_m, rq_s) -> np.ndarray:
    """(acc * M + 2**(S-1)) >> S with a 64-bit product and an arithmetic shift."""
    acc = np.asarray(acc, np.int64)
    m = np.asarray(rq_m, np.int64)
    s = np.asarray(rq_s, np.int64)
    return (acc * m + np.left_shift(np.int64(1), s - 1)) >> s


def sat(x, lo, hi) -> np.ndarray:
    return np.clip(x, lo, hi)


def requant_s8(acc, m, s) -> np.ndarray:
    return sat(requant(acc, m, s), INT8_MIN, INT8_MAX).astype(np.int8)


def requant_s16(acc, m, s) -> np.ndarray:
    return sat(requant(acc, m, s), INT16_MIN, INT16_MAX).astype(np.int16)


def requant_s32(acc, m, s) -> np.ndarray:
    return sat(requant(acc, m, s), INT32_MIN, INT32_MAX).astype(np.int32)


def linear(x, w, bias, rq) -> np.ndarray:
    """int32 accumulators of x[T, in] . w[out, in]^T + bias (before requantization)."""
    acc = np.asarray(x, np.int64) @ np.asarray(w, np.int64).T
    if bias is not None:
        acc = acc + np.asarray(bias, np.int64)
    return acc


def residual_add(a16, h8, m: int, s: int) -> np.ndarray:
    """sat16(a + sat16(requant(h))), computed in int32."""
    b = requant_s16(h8, m, s).astype(np.int32)
    return sat(a16.astype(np.int32) + b, INT16_MIN, INT16_MAX).astype(np.int16)


def layernorm(x16, g, b, e: int) -> np.ndarray:
    """Integer LayerNorm of int16 rows [T, H] -> int8."""
    x = np.asarray(x16, np.int64)
    h = x.shape[-1]
    total = x.sum(axis=-1, keepdims=True)
    d = h * x - total
    q = (d * d).sum(axis=-1)
    var = q // h + int(e)
    std = np.array([math.isqrt(int(v)) for v in var.ravel()], dtype=np.int64).reshape(var.shape)
    inv = (np.int64(1) << LN_INV_BITS) // std
    n = d * inv[..., None]
    z = (n + (1 << (LN_Z_SHIFT - 1))) >> LN_Z_SHIFT
    y = (z * np.asarray(g, np.int64) + np.asarray(b, np.int64) + (1 << (LN_OUT_SHIFT - 1))) >> LN_OUT_SHIFT
    return sat(y, INT8_MIN, INT8_MAX).astype(np.int8)


def softmax(x16, lut) -> np.ndarray:
    """uint8 probabilities (scale 1/256) of int16 score rows [..., n]."""
    x = np.asarray(x16, np.int64)
    d = np.minimum(x.max(axis=-1, keepdims=True) - x, 255)
    e = np.asarray(lut, np.int64)[d]
    total = e.sum(axis=-1, keepdims=True)
    recip = (np.int64(1) << SOFTMAX_RECIP_BITS) // total
    # E * recip < 2**55: exact in int64, same as the C uint64 path
    p = (e * recip + (np.int64(1) << 31)) >> 32
    return np.minimum(p, 255).astype(np.uint8)


def lut_s8(x8, lut) -> np.ndarray:
    return np.asarray(lut, np.int8)[np.asarray(x8, np.int64) + 128]


def pack_ln(g: np.ndarray, b: np.ndarray, e: int) -> np.ndarray:
    """LayerNorm parameters as int32 [G(H), B(H), E lo, E hi]."""
    return np.concatenate([g.astype(np.int32), b.astype(np.int32),
                           np.array([e & 0xFFFFFFFF, e >> 32], dtype=np.uint32).view(np.int32)])


def unpack_ln(p: np.ndarray):
    h = (len(p) - 2) // 2
    e = int(p[2 * h:].view(np.uint32)[0]) | (int(p[2 * h:].view(np.uint32)[1]) << 32)
    return p[:h], p[h:2 * h], e
