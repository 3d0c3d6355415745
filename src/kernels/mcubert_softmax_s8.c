/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Softmax of one score row: exp LUT indexed by (row max - x), one reciprocal per row,
 * uint8 probabilities. Pass 2 parks exp values in the score slots so that the uint8
 * output can overwrite the row in place (byte j only covers slots < j once read).
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

void mcubert_softmax_s8(int16_t *scores, int32_t n, const uint16_t *exp_lut, uint8_t *probs)
{
	int32_t mx = scores[0];
	uint32_t sum = 0;

	for (int32_t j = 1; j < n; j++) {
		if (scores[j] > mx) {
			mx = scores[j];
		}
	}
	for (int32_t j = 0; j < n; j++) {
		int32_t dist = mx - scores[j];
		uint16_t e = exp_lut[dist > 255 ? 255 : dist];

		scores[j] = (int16_t)e;
		sum += e;
	}
	const uint64_t recip = ((uint64_t)1 << 40) / sum;

	for (int32_t j = 0; j < n; j++) {
		uint64_t v = ((uint64_t)(uint16_t)scores[j] * recip + ((uint64_t)1 << 31)) >> 32;

		probs[j] = (uint8_t)(v > 255 ? 255 : v);
	}
}
