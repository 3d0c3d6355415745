/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Attention context P.V of one head: uint8 probabilities times int8 values. V is stored
 * transposed, so both operands are contiguous along the keys.
 * SIMD path: 2 query rows x 2 channels per step; uint8 probabilities unpack with UXTB16.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

#if MCUBERT_DSP

void mcubert_attn_pv_s8(const struct mcubert_attn_dims *d, const uint8_t *p, int32_t p_stride,
			const int8_t *vt, int32_t mult, int32_t shift, int8_t *ctx)
{
	const int32_t n = d->n_keys, n4 = n >> 2;

	for (int32_t r = 0; r < d->rows; r += 2) {
		const int32_t nr = d->rows - r < 2 ? 1 : 2;
		const uint8_t *p0 = p + r * p_stride;

		for (int32_t c = 0; c < d->head_dim; c += 2) {
			const int32_t nc = d->head_dim - c < 2 ? 1 : 2;
			const int8_t *v0 = vt + c * d->kv_stride;
			const int32_t v_off = nc == 2 ? d->kv_stride : 0;
			int32_t acc[4] = {0, 0, 0, 0};

			if (nr == 2) {
				mcubert_dot_2x2_s8((const int8_t *)p0, p_stride, v0, v_off, 4, n4, acc, 1);
			} else {
				mcubert_dot_1x2_s8((const int8_t *)p0, v0, v_off, 4, n4, acc, 1);
			}
			for (int32_t j = n4 * 4; j < n; j++) {
				acc[0] += p0[j] * v0[j];
				acc[1] += p0[j] * v0[v_off + j];
				if (nr == 2) {
					acc[2] += p0[p_stride + j] * v0[j];
					acc[3] += p0[p_stride + j] * v0[v_off + j];
				}
			}
			for (int32_t i = 0; i < nr; i++) {
				for (int32_t t = 0; t < nc; t++) {
					ctx[(r + i) * d->out_stride + c + t] =
						mcubert_sat8(mcubert_requant32(acc[2 * i + t], mult, shift));
				}
			}
		}
	}
}

#else /* portable C */

void mcubert_attn_pv_s8(const struct mcubert_attn_dims *d, const uint8_t *p, int32_t p_stride,
			const int8_t *vt, int32_t mult, int32_t shift, int8_t *ctx)
{
	for (int32_t r = 0; r < d->rows; r++) {
		const uint8_t *pr = p + r * p_stride;

		for (int32_t c = 0; c < d->head_dim; c++) {
			const int8_t *vc = vt + c * d->kv_stride;
			int32_t acc = 0;

			for (int32_t j = 0; j < d->n_keys; j++) {
				acc += (int32_t)pr[j] * (int32_t)vc[j];
			}
			ctx[r * d->out_stride + c] = mcubert_sat8(mcubert_requant32(acc, mult, shift));
		}
	}
}

#endif
