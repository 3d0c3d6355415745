/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Attention context P.V of one head: uint8 probabilities times int8 values. V is stored
 * transposed, so both operands are contiguous along the keys.
 * SIMD path: two probability rows are unpacked (UXTB16) once into the scratch buffer, then
 * 2 rows x 2 channels per step (mcubert_mac_2x2). Odd edges are paired with themselves.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

#if MCUBERT_DSP

int32_t mcubert_attn_pv_s8_buffer_size(const struct mcubert_attn_dims *d)
{
	return 4 * ((d->n_keys + 3) & ~3);
}

void mcubert_attn_pv_s8(const struct mcubert_kernel_ctx *ctx, const struct mcubert_attn_dims *d,
			const uint8_t *p, int32_t p_stride, const int8_t *vt, int32_t mult,
			int32_t shift, int8_t *out)
{
	const int32_t n = d->n_keys, n4 = n >> 2;
	int32_t *ps = (int32_t *)ctx->buf;

	for (int32_t r = 0; r < d->rows; r += 2) {
		const int32_t nr = d->rows - r < 2 ? 1 : 2;
		const uint8_t *p0 = p + r * p_stride, *p1 = p0 + (nr - 1) * p_stride;

		mcubert_unpack_2rows((const int8_t *)p0, (const int8_t *)p1, n, ps, 1);
		for (int32_t c = 0; c < d->head_dim; c += 2) {
			const int32_t nc = d->head_dim - c < 2 ? 1 : 2;
			const int8_t *v0 = vt + c * d->kv_stride;
			const int32_t v_off = (nc - 1) * d->kv_stride;
			int32_t acc[4] = {0, 0, 0, 0};

			mcubert_mac_2x2(ps, v0, v_off, 4, n4, acc);
			for (int32_t j = n4 * 4; j < n; j++) {
				acc[0] += p0[j] * v0[j];
				acc[1] += p0[j] * v0[v_off + j];
				acc[2] += p1[j] * v0[j];
				acc[3] += p1[j] * v0[v_off + j];
			}
			for (int32_t i = 0; i < nr; i++) {
				for (int32_t t = 0; t < nc; t++) {
					out[(r + i) * d->out_stride + c + t] =
						mcubert_sat8_32(mcubert_requant_s32(acc[2 * i + t], mult, shift));
				}
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
