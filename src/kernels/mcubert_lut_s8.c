/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * 256-entry int8 lookup table (GELU, tanh).
 */
#include "mcubert/mcubert_kernels.h"

void mcubert_lut_s8(const int8_t *x, int32_t n, const int8_t *lut, int8_t *y)
{
	for (int32_t i = 0; i < n; i++) {
		y[i] = lut[(int32_t)x[i] + 128];
	}
}
