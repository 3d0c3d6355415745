/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Residual add on the int16 residual grid: the sublayer output (already on the grid)
 * plus the int8 hidden state requantised onto it.
 * SIMD path: h is int8, so requant(h, M, S) = requant(h * 2^24, M, S + 24), which for
 * S + 24 >= 33 is the one-SMMLA form (struct mcubert_rq); two lanes are added with QADD16
 * (sat16(a + b) with b already on int16).
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

void mcubert_residual_add_s8(int16_t *a, const int8_t *h, int32_t n, int32_t mult, int32_t shift)
{
	int32_t i = 0;

#if MCUBERT_DSP
	if (shift + 24 >= 33 && shift <= 62 - 24) {
		struct mcubert_rq q;

		mcubert_rq_prepare(&q, mult, shift + 24);
		for (; i + 2 <= n; i += 2) {
			const int32_t b0 = __ssat(mcubert_rq_apply_fast(&q, (int32_t)((uint32_t)h[i] << 24)), 16);
			const int32_t b1 = __ssat(mcubert_rq_apply_fast(&q, (int32_t)((uint32_t)h[i + 1] << 24)), 16);
			const uint32_t pair = (uint32_t)(uint16_t)b0 | ((uint32_t)b1 << 16);
			const uint32_t s = (uint32_t)__qadd16((int16x2_t)mcubert_rd4(a + i), (int16x2_t)pair);

			memcpy(a + i, &s, sizeof(s));
		}
	}
#endif
	for (; i < n; i++) {
		int32_t b = mcubert_sat16_32(mcubert_requant_s32(h[i], mult, shift));

		a[i] = mcubert_sat16_32((int32_t)a[i] + b);
	}
}
