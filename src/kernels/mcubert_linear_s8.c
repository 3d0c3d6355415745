/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * int8 linear layer, weights read in place (flash). Outputs int8, int16 (residual grid)
 * or int32 (logits); the accumulation is shared.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

MCUBERT_INLINE int32_t dot_s8(const int8_t *x, const int8_t *w, int32_t n)
{
	int32_t acc = 0;

	for (int32_t i = 0; i < n; i++) {
		acc += (int32_t)x[i] * (int32_t)w[i];
	}
	return acc;
}

MCUBERT_INLINE int64_t linear_one(const struct mcubert_linear_dims *d,
				  const struct mcubert_linear_params *p, const int8_t *xr, int32_t o)
{
	int32_t acc = dot_s8(xr, p->w + (int32_t)o * d->in_dim, d->in_dim);

	if (p->bias != 0) {
		acc += p->bias[o];
	}
	return mcubert_requant(acc, p->mult[o], p->shift[o]);
}

void mcubert_linear_s8(const struct mcubert_linear_dims *d, const struct mcubert_linear_params *p,
		       const int8_t *x, int8_t *y)
{
	for (int32_t r = 0; r < d->rows; r++) {
		for (int32_t o = 0; o < d->out_dim; o++) {
			y[r * d->y_stride + o] = mcubert_sat8(linear_one(d, p, x + r * d->x_stride, o));
		}
	}
}

void mcubert_linear_s8_s16(const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, int16_t *y)
{
	for (int32_t r = 0; r < d->rows; r++) {
		for (int32_t o = 0; o < d->out_dim; o++) {
			y[r * d->y_stride + o] = mcubert_sat16(linear_one(d, p, x + r * d->x_stride, o));
		}
	}
}

void mcubert_linear_s8_s32(const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, int32_t *y)
{
	for (int32_t r = 0; r < d->rows; r++) {
		for (int32_t o = 0; o < d->out_dim; o++) {
			y[r * d->y_stride + o] = mcubert_sat32(linear_one(d, p, x + r * d->x_stride, o));
		}
	}
}
