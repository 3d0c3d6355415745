/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Attention context P.V of one head: uint8 probabilities times int8 values.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

void mcubert_attn_pv_s8(const struct mcubert_attn_dims *d, const uint8_t *p, int32_t p_stride,
			const int8_t *v, int32_t mult, int32_t shift, int8_t *ctx)
{
	for (int32_t r = 0; r < d->rows; r++) {
		const uint8_t *pr = p + r * p_stride;

		for (int32_t c = 0; c < d->head_dim; c++) {
			int32_t acc = 0;

			for (int32_t j = 0; j < d->n_keys; j++) {
				acc += (int32_t)pr[j] * (int32_t)v[j * d->kv_stride + c];
			}
			ctx[r * d->out_stride + c] = mcubert_sat8(mcubert_requant(acc, mult, shift));
		}
	}
}
