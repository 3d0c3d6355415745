/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Attention context P.V of one head: uint8 probabilities times int8 values. V is stored
 * transposed, so both operands are contiguous along the keys.
 * SIMD path: four probability rows are unpacked (UXTB16) once into the scratch buffer, then
 * 4 rows x 1 channel per step (mcubert_mac_4x1) over the keys rounded down to 8; a short
 * last group repeats its last row, and a key tail is added in plain C.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

#if MCUBERT_DSP

int32_t mcubert_attn_pv_s8_buffer_size(const struct mcubert_attn_dims *d)
{
	return 8 * ((d->n_keys + 7) & ~7);
}

void mcubert_attn_pv_s8(const struct mcubert_kernel_ctx *ctx, const struct mcubert_attn_dims *d,
			const uint8_t *p, int32_t p_stride, const int8_t *vt, int32_t mult,
			int32_t shift, int8_t *out)
{
	const int32_t n = d->n_keys, np = n >> 3, kvs = d->kv_stride, os = d->out_stride;
	int32_t *ps = (int32_t *)ctx->buf;
	struct mcubert_rq rq;

	mcubert_rq_prepare(&rq, mult, shift);
	for (int32_t r = 0; r < d->rows; r += 4) {
		const int32_t nr = d->rows - r < 4 ? d->rows - r : 4;
		const int8_t *pr[4];

		for (int32_t t = 0; t < 4; t++) {
			pr[t] = (const int8_t *)(p + (r + (t < nr ? t : nr - 1)) * p_stride);
		}
		mcubert_unpack_4rows(pr, n, ps, 1);
		for (int32_t c = 0; c < d->head_dim; c++) {
			const int8_t *vc = vt + c * kvs;
			int32_t acc[4] = {0, 0, 0, 0};

			mcubert_mac_4x1(ps, vc, np, acc);
			for (int32_t t = 0; t < nr; t++) {
				for (int32_t j = np * 8; j < n; j++) {
					acc[t] += (uint8_t)pr[t][j] * vc[j];
				}
				out[(r + t) * os + c] = (int8_t)__ssat(mcubert_rq_apply(&rq, acc[t]), 8);
			}
		}
	}
}

#else /* portable C */

int32_t mcubert_attn_pv_s8_buffer_size(const struct mcubert_attn_dims *d)
{
	(void)d;
	return 0;
}

void mcubert_attn_pv_s8(const struct mcubert_kernel_ctx *ctx, const struct mcubert_attn_dims *d,
			const uint8_t *p, int32_t p_stride, const int8_t *vt, int32_t mult,
			int32_t shift, int8_t *out)
{
	(void)ctx;
	for (int32_t r = 0; r < d->rows; r++) {
		const uint8_t *pr = p + r * p_stride;

		for (int32_t c = 0; c < d->head_dim; c++) {
			const int8_t *vc = vt + c * d->kv_stride;
			int32_t acc = 0;

			for (int32_t j = 0; j < d->n_keys; j++) {
				acc += (int32_t)pr[j] * (int32_t)vc[j];
			}
			out[r * d->out_stride + c] = mcubert_sat8_32(mcubert_requant_s32(acc, mult, shift));
		}
	}
}

#endif
