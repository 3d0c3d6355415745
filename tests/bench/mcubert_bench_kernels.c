/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Per-kernel instruction counts on an emulated core (QEMU -icount shift=0, see
 * tests/runner/mcubert_icount.h). Shapes are those of bert-tiny and bert-mini at L=128 under
 * the fine schedule. One line per kernel on stdout:
 *   kernel=<name> shape=<text> macs=<dense MACs or 0> elems=<elements> insns=<count>
 * Built twice (SIMD and MCUBERT_PORTABLE) by the benchmark; python/mcubert/tools/bench.py parses it.
 */
#include <stdio.h>
#include <string.h>

#include "mcubert/mcubert_kernels.h"
#include "../runner/mcubert_icount.h"

#define MAX_W (1024 * 256)
#define MAX_X (128 * 1024)
#define EMB_VOCAB 4096
#define EMB_RANK 64
#define HID 128

static int8_t w_buf[MAX_W] __attribute__((aligned(16)));
static int8_t x_buf[MAX_X] __attribute__((aligned(16)));
static int8_t y_buf[4 * MAX_X] __attribute__((aligned(16)));
static int32_t bias[1024], rq[2048];
static uint16_t exp_lut[256];
static int8_t gelu_lut[256];
static int32_t ln_params[2 * 256 + 2];
static int8_t emb_u[EMB_VOCAB * EMB_RANK];
static int8_t emb_vt[HID * EMB_RANK];
static int8_t emb_pos[512 * HID];
static int32_t emb_rq[2 * HID];
static uint16_t emb_ckpt[EMB_VOCAB / 64];
static uint32_t emb_info[2] = {EMB_VOCAB, EMB_RANK};

static int32_t scratch[1024];
static const struct mcubert_kernel_ctx kc = {scratch, sizeof(scratch)};
static uint32_t rng = 0x12345678u;

static int8_t rnd8(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return (int8_t)(rng >> 24);
}

static void fill(int8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = rnd8();
	}
}

static void report(const char *name, const char *shape, uint64_t macs, uint64_t elems,
		   uint64_t insns)
{
	printf("kernel=%s shape=%s macs=%llu elems=%llu insns=%llu\n", name, shape,
	       (unsigned long long)macs, (unsigned long long)elems, (unsigned long long)insns);
}

static void bench_linear(const char *shape, int32_t rows, int32_t in, int32_t out, int s16)
{
	const struct mcubert_linear_dims d = {rows, in, 0, out, in, out, 1};
	const struct mcubert_linear_params p = {w_buf, bias, rq, rq + out};

	for (int32_t o = 0; o < out; o++) {
		bias[o] = (int32_t)rnd8() * 64;
		rq[o] = 1 << 30;
		rq[out + o] = 40;
	}
	const uint64_t t0 = mcubert_icount_now();

	if (s16) {
		mcubert_linear_s8_s16(&kc, &d, &p, x_buf, (int16_t *)y_buf);
	} else {
		mcubert_linear_s8(&kc, &d, &p, x_buf, y_buf);
	}
	const uint64_t t1 = mcubert_icount_now();

	report(s16 ? "linear_s8_s16" : "linear_s8", shape, (uint64_t)rows * in * out,
	       (uint64_t)rows * out, t1 - t0);
}

static void bench_attention(const char *shape, int32_t rows, int32_t n, int32_t dh, int32_t H)
{
	struct mcubert_attn_dims d = {rows, n, dh, H, H, n};
	int16_t *scores = (int16_t *)y_buf;
	int8_t *q = x_buf, *k = x_buf + 8 * H, *vt = w_buf;
	uint64_t t0 = mcubert_icount_now();

	mcubert_attn_qk_s8(&kc, &d, q, k, 1 << 30, 40, scores);
	uint64_t t1 = mcubert_icount_now();

	report("attn_qk_s8", shape, (uint64_t)rows * n * dh, (uint64_t)rows * n, t1 - t0);
	t0 = mcubert_icount_now();
	for (int32_t r = 0; r < rows; r++) {
		mcubert_softmax_s8(scores + r * n, n, exp_lut, (uint8_t *)(scores + r * n));
	}
	t1 = mcubert_icount_now();
	report("softmax_s8", shape, 0, (uint64_t)rows * n, t1 - t0);
	d.kv_stride = n;
	d.out_stride = H;
	t0 = mcubert_icount_now();
	mcubert_attn_pv_s8(&kc, &d, (const uint8_t *)scores, 2 * n, vt, 1 << 30, 36, x_buf + 64 * 1024);
	t1 = mcubert_icount_now();
	report("attn_pv_s8", shape, (uint64_t)rows * n * dh, (uint64_t)rows * dh, t1 - t0);
}

static void bench_rows(const char *shape, int32_t rows, int32_t H)
{
	int16_t *res = (int16_t *)y_buf;

	for (int32_t i = 0; i < rows * H; i++) {
		res[i] = (int16_t)(rnd8() * 37);
	}
	uint64_t t0 = mcubert_icount_now();

	mcubert_residual_add_s8(res, x_buf, rows * H, 1 << 30, 32);
	uint64_t t1 = mcubert_icount_now();

	report("residual_add_s8", shape, 0, (uint64_t)rows * H, t1 - t0);
	for (int32_t i = 0; i < H; i++) {
		ln_params[i] = 1 << 22;
		ln_params[H + i] = 0;
	}
	ln_params[2 * H] = 1 << 20;
	ln_params[2 * H + 1] = 0;
	t0 = mcubert_icount_now();
	for (int32_t r = 0; r < rows; r++) {
		mcubert_layernorm_s8(res + r * H, H, ln_params, x_buf + r * H);
	}
	t1 = mcubert_icount_now();
	report("layernorm_s8", shape, 0, (uint64_t)rows * H, t1 - t0);
	t0 = mcubert_icount_now();
	mcubert_lut_s8(x_buf, rows * H, gelu_lut, x_buf);
	t1 = mcubert_icount_now();
	report("lut_s8", shape, 0, (uint64_t)rows * H, t1 - t0);
}

static void bench_embedding(int32_t tokens)
{
	const struct mcubert_embedding_params p = {
		EMB_VOCAB, HID, 1, 0, emb_info, (const uint8_t *)emb_info, emb_ckpt, emb_u, emb_vt,
		emb_rq, emb_pos, 1 << 30, 31, NULL, 0, NULL, NULL}; /* segment A, dense positions */
	int16_t *out = (int16_t *)y_buf;
	char shape[64];

	for (int32_t b = 0; b < EMB_VOCAB / 64; b++) {
		emb_ckpt[b] = (uint16_t)(64 * b);
	}
	for (int32_t h = 0; h < HID; h++) {
		emb_rq[h] = 1 << 30;
		emb_rq[HID + h] = 36;
	}
	const uint64_t t0 = mcubert_icount_now();

	for (int32_t t = 0; t < tokens; t++) {
		mcubert_embedding_s8(&p, ((uint32_t)t * 2654435761u) % EMB_VOCAB, (uint32_t)t, 0u, out);
	}
	const uint64_t t1 = mcubert_icount_now();

	snprintf(shape, sizeof(shape), "%dx(r%d->%d)", (int)tokens, EMB_RANK, HID);
	report("embedding_s8", shape, (uint64_t)tokens * EMB_RANK * HID, (uint64_t)tokens * HID,
	       t1 - t0);
}

int main(void)
{
	fill(w_buf, sizeof(w_buf));
	fill(x_buf, sizeof(x_buf));
	fill(emb_u, sizeof(emb_u));
	fill(emb_vt, sizeof(emb_vt));
	fill(emb_pos, sizeof(emb_pos));
	fill(gelu_lut, sizeof(gelu_lut));
	for (int i = 0; i < 256; i++) {
		exp_lut[i] = (uint16_t)(32767u >> (i / 16));
	}
	mcubert_icount_start();

	/* bert-tiny (H=128, F=512, 2 heads) at L=128 */
	bench_linear("128x128->128", 128, 128, 128, 0); /* K, V */
	bench_linear("8x128->128", 8, 128, 128, 0);     /* Q tile */
	bench_linear("16x128->512", 16, 128, 512, 0);   /* FFN up, one tile */
	bench_linear("16x512->128", 16, 512, 128, 1);   /* FFN down, one tile */
	bench_linear("8x128->128/s16", 8, 128, 128, 1); /* out-projection */
	bench_attention("8q-128k-64d", 8, 128, 64, 128);
	bench_rows("16x128", 16, 128);
	bench_embedding(128);
	/* bert-mini (H=256, F=1024, 4 heads) at L=128 */
	bench_linear("128x256->256", 128, 256, 256, 0);
	bench_linear("16x256->1024", 16, 256, 1024, 0);
	bench_attention("8q-128k-64d/H256", 8, 128, 64, 256);
	return 0;
}
