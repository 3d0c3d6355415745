/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Attention scores Q.K^T of one head for a tile of query rows, onto the softmax grid.
 * SIMD path: 2 queries x 2 keys per step (see mcubert_dot_2x2_s8); a missing partner row
 * at an odd edge is computed twice rather than given its own loop.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

#if MCUBERT_DSP

void mcubert_attn_qk_s8(const struct mcubert_attn_dims *d, const int8_t *q, const int8_t *k,
			int32_t mult, int32_t shift, int16_t *scores)
{
	const int32_t dh = d->head_dim, n4 = dh >> 2;

	for (int32_t r = 0; r < d->rows; r += 2) {
		const int32_t nr = d->rows - r < 2 ? 1 : 2;
		const int8_t *q0 = q + r * d->q_stride;

		for (int32_t j = 0; j < d->n_keys; j += 2) {
			const int32_t nk = d->n_keys - j < 2 ? 1 : 2;
			const int8_t *k0 = k + j * d->kv_stride;
			const int32_t k_off = nk == 2 ? d->kv_stride : 0;
			int32_t acc[4] = {0, 0, 0, 0};

			if (nr == 2) {
				mcubert_dot_2x2_s8(q0, d->q_stride, k0, k_off, 4, n4, acc, 0);
			} else {
				mcubert_dot_1x2_s8(q0, k0, k_off, 4, n4, acc, 0);
			}
			for (int32_t c = n4 * 4; c < dh; c++) {
				acc[0] += q0[c] * k0[c];
				acc[1] += q0[c] * k0[k_off + c];
				if (nr == 2) {
					acc[2] += q0[d->q_stride + c] * k0[c];
					acc[3] += q0[d->q_stride + c] * k0[k_off + c];
				}
			}
			for (int32_t i = 0; i < nr; i++) {
				for (int32_t t = 0; t < nk; t++) {
					scores[(r + i) * d->out_stride + j + t] =
						mcubert_sat16(mcubert_requant32(acc[2 * i + t], mult, shift));
				}
			}
		}
	}
}

#else /* portable C */

void mcubert_attn_qk_s8(const struct mcubert_attn_dims *d, const int8_t *q, const int8_t *k,
			int32_t mult, int32_t shift, int16_t *scores)
{
	for (int32_t r = 0; r < d->rows; r++) {
		const int8_t *qr = q + r * d->q_stride;

		for (int32_t j = 0; j < d->n_keys; j++) {
			const int8_t *kj = k + j * d->kv_stride;
			int32_t acc = 0;

			for (int32_t c = 0; c < d->head_dim; c++) {
				acc += (int32_t)qr[c] * (int32_t)kj[c];
			}
			scores[r * d->out_stride + j] = mcubert_sat16(mcubert_requant32(acc, mult, shift));
		}
	}
}

#endif
