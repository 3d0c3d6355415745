/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Attention scores Q.K^T of one head for a tile of query rows, onto the softmax grid.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

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
			scores[r * d->out_stride + j] = mcubert_sat16(mcubert_requant(acc, mult, shift));
		}
	}
}
