/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Softmax of one score row: exp LUT indexed by (row max - x), one reciprocal per row,
 * uint8 probabilities. Pass 2 parks exp values in the score slots so that the uint8
 * output can overwrite the row in place (byte j only covers slots < j once read).
 * SIMD path: the row max two lanes at a time (SSUB16 sets GE, SEL keeps the larger).
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

#if MCUBERT_DSP

static int32_t row_max(const int16_t *s, int32_t n)
{
	int32_t j = 0, mx = s[0];

	if (n >= 2) {
		uint32_t m2 = mcubert_rd4(s);

		for (j = 2; j + 2 <= n; j += 2) {
			const uint32_t w = mcubert_rd4(s + j);

			(void)__ssub16((int32_t)w, (int32_t)m2);
			m2 = __sel(w, m2);
		}
		const int32_t lo = (int16_t)(m2 & 0xFFFFu), hi = (int16_t)(m2 >> 16);

		mx = lo > hi ? lo : hi;
	}
	for (; j < n; j++) {
		mx = s[j] > mx ? s[j] : mx;
	}
	return mx;
}

#else /* portable C */

static int32_t row_max(const int16_t *s, int32_t n)
{
	int32_t mx = s[0];

	for (int32_t j = 1; j < n; j++) {
		if (s[j] > mx) {
			mx = s[j];
		}
	}
	return mx;
}

#endif

void mcubert_softmax_s8(int16_t *scores, int32_t n, const uint16_t *exp_lut, uint8_t *probs)
{
	const int32_t mx = row_max(scores, n);
	uint32_t sum = 0;

	for (int32_t j = 0; j < n; j++) {
		const int32_t dist = mx - scores[j];
		const uint16_t e = exp_lut[dist > 255 ? 255 : dist];

		scores[j] = (int16_t)e;
		sum += e;
	}
	const uint64_t recip = ((uint64_t)1 << 40) / sum;

	if (recip <= 0xFFFFFFFFu) {
		/* the usual case (sum > 256): a 32x32->64 multiply instead of 64x64 */
		const uint32_t r32 = (uint32_t)recip;

		for (int32_t j = 0; j < n; j++) {
			const uint32_t v =
				(uint32_t)(((uint64_t)(uint16_t)scores[j] * r32 + 0x80000000u) >> 32);

			probs[j] = (uint8_t)(v > 255 ? 255 : v);
		}
		return;
	}
	for (int32_t j = 0; j < n; j++) {
		uint64_t v = ((uint64_t)(uint16_t)scores[j] * recip + ((uint64_t)1 << 31)) >> 32;

		probs[j] = (uint8_t)(v > 255 ? 255 : v);
	}
}
