/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * int8 linear layer, weights read in place (flash) in MCUBERT_LAYOUT_OC2_K4. Outputs int8,
 * int16 (residual grid) or int32 (logits); the accumulation is shared.
 *
 * SIMD path: 2 rows x 2 output channels per step, so every unpacked activation word and
 * every unpacked weight word feeds two SMLADs (1.25 instructions per MAC in the loop). The
 * channel pair's weights are interleaved in 4-byte blocks, so one pointer walks both.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

enum out_kind { OUT_S8, OUT_S16, OUT_S32 };

MCUBERT_INLINE void store(enum out_kind kind, void *y, int32_t idx, int32_t acc,
			  const struct mcubert_linear_params *p, int32_t o)
{
	const int64_t v = mcubert_requant32(acc, p->mult[o], p->shift[o]);

	if (kind == OUT_S8) {
		((int8_t *)y)[idx] = mcubert_sat8(v);
	} else if (kind == OUT_S16) {
		((int16_t *)y)[idx] = mcubert_sat16(v);
	} else {
		((int32_t *)y)[idx] = mcubert_sat32(v);
	}
}

MCUBERT_INLINE int32_t bias_of(const struct mcubert_linear_params *p, int32_t o)
{
	return p->bias != 0 ? p->bias[o] : 0;
}

#if MCUBERT_DSP

/*
 * Accumulators of channels 2q, 2q+1 for `nrows` (1 or 2) rows from x: acc[2 * row + lane].
 * Shared by the three output types (not inlined) to keep the code small.
 */
static void pair_acc(const struct mcubert_linear_dims *d, const struct mcubert_linear_params *p,
		     const int8_t *x, int32_t q, int32_t nrows, int32_t acc[4])
{
	const int32_t K = d->in_dim, n4 = K >> 2, kp = (K + 3) & ~3;
	const int32_t oa = 2 * q, ob = oa + 1;
	const int8_t *w = p->w + q * 2 * kp;

	/* a channel outside the range may be padding: its bias is not read */
	acc[0] = oa >= d->out_first ? bias_of(p, oa) : 0;
	acc[1] = ob < d->out_first + d->out_count ? bias_of(p, ob) : 0;
	acc[2] = acc[0];
	acc[3] = acc[1];
	if (nrows == 2) {
		mcubert_dot_2x2_s8(x, d->x_stride, w, 4, 8, n4, acc, 0);
	} else {
		mcubert_dot_1x2_s8(x, w, 4, 8, n4, acc, 0);
	}
	/* K tail: the weights' last block is zero-padded, the activations are not */
	const int8_t *wt = w + n4 * 8;

	for (int32_t k = n4 * 4, j = 0; k < K; k++, j++) {
		acc[0] += x[k] * wt[j];
		acc[1] += x[k] * wt[4 + j];
		if (nrows == 2) {
			acc[2] += x[d->x_stride + k] * wt[j];
			acc[3] += x[d->x_stride + k] * wt[4 + j];
		}
	}
}

MCUBERT_INLINE void linear(const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, void *y,
			   enum out_kind kind)
{
	const int32_t o0 = d->out_first, o1 = d->out_first + d->out_count;

	for (int32_t r = 0; r < d->rows; r += 2) {
		const int32_t nrows = d->rows - r < 2 ? 1 : 2;

		for (int32_t q = o0 >> 1; 2 * q < o1; q++) {
			int32_t acc[4];

			pair_acc(d, p, x + r * d->x_stride, q, nrows, acc);
			for (int32_t i = 0; i < 2 * nrows; i++) {
				const int32_t o = 2 * q + (i & 1);

				if (o >= o0 && o < o1) {
					store(kind, y, (r + (i >> 1)) * d->y_stride + (o - o0) * d->y_ch_stride,
					      acc[i], p, o);
				}
			}
		}
	}
}

#else /* portable C */

MCUBERT_INLINE void linear(const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, void *y,
			   enum out_kind kind)
{
	const int32_t K = d->in_dim, kp = (K + 3) & ~3;

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

void mcubert_linear_s8(const struct mcubert_linear_dims *d, const struct mcubert_linear_params *p,
		       const int8_t *x, int8_t *y)
{
	linear(d, p, x, y, OUT_S8);
}

void mcubert_linear_s8_s16(const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, int16_t *y)
{
	linear(d, p, x, y, OUT_S16);
}

void mcubert_linear_s8_s32(const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, int32_t *y)
{
	linear(d, p, x, y, OUT_S32);
}
