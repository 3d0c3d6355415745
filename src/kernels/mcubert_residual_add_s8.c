/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Residual add on the int16 residual grid: the sublayer output (already on the grid)
 * plus the int8 hidden state requantised onto it.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

void mcubert_residual_add_s8(int16_t *a, const int8_t *h, int32_t n, int32_t mult, int32_t shift)
{
	for (int32_t i = 0; i < n; i++) {
		int32_t b = mcubert_sat16_32(mcubert_requant_s32(h[i], mult, shift));

		a[i] = mcubert_sat16_32((int32_t)a[i] + b);
	}
}
