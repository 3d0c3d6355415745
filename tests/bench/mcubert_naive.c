/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Naive per-op reference loop for the benchmarks (see mcubert_naive.h).
 *
 * Written from docs/numerics.md and python/mcubert/int8/reference.py, not from src/: the
 * point is an independent, obviously-correct baseline. It is deliberately slow in the
 * ways straightforward code is slow, so do not "fix" these:
 *   - layer-wise: every op writes its full output tensor to work memory, and every
 *     encoder layer computes all rows (the last one too, although only [CLS] is read);
 *   - plain nested loops with index arithmetic, scalar int32/int64 math, no SIMD/tiling;
 *   - each weight byte goes through w_at() and each requantisation/saturation through
 *     an out-of-line helper (noinline), like a per-op interpreter calling its primitives;
 *   - blob words (biases, multipliers, LUT entries) are re-read byte by byte on use.
 * C99, no malloc, no float.
 */
#include <string.h>

#include "mcubert_naive.h"
#include "mcubert_blob.h" /* header offsets and slot indices: the blob format itself */

#define NOINLINE __attribute__((noinline))

#if defined(MCUBERT_LAYOUT_K8) && (MCUBERT_LAYOUT_K8 != MCUBERT_NAIVE_LAYOUT)
#error "w_at() below implements layout MCUBERT_LAYOUT_K8; keep the two in step"
#endif

/* ------------------------------------------------------------------ blob access */

/* Little-endian reads byte by byte: no alignment or host byte order assumed. */
static uint32_t rd16(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/* Word i of an int32 array in the blob (two's complement without implementation-defined casts). */
static int32_t rd_i32(const uint8_t *base, size_t i)
{
	uint32_t u = rd32(base + 4 * i);

	return u <= 0x7FFFFFFFu ? (int32_t)u : -(int32_t)(~u) - 1;
}

static const uint8_t *slot(const uint8_t *blob, uint32_t i)
{
	return blob + rd32(blob + MCUBERT_HEADER_SIZE + 8u * i);
}

static const uint8_t *lslot(const uint8_t *blob, uint32_t layer, uint32_t ls)
{
	return slot(blob, MCUBERT_SLOT_GLOBAL_COUNT + layer * MCUBERT_SLOT_LAYER_COUNT + ls);
}

static uint32_t cfg(const uint8_t *blob, uint32_t field)
{
	return rd32(blob + 24 + 4 * field);
}

/* Weight layout 2 (K8): W[O][K] is stored as O rows of Kp8 bytes (K rounded up to 8). */
static NOINLINE int8_t w_at(const int8_t *w, int K, int o, int k)
{
	int Kp = (K + 7) / 8 * 8;

	return w[(size_t)o * (size_t)Kp + (size_t)k];
}

/* ------------------------------------------------------------------ scalar primitives */

static NOINLINE int64_t requant(int32_t acc, int32_t mult, int32_t shift)
{
	/* |acc| < 2^31, 0 <= mult < 2^31: the product and the rounding term fit int64 */
	return ((int64_t)acc * mult + ((int64_t)1 << (shift - 1))) >> shift;
}

static NOINLINE int8_t sat8(int64_t v)
{
	return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
}

static NOINLINE int16_t sat16(int64_t v)
{
	return (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
}

static NOINLINE int32_t sat32(int64_t v)
{
	return (int32_t)(v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : v);
}

/* floor(sqrt(v)) by bisection; v < 2^63 so the root is below 2^32 and mid*mid fits. */
static NOINLINE uint64_t isqrt64(uint64_t v)
{
	uint64_t lo = 0, hi = (uint64_t)1 << 32;

	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;

		if (mid * mid <= v) {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	return lo;
}

/* ------------------------------------------------------------------ work memory */

struct naive_bufs {
	int8_t *hid;     /* [n][H] hidden state entering the layer */
	int8_t *q;       /* [n][H] */
	int8_t *k;       /* [n][H] */
	int8_t *v;       /* [n][H] */
	int16_t *scores; /* [NH][n][n] */
	uint8_t *probs;  /* [NH][n][n] */
	int8_t *ctx;     /* [n][H] */
	int16_t *a16;    /* [n][H] sublayer output on the residual grid (word emb, attn out, FFN out) */
	int16_t *b16;    /* [n][H] other residual operand on the grid (position emb, requantised h) */
	int16_t *r16;    /* [n][H] residual sum, LayerNorm input */
	int8_t *h1;      /* [n][H] after the attention LayerNorm */
	int8_t *f1;      /* [n][F] FFN up-projection */
	int8_t *gelu;    /* [n][F] */
	int8_t *pool_in; /* [H] pooler pre-activation of [CLS] */
	int8_t *pooled;  /* [H] */
};

enum { NB_HID, NB_Q, NB_K, NB_V, NB_SCORES, NB_PROBS, NB_CTX, NB_A16, NB_B16, NB_R16, NB_H1, NB_F1,
       NB_GELU, NB_POOL_IN, NB_POOLED, NB_COUNT };

/* Byte offsets of every buffer for up to L tokens, each MCUBERT_ALIGN-aligned; returns the total. */
static uint64_t work_layout(const struct mcubert_schedule *s, uint64_t off[NB_COUNT])
{
	const uint64_t L = s->max_seq_len, H = s->hidden, F = s->ffn, NH = s->heads;
	uint64_t size[NB_COUNT], total = 0;

	size[NB_HID] = L * H;
	size[NB_Q] = L * H;
	size[NB_K] = L * H;
	size[NB_V] = L * H;
	size[NB_SCORES] = 2 * NH * L * L;
	size[NB_PROBS] = NH * L * L;
	size[NB_CTX] = L * H;
	size[NB_A16] = 2 * L * H;
	size[NB_B16] = 2 * L * H;
	size[NB_R16] = 2 * L * H;
	size[NB_H1] = L * H;
	size[NB_F1] = L * F;
	size[NB_GELU] = L * F;
	size[NB_POOL_IN] = H;
	size[NB_POOLED] = H;
	for (int i = 0; i < NB_COUNT; i++) {
		off[i] = total;
		total += (size[i] + MCUBERT_ALIGN - 1) / MCUBERT_ALIGN * MCUBERT_ALIGN;
	}
	return total;
}

size_t mcubert_naive_work_size(const struct mcubert_schedule *s)
{
	uint64_t off[NB_COUNT], total;

	if (s == NULL) {
		return 0;
	}
	total = work_layout(s, off);
	return (uint64_t)(size_t)total == total ? (size_t)total : 0; /* 0: does not fit this target */
}

/* ------------------------------------------------------------------ ops (one full tensor each) */

enum out_kind { OUT_S8, OUT_S16, OUT_S32 };

/* y[t][o] = sat(requant(bias[o] + sum_k x[t][k] * W[o][k])) for t < n. */
static void op_linear(const int8_t *x, size_t n, int K, int O, const uint8_t *w_slot,
		      const uint8_t *b_slot, const uint8_t *rq_slot, enum out_kind kind, void *y)
{
	const int8_t *w = (const int8_t *)w_slot;

	for (size_t t = 0; t < n; t++) {
		for (int o = 0; o < O; o++) {
			int32_t acc = rd_i32(b_slot, (size_t)o);

			for (int k = 0; k < K; k++) {
				acc += (int32_t)x[t * (size_t)K + (size_t)k] * (int32_t)w_at(w, K, o, k);
			}
			int64_t r = requant(acc, rd_i32(rq_slot, (size_t)o), rd_i32(rq_slot, (size_t)O + (size_t)o));
			size_t at = t * (size_t)O + (size_t)o;

			if (kind == OUT_S8) {
				((int8_t *)y)[at] = sat8(r);
			} else if (kind == OUT_S16) {
				((int16_t *)y)[at] = sat16(r);
			} else {
				((int32_t *)y)[at] = sat32(r);
			}
		}
	}
}

/* y = sat16(requant(x, M, S)): an int8 tensor brought onto a residual grid. */
static void op_requant_s16(const int8_t *x, size_t count, int32_t mult, int32_t shift, int16_t *y)
{
	for (size_t i = 0; i < count; i++) {
		y[i] = sat16(requant(x[i], mult, shift));
	}
}

/* y = sat16(a + b) in int32. */
static void op_add_s16(const int16_t *a, const int16_t *b, size_t count, int16_t *y)
{
	for (size_t i = 0; i < count; i++) {
		y[i] = sat16((int32_t)a[i] + (int32_t)b[i]);
	}
}

/* Integer LayerNorm of n rows of H int16 values; params = G[H], B[H], E (lo, hi word). */
static void op_layernorm(const int16_t *x, size_t n, int H, const uint8_t *params, int8_t *y)
{
	const uint64_t E = (uint64_t)rd32(params + 8 * (size_t)H) |
			   ((uint64_t)rd32(params + 8 * (size_t)H + 4) << 32);

	for (size_t t = 0; t < n; t++) {
		const int16_t *row = x + t * (size_t)H;
		int32_t sum = 0;
		uint64_t sq = 0;

		for (int i = 0; i < H; i++) {
			sum += row[i];
		}
		for (int i = 0; i < H; i++) {
			int64_t d = (int64_t)H * row[i] - sum;

			sq += (uint64_t)(d * d);
		}
		uint64_t D = sq / (uint64_t)H + E;
		int64_t inv = (int64_t)(((uint64_t)1 << 46) / isqrt64(D));

		for (int i = 0; i < H; i++) {
			int64_t d = (int64_t)H * row[i] - sum;
			int64_t z = (d * inv + ((int64_t)1 << 29)) >> 30;
			int64_t g = rd_i32(params, (size_t)i), b = rd_i32(params, (size_t)H + (size_t)i);

			y[t * (size_t)H + (size_t)i] = sat8((z * g + b + ((int64_t)1 << 23)) >> 24);
		}
	}
}

/* y = lut[x + 128] (GELU, tanh). */
static void op_lut(const int8_t *x, size_t count, const uint8_t *lut, int8_t *y)
{
	for (size_t i = 0; i < count; i++) {
		y[i] = (int8_t)lut[(int)x[i] + 128];
	}
}

/* Cluster id of token t from the packed map (b bits per token, LSB first). */
static uint32_t cluster_of(const uint8_t *blob, uint32_t t)
{
	uint32_t bits = cfg(blob, CFG_CLUSTER_BITS);

	if (bits == 0) {
		return 0;
	}
	uint32_t bit = t * bits;

	return (slot(blob, SLOT_CLUSTER_MAP)[bit / 8] >> (bit % 8)) & ((1u << bits) - 1u);
}

/* Row of token t inside cluster c: checkpoint count plus a scan of t's block. */
static uint32_t row_in_cluster(const uint8_t *blob, uint32_t t, uint32_t c)
{
	uint32_t block = cfg(blob, CFG_CKPT_BLOCK), K = cfg(blob, CFG_CLUSTERS);
	uint32_t b = t / block;
	uint32_t j = rd16(slot(blob, SLOT_CLUSTER_CKPT) + 2 * ((size_t)b * K + c));

	for (uint32_t u = b * block; u < t; u++) {
		if (cluster_of(blob, u) == c) {
			j++;
		}
	}
	return j;
}

/* word[t][h] (int16, grid s_e) of the clustered low-rank embedding. */
static void op_word_embedding(const uint8_t *blob, const uint16_t *ids, size_t n, int H,
			      int16_t *word)
{
	const uint8_t *info = slot(blob, SLOT_CLUSTER_INFO);
	const int8_t *U_all = (const int8_t *)slot(blob, SLOT_EMB_U);
	const int8_t *Vt_all = (const int8_t *)slot(blob, SLOT_EMB_VT);
	const uint8_t *rq_all = slot(blob, SLOT_EMB_RQ);

	for (size_t t = 0; t < n; t++) {
		uint32_t c = cluster_of(blob, ids[t]);
		uint32_t j = row_in_cluster(blob, ids[t], c);
		size_t u_off = 0, vt_off = 0;

		/* U_c and Vt_c follow the earlier clusters' matrices */
		for (uint32_t cc = 0; cc < c; cc++) {
			u_off += (size_t)rd32(info + 8 * cc) * rd32(info + 8 * cc + 4);
			vt_off += (size_t)H * rd32(info + 8 * cc + 4);
		}
		uint32_t r = rd32(info + 8 * c + 4);
		const int8_t *U = U_all + u_off, *Vt = Vt_all + vt_off;
		const uint8_t *rq = rq_all + 8 * (size_t)H * c;

		for (int h = 0; h < H; h++) {
			if (r == 0) {
				word[t * (size_t)H + (size_t)h] = 0;
				continue;
			}
			int32_t acc = 0;

			for (uint32_t k = 0; k < r; k++) {
				acc += (int32_t)U[(size_t)j * r + k] * (int32_t)Vt[(size_t)h * r + k];
			}
			word[t * (size_t)H + (size_t)h] =
				sat16(requant(acc, rd_i32(rq, (size_t)h), rd_i32(rq, (size_t)H + (size_t)h)));
		}
	}
}

/*
 * Position term pe[t][h] on the grid s_e: dense, sat16(requant(P[t][h])) with one (M, S); low
 * rank k (config word CFG_POS_RANK), sat16(requant(sum_j A'[t][j] * B'^T[h][j], M[h], S[h]))
 * with A' [max_pos][k] and B'^T [H][k] one after the other in SLOT_POS.
 */
static void op_positions(const uint8_t *blob, size_t n, int H, int16_t *pe)
{
	const uint32_t k = cfg(blob, CFG_POS_RANK), max_pos = cfg(blob, CFG_MAX_POS);
	const int8_t *P = (const int8_t *)slot(blob, SLOT_POS);
	const uint8_t *rq = slot(blob, SLOT_POS_RQ);

	if (k == 0) {
		op_requant_s16(P, n * (size_t)H, rd_i32(rq, 0), rd_i32(rq, 1), pe);
		return;
	}
	const int8_t *Bt = P + (size_t)max_pos * k;

	for (size_t t = 0; t < n; t++) {
		for (int h = 0; h < H; h++) {
			int32_t acc = 0;

			for (uint32_t j = 0; j < k; j++) {
				acc += (int32_t)P[t * k + j] * (int32_t)Bt[(size_t)h * k + j];
			}
			pe[t * (size_t)H + (size_t)h] =
				sat16(requant(acc, rd_i32(rq, (size_t)h), rd_i32(rq, (size_t)H + (size_t)h)));
		}
	}
}

/* score[hd][i][j] = sat16(requant(q_i . k_j over head hd's columns)). */
static void op_scores(const int8_t *q, const int8_t *k, size_t n, int H, int NH, int32_t mult,
		      int32_t shift, int16_t *scores)
{
	const int dh = H / NH;

	for (int hd = 0; hd < NH; hd++) {
		for (size_t i = 0; i < n; i++) {
			for (size_t j = 0; j < n; j++) {
				int32_t acc = 0;

				for (int c = 0; c < dh; c++) {
					acc += (int32_t)q[i * (size_t)H + (size_t)(hd * dh + c)] *
					       (int32_t)k[j * (size_t)H + (size_t)(hd * dh + c)];
				}
				scores[((size_t)hd * n + i) * n + j] = sat16(requant(acc, mult, shift));
			}
		}
	}
}

/* Softmax of every score row into uint8 probabilities (scale 1/256) via the exp LUT. */
static void op_softmax(const int16_t *scores, size_t rows, size_t n, const uint8_t *lut,
		       uint8_t *probs)
{
	for (size_t i = 0; i < rows; i++) {
		const int16_t *s = scores + i * n;
		int32_t mx = s[0];
		uint32_t sum = 0;

		for (size_t j = 1; j < n; j++) {
			if (s[j] > mx) {
				mx = s[j];
			}
		}
		for (size_t j = 0; j < n; j++) {
			int32_t d = mx - s[j];

			sum += rd16(lut + 2 * (size_t)(d > 255 ? 255 : d));
		}
		uint64_t rcp = ((uint64_t)1 << 40) / sum;

		for (size_t j = 0; j < n; j++) {
			int32_t d = mx - s[j];
			uint64_t e = rd16(lut + 2 * (size_t)(d > 255 ? 255 : d));
			uint64_t p = (e * rcp + ((uint64_t)1 << 31)) >> 32;

			probs[i * n + j] = (uint8_t)(p > 255 ? 255 : p);
		}
	}
}

/* ctx[i][hd*dh + c] = sat8(requant(sum_j p[hd][i][j] * v[j][hd*dh + c])). */
static void op_context(const uint8_t *probs, const int8_t *v, size_t n, int H, int NH,
		       int32_t mult, int32_t shift, int8_t *ctx)
{
	const int dh = H / NH;

	for (int hd = 0; hd < NH; hd++) {
		for (size_t i = 0; i < n; i++) {
			for (int c = 0; c < dh; c++) {
				int32_t acc = 0;

				for (size_t j = 0; j < n; j++) {
					acc += (int32_t)probs[((size_t)hd * n + i) * n + j] *
					       (int32_t)v[j * (size_t)H + (size_t)(hd * dh + c)];
				}
				ctx[i * (size_t)H + (size_t)(hd * dh + c)] = sat8(requant(acc, mult, shift));
			}
		}
	}
}

/* ------------------------------------------------------------------ the model */

static void encoder_layer(const uint8_t *blob, uint32_t l, size_t n, int H, int NH, int F,
			  const struct naive_bufs *b)
{
	const uint8_t *sc = lslot(blob, l, LS_SCALARS);
	const size_t nH = n * (size_t)H;

	/* attention */
	op_linear(b->hid, n, H, H, lslot(blob, l, LS_Q_W), lslot(blob, l, LS_Q_B),
		  lslot(blob, l, LS_Q_RQ), OUT_S8, b->q);
	op_linear(b->hid, n, H, H, lslot(blob, l, LS_K_W), lslot(blob, l, LS_K_B),
		  lslot(blob, l, LS_K_RQ), OUT_S8, b->k);
	op_linear(b->hid, n, H, H, lslot(blob, l, LS_V_W), lslot(blob, l, LS_V_B),
		  lslot(blob, l, LS_V_RQ), OUT_S8, b->v);
	op_scores(b->q, b->k, n, H, NH, rd_i32(sc, 2 * SC_SCORE), rd_i32(sc, 2 * SC_SCORE + 1),
		  b->scores);
	op_softmax(b->scores, (size_t)NH * n, n, lslot(blob, l, LS_SOFTMAX_LUT), b->probs);
	op_context(b->probs, b->v, n, H, NH, rd_i32(sc, 2 * SC_CTX), rd_i32(sc, 2 * SC_CTX + 1),
		   b->ctx);
	op_linear(b->ctx, n, H, H, lslot(blob, l, LS_O_W), lslot(blob, l, LS_O_B),
		  lslot(blob, l, LS_O_RQ), OUT_S16, b->a16);
	op_requant_s16(b->hid, nH, rd_i32(sc, 2 * SC_RES1), rd_i32(sc, 2 * SC_RES1 + 1), b->b16);
	op_add_s16(b->a16, b->b16, nH, b->r16);
	op_layernorm(b->r16, n, H, lslot(blob, l, LS_LN1), b->h1);

	/* feed-forward */
	op_linear(b->h1, n, H, F, lslot(blob, l, LS_F1_W), lslot(blob, l, LS_F1_B),
		  lslot(blob, l, LS_F1_RQ), OUT_S8, b->f1);
	op_lut(b->f1, n * (size_t)F, lslot(blob, l, LS_GELU_LUT), b->gelu);
	op_linear(b->gelu, n, F, H, lslot(blob, l, LS_F2_W), lslot(blob, l, LS_F2_B),
		  lslot(blob, l, LS_F2_RQ), OUT_S16, b->a16);
	op_requant_s16(b->h1, nH, rd_i32(sc, 2 * SC_RES2), rd_i32(sc, 2 * SC_RES2 + 1), b->b16);
	op_add_s16(b->a16, b->b16, nH, b->r16);
	op_layernorm(b->r16, n, H, lslot(blob, l, LS_LN2), b->hid);
}

int mcubert_naive_classify(const struct mcubert_schedule *s, const uint8_t *blob,
			   const uint16_t *ids, size_t n_tokens, size_t n_first, int32_t *logits,
			   void *work)
{
	uint64_t off[NB_COUNT];
	struct naive_bufs b;
	uint8_t *w = work;

	if (s == NULL || blob == NULL || ids == NULL || logits == NULL || work == NULL) {
		return MCUBERT_ERR_ARG;
	}
	if (rd16(blob + 6) != MCUBERT_NAIVE_LAYOUT) {
		return MCUBERT_ERR_VERSION;
	}
	const int H = (int)cfg(blob, CFG_HIDDEN), NH = (int)cfg(blob, CFG_HEADS);
	const int F = (int)cfg(blob, CFG_FFN), C = (int)cfg(blob, CFG_LABELS);
	const uint32_t layers = cfg(blob, CFG_LAYERS), vocab = cfg(blob, CFG_VOCAB);

	/* the work layout comes from the schedule: it must describe this blob's model */
	if ((uint32_t)H != s->hidden || (uint32_t)NH != s->heads || (uint32_t)F != s->ffn ||
	    (uint32_t)C != s->labels || layers != s->layers || vocab != s->vocab_size) {
		return MCUBERT_ERR_SCHEDULE;
	}
	if (n_tokens == 0 || n_tokens > s->max_seq_len) {
		return MCUBERT_ERR_N_TOKENS;
	}
	if (n_first == 0 || n_first > n_tokens) {
		return MCUBERT_ERR_N_FIRST;
	}
	for (size_t t = 0; t < n_tokens; t++) {
		if (ids[t] >= vocab) {
			return MCUBERT_ERR_TOKEN_ID;
		}
	}
	work_layout(s, off);
	b.hid = (int8_t *)(w + off[NB_HID]);
	b.q = (int8_t *)(w + off[NB_Q]);
	b.k = (int8_t *)(w + off[NB_K]);
	b.v = (int8_t *)(w + off[NB_V]);
	b.scores = (int16_t *)(void *)(w + off[NB_SCORES]);
	b.probs = w + off[NB_PROBS];
	b.ctx = (int8_t *)(w + off[NB_CTX]);
	b.a16 = (int16_t *)(void *)(w + off[NB_A16]);
	b.b16 = (int16_t *)(void *)(w + off[NB_B16]);
	b.r16 = (int16_t *)(void *)(w + off[NB_R16]);
	b.h1 = (int8_t *)(w + off[NB_H1]);
	b.f1 = (int8_t *)(w + off[NB_F1]);
	b.gelu = (int8_t *)(w + off[NB_GELU]);
	b.pool_in = (int8_t *)(w + off[NB_POOL_IN]);
	b.pooled = (int8_t *)(w + off[NB_POOLED]);

	const size_t n = n_tokens, nH = n * (size_t)H;

	/* embeddings: word (a16) + position (b16) on the grid s_e, then LayerNorm */
	op_word_embedding(blob, ids, n, H, b.a16);
	op_positions(blob, n, H, b.b16);
	op_add_s16(b.a16, b.b16, nH, b.r16);
	/* segment B: the blob's segment row added to every token from n_first on */
	for (size_t t = n_first; t < n; t++) {
		const uint8_t *seg = slot(blob, SLOT_SEGMENT);

		for (int h = 0; h < H; h++) {
			size_t at = t * (size_t)H + (size_t)h;

			b.r16[at] = sat16((int32_t)b.r16[at] + (int16_t)rd16(seg + 2 * (size_t)h));
		}
	}
	op_layernorm(b.r16, n, H, slot(blob, SLOT_EMB_LN), b.hid);

	for (uint32_t l = 0; l < layers; l++) {
		encoder_layer(blob, l, n, H, NH, F, &b);
	}

	/* pooler on the [CLS] row (row 0), tanh, classifier */
	op_linear(b.hid, 1, H, H, slot(blob, SLOT_POOL_W), slot(blob, SLOT_POOL_B),
		  slot(blob, SLOT_POOL_RQ), OUT_S8, b.pool_in);
	op_lut(b.pool_in, (size_t)H, slot(blob, SLOT_TANH_LUT), b.pooled);
	op_linear(b.pooled, 1, H, C, slot(blob, SLOT_CLS_W), slot(blob, SLOT_CLS_B),
		  slot(blob, SLOT_CLS_RQ), OUT_S32, logits);
	return MCUBERT_OK;
}
