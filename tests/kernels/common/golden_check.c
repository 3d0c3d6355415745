/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Runs every golden case (golden_vectors.h, from the Python integer reference) through the
 * kernels and compares whole output buffers, including the bytes around the outputs. The
 * SIMD kernels' scratch gets exactly *_buffer_size() bytes, followed by guard words.
 */
#include <string.h>

#include <mcubert/mcubert_kernels.h>

#include "golden_check.h"
#include "golden_vectors.h"

#ifdef __ZEPHYR__
#include <zephyr/ztest.h>
#define GOLDEN_ASSERT(cond, name) zassert_true(cond, "%s: %s", name, #cond)
#define GOLDEN_ASSERT_MEM(a, b, n, name)                                                           \
	zassert_mem_equal(a, b, n, "%s: first difference at byte %d", name,                        \
			  golden_first_diff(a, b, n))
#else
#define GOLDEN_ASSERT(cond, name)                                                                  \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			golden_failed(name, #cond, -1);                                            \
			return;                                                                    \
		}                                                                                  \
	} while (0)
#define GOLDEN_ASSERT_MEM(a, b, n, name)                                                           \
	do {                                                                                       \
		golden_output(name, a, n);                                                         \
		const int at_ = golden_first_diff(a, b, n);                                        \
		if (at_ >= 0) {                                                                    \
			golden_failed(name, "output differs from the reference", at_);             \
			return;                                                                    \
		}                                                                                  \
	} while (0)
#endif

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define TAIL 16 /* bytes after an output that must stay untouched */
#define FILL 0xA5
#define SCRATCH_GUARD_WORDS 8
#define SCRATCH_FILL 0x5AA55AA5

static uint8_t out_buf[GOLDEN_MAX_OUT_BYTES + TAIL] __attribute__((aligned(16)));
static uint8_t aux_buf[GOLDEN_MAX_OUT_BYTES + TAIL] __attribute__((aligned(16)));
static int32_t scratch[GOLDEN_MAX_SCRATCH_BYTES / 4 + SCRATCH_GUARD_WORDS];

int golden_first_diff(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (size_t i = 0; i < n; i++) {
		if (x[i] != y[i]) {
			return (int)i;
		}
	}
	return -1;
}

/* The scratch a kernel asked for; every word is filled so later checks see any overrun. */
static struct mcubert_kernel_ctx scratch_ctx(int32_t bytes)
{
	struct mcubert_kernel_ctx kc = {scratch, bytes};

	for (size_t i = 0; i < COUNT(scratch); i++) {
		scratch[i] = SCRATCH_FILL;
	}
	return kc;
}

static int scratch_fits(int32_t bytes)
{
	return bytes >= 0 && bytes <= GOLDEN_MAX_SCRATCH_BYTES && bytes % 4 == 0;
}

static int scratch_guard_ok(int32_t bytes)
{
	for (size_t i = (size_t)bytes / 4; i < COUNT(scratch); i++) {
		if (scratch[i] != SCRATCH_FILL) {
			return 0;
		}
	}
	return 1;
}

static int tail_ok(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < TAIL; i++) {
		if (buf[len + i] != FILL) {
			return 0;
		}
	}
	return 1;
}

void golden_check_linear(int32_t out_bits)
{
	int ran = 0;

	for (size_t i = 0; i < COUNT(golden_linear_cases); i++) {
		const struct golden_linear *c = &golden_linear_cases[i];
		const struct mcubert_linear_params p = {c->w, c->bias, c->mult, c->shift};
		const int32_t need = mcubert_linear_s8_buffer_size(&c->d);

		if (c->out_bits != out_bits) {
			continue;
		}
		GOLDEN_ASSERT(scratch_fits(need), c->name);
		GOLDEN_ASSERT(c->y_bytes <= GOLDEN_MAX_OUT_BYTES, c->name);
		const struct mcubert_kernel_ctx kc = scratch_ctx(need);

		memcpy(out_buf, c->y_init, (size_t)c->y_bytes);
		if (out_bits == 8) {
			mcubert_linear_s8(&kc, &c->d, &p, c->x, (int8_t *)out_buf);
		} else if (out_bits == 16) {
			mcubert_linear_s8_s16(&kc, &c->d, &p, c->x, (int16_t *)out_buf);
		} else {
			mcubert_linear_s8_s32(&kc, &c->d, &p, c->x, (int32_t *)out_buf);
		}
		GOLDEN_ASSERT(scratch_guard_ok(need), c->name);
		GOLDEN_ASSERT_MEM(out_buf, c->y_expected, (size_t)c->y_bytes, c->name);
		ran++;
	}
	GOLDEN_ASSERT(ran > 0, "linear: no case of this output type");
}

void golden_check_attn_qk(void)
{
	for (size_t i = 0; i < COUNT(golden_attn_qk_cases); i++) {
		const struct golden_attn_qk *c = &golden_attn_qk_cases[i];
		const int32_t need = mcubert_attn_qk_s8_buffer_size(&c->d);

		GOLDEN_ASSERT(scratch_fits(need), c->name);
		GOLDEN_ASSERT(c->s_bytes <= GOLDEN_MAX_OUT_BYTES, c->name);
		const struct mcubert_kernel_ctx kc = scratch_ctx(need);

		memcpy(out_buf, c->s_init, (size_t)c->s_bytes);
		mcubert_attn_qk_s8(&kc, &c->d, c->q, c->k, c->mult, c->shift, (int16_t *)out_buf);
		GOLDEN_ASSERT(scratch_guard_ok(need), c->name);
		GOLDEN_ASSERT_MEM(out_buf, c->s_expected, (size_t)c->s_bytes, c->name);
	}
	GOLDEN_ASSERT(COUNT(golden_attn_qk_cases) > 0, "attn_qk: no cases");
}

void golden_check_attn_pv(void)
{
	for (size_t i = 0; i < COUNT(golden_attn_pv_cases); i++) {
		const struct golden_attn_pv *c = &golden_attn_pv_cases[i];
		const int32_t need = mcubert_attn_pv_s8_buffer_size(&c->d);

		GOLDEN_ASSERT(scratch_fits(need), c->name);
		GOLDEN_ASSERT(c->c_bytes <= GOLDEN_MAX_OUT_BYTES, c->name);
		const struct mcubert_kernel_ctx kc = scratch_ctx(need);

		memcpy(out_buf, c->c_init, (size_t)c->c_bytes);
		mcubert_attn_pv_s8(&kc, &c->d, c->p, c->p_stride, c->vt, c->mult, c->shift,
				   (int8_t *)out_buf);
		GOLDEN_ASSERT(scratch_guard_ok(need), c->name);
		GOLDEN_ASSERT_MEM(out_buf, c->c_expected, (size_t)c->c_bytes, c->name);
	}
	GOLDEN_ASSERT(COUNT(golden_attn_pv_cases) > 0, "attn_pv: no cases");
}

/* in_place: probabilities overwrite their own score row, as mcubert_classify does. */
void golden_check_softmax(int in_place)
{
	for (size_t i = 0; i < COUNT(golden_softmax_cases); i++) {
		const struct golden_softmax *c = &golden_softmax_cases[i];
		const size_t n = (size_t)c->n, in_bytes = (size_t)c->rows * n * sizeof(int16_t);
		int16_t *scores = (int16_t *)out_buf;

		GOLDEN_ASSERT(in_bytes <= GOLDEN_MAX_OUT_BYTES, c->name);
		memset(out_buf, FILL, sizeof(out_buf));
		memset(aux_buf, FILL, sizeof(aux_buf));
		memcpy(scores, c->scores, in_bytes);
		for (int32_t r = 0; r < c->rows; r++) {
			uint8_t *probs = in_place ? (uint8_t *)(scores + r * n) : aux_buf + r * n;

			mcubert_softmax_s8(scores + r * n, c->n, c->lut, probs);
			GOLDEN_ASSERT_MEM(probs, c->expected + r * n, n, c->name);
		}
		GOLDEN_ASSERT(tail_ok(out_buf, in_bytes), c->name);
		GOLDEN_ASSERT(tail_ok(aux_buf, in_place ? 0 : (size_t)c->rows * n), c->name);
	}
	GOLDEN_ASSERT(COUNT(golden_softmax_cases) > 0, "softmax: no cases");
}

void golden_check_layernorm(void)
{
	for (size_t i = 0; i < COUNT(golden_layernorm_cases); i++) {
		const struct golden_layernorm *c = &golden_layernorm_cases[i];
		const size_t h = (size_t)c->hidden, bytes = (size_t)c->rows * h;

		GOLDEN_ASSERT(bytes <= GOLDEN_MAX_OUT_BYTES, c->name);
		memset(out_buf, FILL, sizeof(out_buf));
		for (int32_t r = 0; r < c->rows; r++) {
			mcubert_layernorm_s8(c->x + r * h, c->hidden, c->params, (int8_t *)out_buf + r * h);
		}
		GOLDEN_ASSERT_MEM(out_buf, c->expected, bytes, c->name);
		GOLDEN_ASSERT(tail_ok(out_buf, bytes), c->name);
	}
	GOLDEN_ASSERT(COUNT(golden_layernorm_cases) > 0, "layernorm: no cases");
}

/* in_place: y aliases x, as the FFN applies GELU to its own buffer. */
void golden_check_lut(int in_place)
{
	for (size_t i = 0; i < COUNT(golden_lut_cases); i++) {
		const struct golden_lut *c = &golden_lut_cases[i];
		const size_t n = (size_t)c->n;

		GOLDEN_ASSERT(n <= GOLDEN_MAX_OUT_BYTES, c->name);
		memset(out_buf, FILL, sizeof(out_buf));
		if (in_place) {
			memcpy(out_buf, c->x, n);
			mcubert_lut_s8((const int8_t *)out_buf, c->n, c->lut, (int8_t *)out_buf);
		} else {
			mcubert_lut_s8(c->x, c->n, c->lut, (int8_t *)out_buf);
		}
		GOLDEN_ASSERT_MEM(out_buf, c->expected, n, c->name);
		GOLDEN_ASSERT(tail_ok(out_buf, n), c->name);
	}
	GOLDEN_ASSERT(COUNT(golden_lut_cases) > 0, "lut: no cases");
}

void golden_check_residual_add(void)
{
	for (size_t i = 0; i < COUNT(golden_residual_add_cases); i++) {
		const struct golden_residual_add *c = &golden_residual_add_cases[i];
		const size_t bytes = (size_t)c->n * sizeof(int16_t);

		GOLDEN_ASSERT(bytes <= GOLDEN_MAX_OUT_BYTES, c->name);
		memset(out_buf, FILL, sizeof(out_buf));
		memcpy(out_buf, c->a, bytes);
		mcubert_residual_add_s8((int16_t *)out_buf, c->h, c->n, c->mult, c->shift);
		GOLDEN_ASSERT_MEM(out_buf, c->expected, bytes, c->name);
		GOLDEN_ASSERT(tail_ok(out_buf, bytes), c->name);
	}
	GOLDEN_ASSERT(COUNT(golden_residual_add_cases) > 0, "residual_add: no cases");
}

void golden_check_embedding(void)
{
	for (size_t i = 0; i < COUNT(golden_embedding_cases); i++) {
		const struct golden_embedding *c = &golden_embedding_cases[i];
		const size_t h = (size_t)c->p.hidden;
		const size_t bytes = (size_t)c->n_lookups * h * sizeof(int16_t);
		int16_t *out = (int16_t *)out_buf;

		for (int32_t t = 0; t < c->p.vocab_size; t++) {
			GOLDEN_ASSERT(mcubert_embedding_cluster(&c->p, (uint32_t)t) == c->cluster_of[t],
				      c->name);
		}
		GOLDEN_ASSERT(bytes <= GOLDEN_MAX_OUT_BYTES, c->name);
		memset(out_buf, FILL, sizeof(out_buf));
		for (int32_t j = 0; j < c->n_lookups; j++) {
			mcubert_embedding_s8(&c->p, c->tokens[j], c->positions[j], c->segments[j],
					     out + j * h);
		}
		GOLDEN_ASSERT_MEM(out_buf, c->expected, bytes, c->name);
		GOLDEN_ASSERT(tail_ok(out_buf, bytes), c->name);
	}
	GOLDEN_ASSERT(COUNT(golden_embedding_cases) > 0, "embedding: no cases");
}
