/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Integer LayerNorm (numerics.md): exact mean via d = H*x - sum, integer variance,
 * integer square root and one reciprocal per row.
 * The variance sum q = sum_i (H*x_i - S)^2 equals H^2*S2 - H*S^2 with S2 = sum x_i^2, exactly;
 * the SIMD path gets S and S2 two lanes at a time (SMLAD, SMLALD). |q| < 2^61 for H <= 1024.
 * The SIMD path also normalises with one SMMULR per element when the reciprocal allows it.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

#define LN_INV_BITS 46
#define LN_Z_SHIFT 30
#define LN_OUT_SHIFT 24

/* a single-precision FPU seeds the row's square root and reciprocal (exact fix-ups follow) */
#if !defined(MCUBERT_LN_FPU_SEED)
#if defined(__ARM_FP) && (__ARM_FP & 4)
#define MCUBERT_LN_FPU_SEED 1
#else
#define MCUBERT_LN_FPU_SEED 0
#endif
#endif

/*
 * inv = floor(2^46 / floor(sqrt(var))), var >= 1. With the FPU and var < 2^46 (r < 2^23):
 * sqrtf is within 2 of r, and the +-1 steps make it exact; for r >= 2^16 the float quotient
 * q0 is within 65 of 2^46 / r, so rem = 2^46 - q0 r has |rem| < 2^31 (its low word, as
 * 2^46 = 0 mod 2^32) and q0 + floor(rem / r) is the exact quotient; for r < 2^16 two 32-bit
 * divisions of 2^30 and (2^30 mod r) 2^16 give it. Otherwise the 64-bit integer path.
 */
static int64_t ln_inv(uint64_t var)
{
#if MCUBERT_LN_FPU_SEED
	if (var < ((uint64_t)1 << 46)) {
		const float f = (float)(uint32_t)(var >> 32) * 4294967296.0f + (float)(uint32_t)var;
		/* the builtin: -ffreestanding (Zephyr) would make sqrtf a soft libm call */
		uint32_t r = (uint32_t)__builtin_sqrtf(f);

		while ((uint64_t)r * r > var) {
			r--;
		}
		while ((uint64_t)(r + 1u) * (r + 1u) <= var) {
			r++;
		}
		if (r < (1u << 16)) {
			const uint32_t t = (1u << 30) / r;

			return ((int64_t)t << 16) + (int64_t)((((1u << 30) - t * r) << 16) / r);
		}
		const uint32_t q0 = (uint32_t)(70368744177664.0f / (float)r);
		const int32_t rem = -(int32_t)(q0 * r);
		int32_t t = rem / (int32_t)r;

		if (t * (int32_t)r > rem) {
			t--;
		}
		return (int64_t)q0 + t;
	}
#endif
	return (int64_t)(((uint64_t)1 << LN_INV_BITS) / mcubert_isqrt64(var));
}

#if MCUBERT_DSP

static uint64_t row_stats(const int16_t *x, int32_t hidden, int32_t *sum_out)
{
	int32_t sum = 0, i = 0;
	int64_t s2 = 0;

	for (; i + 4 <= hidden; i += 4) {
		const int32_t w0 = (int32_t)mcubert_rd4(x + i), w1 = (int32_t)mcubert_rd4(x + i + 2);

		sum = __smlad(w0, 0x00010001, sum);
		s2 = __smlald(w0, w0, s2);
		sum = __smlad(w1, 0x00010001, sum);
		s2 = __smlald(w1, w1, s2);
	}
	for (; i + 2 <= hidden; i += 2) {
		const int32_t w = (int32_t)mcubert_rd4(x + i);

		sum = __smlad(w, 0x00010001, sum);
		s2 = __smlald(w, w, s2);
	}
	for (; i < hidden; i++) {
		sum += x[i];
		s2 += (int32_t)x[i] * x[i];
	}
	*sum_out = sum;
	return (uint64_t)((int64_t)hidden * hidden * s2 - (int64_t)hidden * sum * sum);
}

#else /* portable C */

static uint64_t row_stats(const int16_t *x, int32_t hidden, int32_t *sum_out)
{
	int32_t sum = 0;
	uint64_t q = 0;

	for (int32_t i = 0; i < hidden; i++) {
		sum += x[i];
	}
	for (int32_t i = 0; i < hidden; i++) {
		int64_t d = (int64_t)hidden * x[i] - sum;

		q += (uint64_t)(d * d);
	}
	*sum_out = sum;
	return q;
}

#endif

void mcubert_layernorm_s8(const int16_t *x, int32_t hidden, const int32_t *params, int8_t *y)
{
	const int32_t *g = params;
	const int32_t *b = params + hidden;
	const uint64_t e = (uint64_t)(uint32_t)params[2 * hidden] |
			   ((uint64_t)(uint32_t)params[2 * hidden + 1] << 32);
	int32_t sum;
	const uint64_t q = row_stats(x, hidden, &sum);
	/* a power-of-two hidden size divides by a shift (the same quotient) */
	const uint64_t var = ((hidden & (hidden - 1)) == 0 ? q >> mcubert_log2(hidden)
							    : q / (uint64_t)hidden) + e;
	const int64_t inv = ln_inv(var);
	int32_t i = 0;

#if MCUBERT_DSP
	/*
	 * |d| = |H x - S| < 2^26 and |z| <= 2^23 (|d| <= sqrt(H var)), so v fits 32 bits and
	 * v = (z * g + b + 2^23) >> 24 is one SMLAL and a 64-bit shift. For inv < 2^29,
	 * z = (d * inv + 2^29) >> 30 = (d * 4inv + 2^31) >> 32 is one SMMULR; for inv < 2^31 a
	 * 32 x 32-bit product.
	 */
	if (inv < ((int64_t)1 << 29)) {
		/* (-d) * (-4inv): S - H x is one MLS */
		const int32_t ninv4 = -((int32_t)inv << 2);

		for (; i < hidden; i++) {
			const int32_t z = mcubert_smmulr(sum - hidden * x[i], ninv4);
			const int64_t v = (int64_t)b[i] + (1 << (LN_OUT_SHIFT - 1)) + (int64_t)z * g[i];

			y[i] = (int8_t)__ssat((int32_t)(v >> LN_OUT_SHIFT), 8);
		}
	} else if (inv <= INT32_MAX) {
		for (; i < hidden; i++) {
			const int64_t dz = (int64_t)(hidden * x[i] - sum) * (int32_t)inv;
			const int32_t z = (int32_t)((dz + (1 << (LN_Z_SHIFT - 1))) >> LN_Z_SHIFT);
			const int64_t v = (int64_t)b[i] + (1 << (LN_OUT_SHIFT - 1)) + (int64_t)z * g[i];

			y[i] = (int8_t)__ssat((int32_t)(v >> LN_OUT_SHIFT), 8);
		}
	}
#endif
	for (; i < hidden; i++) {
		int64_t d = (int64_t)hidden * x[i] - sum;
		int64_t z = (d * inv + ((int64_t)1 << (LN_Z_SHIFT - 1))) >> LN_Z_SHIFT;
		int64_t v = (z * g[i] + b[i] + ((int64_t)1 << (LN_OUT_SHIFT - 1))) >> LN_OUT_SHIFT;

		y[i] = mcubert_sat8(v);
	}
}
