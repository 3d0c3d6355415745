/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * int8 linear layer, weights read in place (flash) in MCUBERT_LAYOUT_OC2_K4. Outputs int8,
 * int16 (residual grid) or int32 (logits); the accumulation is shared.
 *
 * SIMD path: two rows of x are unpacked once into int16 lanes in the scratch buffer, then
 * every output channel pair costs one LDRD-able weight pair, four SXTB16 and eight SMLADs
 * per block of 4 inputs (16 MACs). The pair's weights are interleaved in 4-byte blocks and
 * zero-padded to a multiple of 4, so one pointer walks both and there is no K tail.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

enum out_kind { OUT_S8, OUT_S16, OUT_S32 };

static inline void store(enum out_kind kind, void *y, int32_t idx, int32_t acc,
			  const struct mcubert_linear_params *p, int32_t o)
{
	const int32_t v = mcubert_requant_s32(acc, p->mult[o], p->shift[o]);

	if (kind == OUT_S8) {
		((int8_t *)y)[idx] = mcubert_sat8_32(v);
	} else if (kind == OUT_S16) {
		((int16_t *)y)[idx] = mcubert_sat16_32(v);
	} else {
		((int32_t *)y)[idx] = v;
	}
}

MCUBERT_INLINE int32_t bias_of(const struct mcubert_linear_params *p, int32_t o)
{
	return p->bias != 0 ? p->bias[o] : 0;
}

#if MCUBERT_DSP

/* Stores up to four requantised values (index -1: none) as the output type. */
MCUBERT_INLINE void store4(enum out_kind kind, void *y, int32_t i0, int32_t i1, int32_t i2,
			   int32_t i3, int32_t v0, int32_t v1, int32_t v2, int32_t v3)
{
	const int32_t idx[4] = {i0, i1, i2, i3}, v[4] = {v0, v1, v2, v3};

	for (int32_t k = 0; k < 4; k++) {
		if (idx[k] < 0) {
			continue;
		}
		if (kind == OUT_S8) {
			((int8_t *)y)[idx[k]] = (int8_t)__ssat(v[k], 8);
		} else if (kind == OUT_S16) {
			((int16_t *)y)[idx[k]] = (int16_t)__ssat(v[k], 16);
		} else {
			((int32_t *)y)[idx[k]] = v[k];
		}
	}
}

int32_t mcubert_linear_s8_buffer_size(const struct mcubert_linear_dims *d)
{
	return 4 * ((d->in_dim + 3) & ~3);
}

/*
 * One copy for the three output types (the store is a runtime switch): keeps .text small.
 * Everything read in the loops is copied to locals first: stores through the int8 output
 * may alias any memory, and would otherwise force reloads of dims and params.
 */
static void linear(const struct mcubert_kernel_ctx *ctx, const struct mcubert_linear_dims *d,
		   const struct mcubert_linear_params *p, const int8_t *x, void *y,
		   enum out_kind kind)
{
	const int32_t K = d->in_dim, kp = (K + 3) & ~3, rows = d->rows, xstr = d->x_stride;
	const int32_t ystr = d->y_stride, ych = d->y_ch_stride;
	const int32_t o0 = d->out_first, o1 = d->out_first + d->out_count;
	const int8_t *const w = p->w;
	const int32_t *const bias = p->bias, *const mult = p->mult, *const shift = p->shift;
	int32_t *const xs = (int32_t *)ctx->buf;

	for (int32_t r = 0; r < rows; r += 2) {
		/* an odd last row is unpacked twice and its copy discarded */
		const int32_t nrows = rows - r < 2 ? 1 : 2;
		const int8_t *x0 = x + r * xstr;
		const int32_t nblk = mcubert_unpack_2rows(x0, x0 + (nrows - 1) * xstr, K, xs, 0);

		for (int32_t q = o0 >> 1; 2 * q < o1; q++) {
			const int32_t oa = 2 * q;
			int32_t acc[4];

			/* a channel outside the range may be padding: its bias is not read */
			acc[0] = (bias != 0 && oa >= o0) ? bias[oa] : 0;
			acc[1] = (bias != 0 && oa + 1 < o1) ? bias[oa + 1] : 0;
			acc[2] = acc[0];
			acc[3] = acc[1];
			mcubert_mac_2x2(xs, w + q * 2 * kp, 4, 8, nblk, acc);
			if (nrows == 2 && oa >= o0 && oa + 1 < o1) {
				/* the common full tile: straight-line, one multiplier load per channel */
				const int32_t ma = mult[oa], mb = mult[oa + 1];
				const int32_t sa = shift[oa], sb = shift[oa + 1];
				const int32_t i0 = r * ystr + (oa - o0) * ych;

				store4(kind, y, i0, i0 + ych, i0 + ystr, i0 + ystr + ych,
				       mcubert_requant_s32(acc[0], ma, sa),
				       mcubert_requant_s32(acc[1], mb, sb),
				       mcubert_requant_s32(acc[2], ma, sa),
				       mcubert_requant_s32(acc[3], mb, sb));
				continue;
			}
			for (int32_t i = 0; i < 2 * nrows; i++) {
				const int32_t o = oa + (i & 1);

				if (o >= o0 && o < o1) {
					const int32_t v = mcubert_requant_s32(acc[i], mult[o], shift[o]);
					const int32_t idx = (r + (i >> 1)) * ystr + (o - o0) * ych;

					store4(kind, y, idx, -1, -1, -1, v, 0, 0, 0);
				}
			}
		}
	}
}

#else /* portable C */

int32_t mcubert_linear_s8_buffer_size(const struct mcubert_linear_dims *d)
{
	(void)d;
	return 0;
}

MCUBERT_INLINE void linear(const struct mcubert_kernel_ctx *ctx,
			   const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, void *y,
			   enum out_kind kind)
{
	const int32_t K = d->in_dim, kp = (K + 3) & ~3;

	(void)ctx;
	for (int32_t r = 0; r < d->rows; r++) {
		const int8_t *xr = x + r * d->x_stride;

		for (int32_t i = 0; i < d->out_count; i++) {
			const int32_t o = d->out_first + i;
			const int8_t *w = p->w + (o >> 1) * 2 * kp + (o & 1) * 4;
			int32_t acc = bias_of(p, o);
			int32_t k = 0;

			for (; k + 4 <= K; k += 4, w += 8) {
				acc += xr[k] * w[0] + xr[k + 1] * w[1] + xr[k + 2] * w[2] +
				       xr[k + 3] * w[3];
			}
			for (int32_t j = 0; k < K; k++, j++) {
				acc += xr[k] * w[j];
			}
			store(kind, y, r * d->y_stride + i * d->y_ch_stride, acc, p, o);
		}
	}
}

#endif

void mcubert_linear_s8(const struct mcubert_kernel_ctx *ctx, const struct mcubert_linear_dims *d,
		       const struct mcubert_linear_params *p, const int8_t *x, int8_t *y)
{
	linear(ctx, d, p, x, y, OUT_S8);
}

void mcubert_linear_s8_s16(const struct mcubert_kernel_ctx *ctx,
			   const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, int16_t *y)
{
	linear(ctx, d, p, x, y, OUT_S16);
}

void mcubert_linear_s8_s32(const struct mcubert_kernel_ctx *ctx,
			   const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, int32_t *y)
{
	linear(ctx, d, p, x, y, OUT_S32);
}
