/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The planner's cost table (python/mcubert/export/costmodel.py): instruction counts of each
 * kernel over a small grid of shapes on an emulated core (QEMU -icount shift=0). The grid
 * varies rows (whole groups of 4 and short ones: the SIMD kernels work on four rows at
 * once), reduction length and outputs, so the planner can fit per-call, per-group and
 * per-MAC costs. Each call is
 * repeated REPEAT times and the total printed, which takes the 40-instruction resolution
 * of the counter (tests/runner/mcubert_icount.h) down to 40 / REPEAT. One line per shape:
 *   cost kernel=<name> rows=<r> k=<reduction> n=<outputs or elements> insns=<total> repeat=<R>
 * `mcubert bench --cost-table PATH` runs it and writes the table.
 */
#include <stdio.h>

#include "mcubert/mcubert_kernels.h"
#include "../runner/mcubert_icount.h"

#define REPEAT 16
#define MAX_W (512 * 512)
#define MAX_X (8 * 512)

static int8_t w_buf[MAX_W] __attribute__((aligned(16)));
static int8_t x_buf[MAX_X] __attribute__((aligned(16)));
static int16_t y_buf[8 * 512] __attribute__((aligned(16)));
static int32_t bias[512], rq[1024];
static uint16_t exp_lut[256];
static int8_t lut[256];
static int32_t ln_params[2 * 512 + 2];
static int32_t scratch[1024];
static const struct mcubert_kernel_ctx kc = {scratch, sizeof(scratch)};
static uint32_t rng = 0x2545F491u;

static int8_t rnd8(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return (int8_t)(rng >> 24);
}

static void report(const char *name, int32_t rows, int32_t k, int32_t n, uint64_t t0)
{
	const uint64_t insns = mcubert_icount_now() - t0;

	printf("cost kernel=%s rows=%d k=%d n=%d insns=%llu repeat=%d\n", name, (int)rows, (int)k,
	       (int)n, (unsigned long long)insns, REPEAT);
}

static void linear(int32_t rows, int32_t in, int32_t out, int s16)
{
	const struct mcubert_linear_dims d = {rows, in, 0, out, in, out, 1};
	const struct mcubert_linear_params p = {w_buf, bias, rq, rq + out};

	for (int32_t o = 0; o < out; o++) {
		bias[o] = (int32_t)rnd8() * 64;
		rq[o] = 1 << 30;
		rq[out + o] = 40;
	}
	mcubert_icount_start();
	const uint64_t t0 = mcubert_icount_now();

	for (int i = 0; i < REPEAT; i++) {
		if (s16) {
			mcubert_linear_s8_s16(&kc, &d, &p, x_buf, y_buf);
		} else {
			mcubert_linear_s8(&kc, &d, &p, x_buf, (int8_t *)y_buf);
		}
	}
	report(s16 ? "linear_s8_s16" : "linear_s8", rows, in, out, t0);
}

static void attention(int32_t rows, int32_t n, int32_t dh)
{
	struct mcubert_attn_dims d = {rows, n, dh, dh, dh, n};
	uint64_t t0;

	mcubert_icount_start();
	t0 = mcubert_icount_now();
	for (int i = 0; i < REPEAT; i++) {
		mcubert_attn_qk_s8(&kc, &d, x_buf, w_buf, 1 << 30, 40, y_buf);
	}
	report("attn_qk_s8", rows, dh, n, t0);
	d.kv_stride = n;
	d.out_stride = dh;
	mcubert_icount_start();
	t0 = mcubert_icount_now();
	for (int i = 0; i < REPEAT; i++) {
		mcubert_attn_pv_s8(&kc, &d, (const uint8_t *)x_buf, n, w_buf, 1 << 30, 36,
				   (int8_t *)y_buf);
	}
	report("attn_pv_s8", rows, n, dh, t0);
}

static void elementwise(int32_t n)
{
	uint64_t t0;

	for (int32_t i = 0; i < n; i++) {
		y_buf[i] = (int16_t)(rnd8() * 37);
	}
	mcubert_icount_start();
	t0 = mcubert_icount_now();
	for (int i = 0; i < REPEAT; i++) {
		mcubert_residual_add_s8(y_buf, x_buf, n, 1 << 30, 32);
	}
	report("residual_add_s8", 1, 0, n, t0);
	mcubert_icount_start();
	t0 = mcubert_icount_now();
	for (int i = 0; i < REPEAT; i++) {
		mcubert_lut_s8(x_buf, n, lut, x_buf + MAX_X / 2);
	}
	report("lut_s8", 1, 0, n, t0);
	if (n <= 512) {
		for (int32_t i = 0; i < n; i++) {
			ln_params[i] = 1 << 22;
			ln_params[n + i] = 0;
		}
		ln_params[2 * n] = 1 << 20;
		ln_params[2 * n + 1] = 0;
		mcubert_icount_start();
		t0 = mcubert_icount_now();
		for (int i = 0; i < REPEAT; i++) {
			mcubert_layernorm_s8(y_buf, n, ln_params, x_buf);
		}
		report("layernorm_s8", 1, 0, n, t0);
		mcubert_icount_start();
		t0 = mcubert_icount_now();
		for (int i = 0; i < REPEAT; i++) {
			/* the scores are clobbered; a fresh row each time keeps the work the same */
			for (int32_t j = 0; j < n; j++) {
				y_buf[j] = (int16_t)(j * 7);
			}
			mcubert_softmax_s8(y_buf, n, exp_lut, (uint8_t *)y_buf);
		}
		report("softmax_s8", 1, 0, n, t0);
		mcubert_icount_start();
		t0 = mcubert_icount_now();
		for (int i = 0; i < REPEAT; i++) {
			for (int32_t j = 0; j < n; j++) {
				y_buf[j] = (int16_t)(j * 7);
			}
		}
		report("softmax_refill", 1, 0, n, t0);
	}
}

int main(void)
{
	static const int32_t rows[] = {1, 2, 3, 4, 5, 8, 12};
	static const int32_t lin[][2] = {{64, 64}, {128, 128}, {128, 512}, {512, 128}, {256, 32}};
	static const int32_t att[][2] = {{32, 32}, {128, 64}, {512, 64}, {64, 16}};
	static const int32_t elems[] = {64, 128, 512, 2048};

	for (size_t i = 0; i < sizeof(w_buf); i++) {
		w_buf[i] = rnd8();
	}
	for (size_t i = 0; i < sizeof(x_buf); i++) {
		x_buf[i] = rnd8();
	}
	for (int i = 0; i < 256; i++) {
		exp_lut[i] = (uint16_t)(32767u >> (i / 16));
		lut[i] = rnd8();
	}
	for (unsigned r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
		for (unsigned s = 0; s < sizeof(lin) / sizeof(lin[0]); s++) {
			linear(rows[r], lin[s][0], lin[s][1], 0);
			linear(rows[r], lin[s][0], lin[s][1], 1);
		}
		for (unsigned s = 0; s < sizeof(att) / sizeof(att[0]); s++) {
			attention(rows[r], att[s][0], att[s][1]);
		}
	}
	for (unsigned e = 0; e < sizeof(elems) / sizeof(elems[0]); e++) {
		elementwise(elems[e]);
	}
	return 0;
}
