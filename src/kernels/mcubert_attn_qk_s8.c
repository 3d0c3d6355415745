/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Attention scores Q.K^T of one head for a tile of query rows, onto the softmax grid.
 * SIMD path: four query rows are unpacked once into the scratch buffer, then 4 queries x 1
 * key per step (mcubert_mac_4x1) over the head_dim rounded down to 8; a short last group
 * repeats its last row, and a head_dim tail is added in plain C (key rows are not padded).
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

#if MCUBERT_DSP

int32_t mcubert_attn_qk_s8_buffer_size(const struct mcubert_attn_dims *d)
{
	return 8 * ((d->head_dim + 7) & ~7);
}

void mcubert_attn_qk_s8(const struct mcubert_kernel_ctx *ctx, const struct mcubert_attn_dims *d,
			const int8_t *q, const int8_t *k, int32_t mult, int32_t shift,
			int16_t *scores)
{
	const int32_t dh = d->head_dim, np = dh >> 3, kvs = d->kv_stride, os = d->out_stride;
	int32_t *qs = (int32_t *)ctx->buf;
	struct mcubert_rq rq;

	mcubert_rq_prepare(&rq, mult, shift);
	for (int32_t r = 0; r < d->rows; r += 4) {
		const int32_t nr = d->rows - r < 4 ? d->rows - r : 4;
		const int8_t *qr[4];

		for (int32_t t = 0; t < 4; t++) {
			qr[t] = q + (r + (t < nr ? t : nr - 1)) * d->q_stride;
		}
		mcubert_unpack_4rows(qr, dh, qs, 0);
		for (int32_t j = 0; j < d->n_keys; j++) {
			const int8_t *kj = k + j * kvs;
			int32_t acc[4] = {0, 0, 0, 0};

			mcubert_mac_4x1(qs, kj, np, acc);
			for (int32_t t = 0; t < nr; t++) {
				for (int32_t c = np * 8; c < dh; c++) {
					acc[t] += qr[t][c] * kj[c];
				}
				scores[(r + t) * os + j] = (int16_t)__ssat(mcubert_rq_apply(&rq, acc[t]), 16);
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
