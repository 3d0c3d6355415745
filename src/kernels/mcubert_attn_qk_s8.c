/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Attention scores Q.K^T of one head for a tile of query rows, onto the softmax grid.
 * SIMD path: two query rows are unpacked once into the scratch buffer, then 2 queries x 2
 * keys per step (mcubert_mac_2x2). An odd last row or key is paired with itself.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

#if MCUBERT_DSP

int32_t mcubert_attn_qk_s8_buffer_size(const struct mcubert_attn_dims *d)
{
	return 4 * ((d->head_dim + 3) & ~3);
}

void mcubert_attn_qk_s8(const struct mcubert_kernel_ctx *ctx, const struct mcubert_attn_dims *d,
			const int8_t *q, const int8_t *k, int32_t mult, int32_t shift,
			int16_t *scores)
{
	const int32_t dh = d->head_dim, n4 = dh >> 2;
	int32_t *qs = (int32_t *)ctx->buf;

	for (int32_t r = 0; r < d->rows; r += 2) {
		const int32_t nr = d->rows - r < 2 ? 1 : 2;
		const int8_t *q0 = q + r * d->q_stride, *q1 = q0 + (nr - 1) * d->q_stride;

		mcubert_unpack_2rows(q0, q1, dh, qs, 0);
		for (int32_t j = 0; j < d->n_keys; j += 2) {
			const int32_t nk = d->n_keys - j < 2 ? 1 : 2;
			const int8_t *k0 = k + j * d->kv_stride;
			const int32_t k_off = (nk - 1) * d->kv_stride;
			int32_t acc[4] = {0, 0, 0, 0};

			mcubert_mac_2x2(qs, k0, k_off, 4, n4, acc);
			/* head_dim tail: the key rows are not padded */
			for (int32_t c = n4 * 4; c < dh; c++) {
				acc[0] += q0[c] * k0[c];
				acc[1] += q0[c] * k0[k_off + c];
				acc[2] += q1[c] * k0[c];
				acc[3] += q1[c] * k0[k_off + c];
			}
			for (int32_t i = 0; i < nr; i++) {
				for (int32_t t = 0; t < nk; t++) {
					scores[(r + i) * d->out_stride + j + t] =
						mcubert_sat16_32(mcubert_requant_s32(acc[2 * i + t], mult, shift));
				}
			}
		}
	}
}

#else /* portable C */

int32_t mcubert_attn_qk_s8_buffer_size(const struct mcubert_attn_dims *d)
{
	(void)d;
	return 0;
}

void mcubert_attn_qk_s8(const struct mcubert_kernel_ctx *ctx, const struct mcubert_attn_dims *d,
			const int8_t *q, const int8_t *k, int32_t mult, int32_t shift,
			int16_t *scores)
{
	(void)ctx;
	for (int32_t r = 0; r < d->rows; r++) {
		const int8_t *qr = q + r * d->q_stride;

		for (int32_t j = 0; j < d->n_keys; j++) {
			const int8_t *kj = k + j * d->kv_stride;
			int32_t acc = 0;

			for (int32_t c = 0; c < d->head_dim; c++) {
				acc += (int32_t)qr[c] * (int32_t)kj[c];
			}
			scores[r * d->out_stride + j] = mcubert_sat16_32(mcubert_requant_s32(acc, mult, shift));
		}
	}
}

#endif
