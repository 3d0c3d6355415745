/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Integer LayerNorm (numerics.md): exact mean via d = H*x - sum, integer variance,
 * integer square root and one reciprocal per row.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

#define LN_INV_BITS 46
#define LN_Z_SHIFT 30
#define LN_OUT_SHIFT 24

void mcubert_layernorm_s8(const int16_t *x, int32_t hidden, const int32_t *params, int8_t *y)
{
	const int32_t *g = params;
	const int32_t *b = params + hidden;
	const uint64_t e = (uint64_t)(uint32_t)params[2 * hidden] |
			   ((uint64_t)(uint32_t)params[2 * hidden + 1] << 32);
	int32_t sum = 0;
	uint64_t q = 0;

	for (int32_t i = 0; i < hidden; i++) {
		sum += x[i];
	}
	for (int32_t i = 0; i < hidden; i++) {
		int64_t d = (int64_t)hidden * x[i] - sum;

		q += (uint64_t)(d * d);
	}
	const uint64_t var = q / (uint64_t)hidden + e;
	const int64_t inv = (int64_t)(((uint64_t)1 << LN_INV_BITS) / mcubert_isqrt64(var));

	for (int32_t i = 0; i < hidden; i++) {
		int64_t d = (int64_t)hidden * x[i] - sum;
		int64_t z = (d * inv + ((int64_t)1 << (LN_Z_SHIFT - 1))) >> LN_Z_SHIFT;
		int64_t v = (z * g[i] + b[i] + ((int64_t)1 << (LN_OUT_SHIFT - 1))) >> LN_OUT_SHIFT;

		y[i] = mcubert_sat8(v);
	}
}
