/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * int8 kernels of the mcubert runtime, one operator per file (src/kernels/), in the
 * CMSIS-NN style: explicit dimension and quantisation structs, caller-owned memory.
 * Numerics: docs/numerics.md. Kernels that need scratch memory take a
 * struct mcubert_kernel_ctx and have a *_buffer_size() function beside them.
 *
 * Each kernel has a portable C path and, where the core has the DSP extension (Cortex-M4,
 * M7, M33, ...), a SIMD path with ACLE intrinsics; both give the same bits. Define
 * MCUBERT_PORTABLE to force the portable path.
 */
#ifndef MCUBERT_MCUBERT_KERNELS_H_
#define MCUBERT_MCUBERT_KERNELS_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Caller-owned scratch, 4-byte aligned, of at least the kernel's *_buffer_size() bytes. */
struct mcubert_kernel_ctx {
	void *buf;
	int32_t size;
};

/*
 * y[r][o] = requant(bias[o] + sum_k x[r][k] * W[o][k]) for the output channels
 * o in [out_first, out_first + out_count), written to y[r * y_stride + (o - out_first) * y_ch_stride]
 * (y_ch_stride 1: row-major; y_ch_stride = rows' capacity: transposed, as V is stored).
 * W is the whole [out_total][in_dim] matrix in MCUBERT_LAYOUT_K8 (src/mcubert_blob.h);
 * bias, mult and shift are indexed by absolute channel. x rows may be unaligned.
 */
struct mcubert_linear_dims {
	int32_t rows;
	int32_t in_dim;
	int32_t out_first;
	int32_t out_count;
	int32_t x_stride;    /* elements between rows of x */
	int32_t y_stride;    /* elements between rows of y */
	int32_t y_ch_stride; /* elements between output channels of y */
};

/* Per-output-channel requantisation: mult[o], shift[o] (numerics.md, "Requantisation"). */
struct mcubert_linear_params {
	const int8_t *w;
	const int32_t *bias; /* may be NULL */
	const int32_t *mult;
	const int32_t *shift;
};

void mcubert_linear_s8(const struct mcubert_kernel_ctx *ctx, const struct mcubert_linear_dims *d,
		       const struct mcubert_linear_params *p, const int8_t *x, int8_t *y);
void mcubert_linear_s8_s16(const struct mcubert_kernel_ctx *ctx,
			   const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, int16_t *y);
void mcubert_linear_s8_s32(const struct mcubert_kernel_ctx *ctx,
			   const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, int32_t *y);
/* Scratch bytes the mcubert_linear_s8* kernels need (SIMD: 4 unpacked rows; portable: 0). */
int32_t mcubert_linear_s8_buffer_size(const struct mcubert_linear_dims *d);

/* Attention: rows queries against n keys of head_dim elements each. */
struct mcubert_attn_dims {
	int32_t rows;
	int32_t n_keys;
	int32_t head_dim;
	int32_t q_stride;
	int32_t kv_stride;
	int32_t out_stride; /* scores: int16 elements; ctx: int8 elements */
};

/* scores[r][j] = sat16(requant(q[r] . k[j], mult, shift)) */
void mcubert_attn_qk_s8(const struct mcubert_kernel_ctx *ctx, const struct mcubert_attn_dims *d,
			const int8_t *q, const int8_t *k, int32_t mult, int32_t shift,
			int16_t *scores);
int32_t mcubert_attn_qk_s8_buffer_size(const struct mcubert_attn_dims *d);

/*
 * ctx[r][c] = sat8(requant(sum_j p[r][j] * vt[c][j], mult, shift)). V is stored transposed
 * (vt rows are kv_stride elements apart) so that both operands run contiguously over j;
 * p rows are p_stride bytes apart.
 */
void mcubert_attn_pv_s8(const struct mcubert_kernel_ctx *ctx, const struct mcubert_attn_dims *d,
			const uint8_t *p, int32_t p_stride, const int8_t *vt, int32_t mult,
			int32_t shift, int8_t *out);
int32_t mcubert_attn_pv_s8_buffer_size(const struct mcubert_attn_dims *d);

/* uint8 probabilities (scale 1/256) of one score row. scores is clobbered; probs may alias it. */
void mcubert_softmax_s8(int16_t *scores, int32_t n, const uint16_t *exp_lut, uint8_t *probs);

/* y[i] = lut[x[i] + 128]; y may alias x. Used for GELU and tanh. */
void mcubert_lut_s8(const int8_t *x, int32_t n, const int8_t *lut, int8_t *y);

/* a[i] = sat16(a[i] + sat16(requant(h[i], mult, shift))), computed in int32. */
void mcubert_residual_add_s8(int16_t *a, const int8_t *h, int32_t n, int32_t mult, int32_t shift);

/* Integer LayerNorm of one int16 row; params = G[H], B[H], E (two int32 words, lo first). */
void mcubert_layernorm_s8(const int16_t *x, int32_t hidden, const int32_t *params, int8_t *y);

/* Clustered low-rank word embedding plus position embedding of one token. */
struct mcubert_embedding_params {
	int32_t vocab_size;
	int32_t hidden;
	int32_t clusters;
	int32_t cluster_bits;         /* 0, 1, 2, 4 or 8 bits per token in cluster_map */
	const uint32_t *cluster_info; /* (n_tokens, rank) per cluster */
	const uint8_t *cluster_map;   /* packed token -> cluster */
	const uint16_t *ckpt;         /* [ceil(vocab/64)][clusters] tokens of a cluster before a block */
	const int8_t *u;              /* per cluster [n_tokens][rank], concatenated */
	const int8_t *vt;             /* per cluster [hidden][rank], concatenated */
	const int32_t *rq;            /* per cluster mult[hidden], shift[hidden] */
	const int8_t *pos;            /* pos_rank 0: [max_positions][hidden]; k: A' [max_positions][k] */
	int32_t pos_mult;             /* pos_rank 0: the table's one requantisation */
	int32_t pos_shift;
	const int16_t *segment;       /* [hidden] segment B minus segment A, on the output grid */
	int32_t pos_rank;             /* 0: dense pos; k > 0: pos = A' . B'^T, k columns */
	const int8_t *pos_vt;         /* pos_rank > 0: B'^T [hidden][k] */
	const int32_t *pos_rq;        /* pos_rank > 0: mult[hidden], shift[hidden] */
};

#define MCUBERT_CKPT_BLOCK 64

/* Cluster of token t. */
uint32_t mcubert_embedding_cluster(const struct mcubert_embedding_params *p, uint32_t token);

/*
 * out[h] = sat16(word[h] + pe[h]), then for segment 1 (the second sentence of a pair)
 * out[h] = sat16(out[h] + segment[h]): the LayerNorm input. pe[h] is
 * sat16(requant(pos[position][h], pos_mult, pos_shift)) for a dense table, or
 * sat16(requant(sum_k A'[position][k] * B'^T[h][k], pos_rq mult[h], shift[h])) for a low-rank
 * one. Segment A is folded into pos (a column of A'), so segment 0 reads no segment table.
 */
void mcubert_embedding_s8(const struct mcubert_embedding_params *p, uint32_t token,
			  uint32_t position, uint32_t segment, int16_t *out);

#ifdef __cplusplus
}
#endif

#endif /* MCUBERT_MCUBERT_KERNELS_H_ */
