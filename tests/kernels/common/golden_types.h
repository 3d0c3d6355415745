/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * One golden case per struct: kernel arguments, inputs and the expected outputs, as
 * python/mcubert/tools/golden.py writes them (golden_vectors.h, generated at build time).
 * Output buffers come as (before, after) pairs so writes outside the outputs show up.
 */
#ifndef MCUBERT_GOLDEN_TYPES_H_
#define MCUBERT_GOLDEN_TYPES_H_

#include <stddef.h>
#include <stdint.h>

#include <mcubert/mcubert_kernels.h>

struct golden_linear {
	const char *name;
	int32_t out_bits; /* 8, 16 or 32: mcubert_linear_s8, _s8_s16, _s8_s32 */
	struct mcubert_linear_dims d;
	const int8_t *x;      /* first row, possibly unaligned */
	const int8_t *w;      /* [out_total][in_dim] in the K8 layout */
	const int32_t *bias;  /* NULL: no bias */
	const int32_t *mult;  /* indexed by absolute channel */
	const int32_t *shift;
	const void *y_init;
	const void *y_expected;
	int32_t y_bytes;
};

struct golden_attn_qk {
	const char *name;
	struct mcubert_attn_dims d;
	const int8_t *q;
	const int8_t *k;
	int32_t mult;
	int32_t shift;
	const int16_t *s_init;
	const int16_t *s_expected;
	int32_t s_bytes;
};

struct golden_attn_pv {
	const char *name;
	struct mcubert_attn_dims d;
	const uint8_t *p;
	int32_t p_stride;
	const int8_t *vt;
	int32_t mult;
	int32_t shift;
	const int8_t *c_init;
	const int8_t *c_expected;
	int32_t c_bytes;
};

struct golden_softmax {
	const char *name;
	int32_t rows;
	int32_t n;
	const int16_t *scores; /* [rows][n] */
	const uint16_t *lut;
	const uint8_t *expected; /* [rows][n] */
};

struct golden_layernorm {
	const char *name;
	int32_t rows;
	int32_t hidden;
	const int16_t *x;       /* [rows][hidden] */
	const int32_t *params;  /* G[H], B[H], E lo, E hi */
	const int8_t *expected; /* [rows][hidden] */
};

struct golden_lut {
	const char *name;
	int32_t n;
	const int8_t *x;
	const int8_t *lut;
	const int8_t *expected;
};

struct golden_residual_add {
	const char *name;
	int32_t n;
	const int16_t *a;
	const int8_t *h;
	int32_t mult;
	int32_t shift;
	const int16_t *expected;
};

struct golden_embedding {
	const char *name;
	struct mcubert_embedding_params p;
	const uint8_t *cluster_of; /* [vocab]: what mcubert_embedding_cluster() must return */
	int32_t n_lookups;
	const uint16_t *tokens;    /* [n_lookups] */
	const uint16_t *positions; /* [n_lookups] */
	const uint8_t *segments;   /* [n_lookups]: 0 (sentence A) or 1 (sentence B of a pair) */
	const int16_t *expected;   /* [n_lookups][hidden] */
};

#endif /* MCUBERT_GOLDEN_TYPES_H_ */
