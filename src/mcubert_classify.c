/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * mcubert_classify(): the two schedules the planner (python/mcubert/planner.py) knows.
 *
 * fine: per layer, K and V for all tokens, then attention per query tile (all heads, or
 * one head at a time when the planner chose per_head), the out-projection, residual and
 * LayerNorm written back in place into HIDDEN: a tile reads only its own old rows (Q and
 * the residual), and K and V were made from the old state first. Then the FFN per token
 * tile likewise, its buffers and scratch (FFN_SCRATCH) in the memory K and V held. The
 * L x L scores and the L x FFN intermediate never exist. The last layer computes Q,
 * attention and FFN for the [CLS] row only.
 *
 * layerwise: every op produces a full tensor (the TFLM-like baseline). Both schedules
 * compute every output element with the same integer ops, so their logits are identical.
 */
#include "mcubert_internal.h"
#include "mcubert_port.h"

MCUBERT_LOG_DECLARE();

struct lin {
	struct mcubert_linear_dims d;
	struct mcubert_linear_params p;
};

/* Linear `slot_w` of layer l restricted to output channels [o0, o0 + n_out). */
static struct lin layer_lin(const struct mcubert_ctx *ctx, uint32_t l, uint32_t slot_w,
			    int32_t rows, int32_t in_dim, int32_t o0, int32_t n_out, int32_t x_stride,
			    int32_t y_stride, int32_t out_dim_total)
{
	struct lin r;
	const int32_t *rq = (const int32_t *)mcubert_lslot(ctx, l, slot_w + 2);

	r.d.rows = rows;
	r.d.in_dim = in_dim;
	r.d.out_first = o0;
	r.d.out_count = n_out;
	r.d.x_stride = x_stride;
	r.d.y_stride = y_stride;
	r.d.y_ch_stride = 1;
	r.p.w = (const int8_t *)mcubert_lslot(ctx, l, slot_w);
	r.p.bias = (const int32_t *)mcubert_lslot(ctx, l, slot_w + 1);
	r.p.mult = rq;
	r.p.shift = rq + out_dim_total;
	return r;
}

/* V is stored transposed, [channel][max_seq_len], so P.V runs contiguously over keys. */
static void v_transposed(struct lin *lin, const struct mcubert_ctx *ctx)
{
	lin->d.y_stride = 1;
	lin->d.y_ch_stride = (int32_t)ctx->sched->max_seq_len;
}

static void *buf(const struct mcubert_ctx *ctx, enum mcubert_buf b)
{
	return ctx->arena + ctx->sched->buf_offset[b];
}

static struct mcubert_kernel_ctx scratch_of(const struct mcubert_ctx *ctx, enum mcubert_buf b)
{
	struct mcubert_kernel_ctx k = {buf(ctx, b), (int32_t)ctx->sched->buf_size[b]};

	return k;
}

/* The kernels' scratch; mcubert_init() checked it holds every *_buffer_size(). */
static struct mcubert_kernel_ctx kctx(const struct mcubert_ctx *ctx)
{
	return scratch_of(ctx, MCUBERT_BUF_SCRATCH);
}

static const int32_t *scalars(const struct mcubert_ctx *ctx, uint32_t l)
{
	return (const int32_t *)mcubert_lslot(ctx, l, LS_SCALARS);
}

/* RES[rows] (already holding the sublayer output) += hidden rows, then LayerNorm into hidden. */
static void add_norm(const struct mcubert_ctx *ctx, uint32_t l, int16_t *res, int8_t *hidden,
		     int32_t rows, uint32_t sc, uint32_t ln_slot, int8_t *out)
{
	const int32_t H = (int32_t)ctx->model.hidden;
	const int32_t *s = scalars(ctx, l);
	const int32_t *ln = (const int32_t *)mcubert_lslot(ctx, l, ln_slot);

	mcubert_residual_add_s8(res, hidden, rows * H, s[2 * sc], s[2 * sc + 1]);
	for (int32_t i = 0; i < rows; i++) {
		mcubert_layernorm_s8(res + i * H, H, ln, out + i * H);
	}
}

/* Scores, softmax and context of `rows` queries of one head against n keys. */
static void attend(const struct mcubert_ctx *ctx, uint32_t l, int32_t rows, int32_t n,
		   const int8_t *q, int32_t q_stride, const int8_t *k, const int8_t *vt,
		   int32_t kv_stride, int16_t *scores, uint8_t *probs, int32_t probs_stride,
		   int8_t *ctx_out, int32_t ctx_stride)
{
	const struct mcubert_kernel_ctx kc = kctx(ctx);
	const int32_t *s = scalars(ctx, l);
	const uint16_t *lut = (const uint16_t *)mcubert_lslot(ctx, l, LS_SOFTMAX_LUT);
	struct mcubert_attn_dims d = {rows, n, (int32_t)(ctx->model.hidden / ctx->model.heads),
				      q_stride, kv_stride, n};

	mcubert_attn_qk_s8(&kc, &d, q, k, s[2 * SC_SCORE], s[2 * SC_SCORE + 1], scores);
	for (int32_t i = 0; i < rows; i++) {
		mcubert_softmax_s8(scores + i * n, n, lut, probs + i * probs_stride);
	}
	d.out_stride = ctx_stride;
	d.kv_stride = (int32_t)ctx->sched->max_seq_len;
	mcubert_attn_pv_s8(&kc, &d, probs, probs_stride, vt, s[2 * SC_CTX], s[2 * SC_CTX + 1], ctx_out);
}

static void attention_fine(const struct mcubert_ctx *ctx, uint32_t l, int32_t n, int32_t nq)
{
	const struct mcubert_kernel_ctx kc = kctx(ctx);
	const int32_t H = (int32_t)ctx->model.hidden, NH = (int32_t)ctx->model.heads;
	const int32_t dh = H / NH, tq = (int32_t)ctx->sched->q_tile;
	const int32_t L = (int32_t)ctx->sched->max_seq_len;
	const int per_head = ctx->sched->per_head != 0;
	int8_t *hidden = buf(ctx, MCUBERT_BUF_HIDDEN);
	int8_t *k = buf(ctx, MCUBERT_BUF_K), *v = buf(ctx, MCUBERT_BUF_V);
	int8_t *cx = buf(ctx, MCUBERT_BUF_CTX);
	/*
	 * Q has no buffer of its own: each tile's (and head's) queries go where its context
	 * will go. Q.K^T of head h reads only head h's columns, and P.V of head h overwrites
	 * them only after that (the fine schedule has no Q buffer; planner.py).
	 */
	int8_t *q = cx;
	int16_t *scores = buf(ctx, MCUBERT_BUF_SCORES), *res = buf(ctx, MCUBERT_BUF_RES);
	/* probabilities overwrite their own score row (see mcubert_softmax_s8) */
	uint8_t *probs = (uint8_t *)scores;
	const int32_t p_stride = 2 * n;
	struct lin lin;

	if (!per_head) {
		lin = layer_lin(ctx, l, LS_K_W, n, H, 0, H, H, H, H);
		mcubert_linear_s8(&kc, &lin.d, &lin.p, hidden, k);
		lin = layer_lin(ctx, l, LS_V_W, n, H, 0, H, H, H, H);
		v_transposed(&lin, ctx);
		mcubert_linear_s8(&kc, &lin.d, &lin.p, hidden, v);
		for (int32_t t0 = 0; t0 < nq; t0 += tq) {
			const int32_t T = nq - t0 < tq ? nq - t0 : tq;

			lin = layer_lin(ctx, l, LS_Q_W, T, H, 0, H, H, H, H);
			mcubert_linear_s8(&kc, &lin.d, &lin.p, hidden + t0 * H, q);
			for (int32_t h = 0; h < NH; h++) {
				attend(ctx, l, T, n, q + h * dh, H, k + h * dh, v + h * dh * L, H, scores,
				       probs, p_stride, cx + h * dh, H);
			}
			lin = layer_lin(ctx, l, LS_O_W, T, H, 0, H, H, H, H);
			mcubert_linear_s8_s16(&kc, &lin.d, &lin.p, cx, res);
			add_norm(ctx, l, res, hidden + t0 * H, T, SC_RES1, LS_LN1, hidden + t0 * H);
		}
		return;
	}
	/* per head: K_h, V_h for all tokens, context of every query tile into CTX[L][H] */
	for (int32_t h = 0; h < NH; h++) {
		lin = layer_lin(ctx, l, LS_K_W, n, H, h * dh, dh, H, dh, H);
		mcubert_linear_s8(&kc, &lin.d, &lin.p, hidden, k);
		lin = layer_lin(ctx, l, LS_V_W, n, H, h * dh, dh, H, dh, H);
		v_transposed(&lin, ctx);
		mcubert_linear_s8(&kc, &lin.d, &lin.p, hidden, v);
		for (int32_t t0 = 0; t0 < nq; t0 += tq) {
			const int32_t T = nq - t0 < tq ? nq - t0 : tq;

			lin = layer_lin(ctx, l, LS_Q_W, T, H, h * dh, dh, H, H, H);
			q = cx + t0 * H + h * dh;
			mcubert_linear_s8(&kc, &lin.d, &lin.p, hidden + t0 * H, q);
			attend(ctx, l, T, n, q, H, k, v, dh, scores, probs, p_stride, q, H);
		}
	}
	for (int32_t t0 = 0; t0 < nq; t0 += tq) {
		const int32_t T = nq - t0 < tq ? nq - t0 : tq;

		lin = layer_lin(ctx, l, LS_O_W, T, H, 0, H, H, H, H);
		mcubert_linear_s8_s16(&kc, &lin.d, &lin.p, cx + t0 * H, res);
		add_norm(ctx, l, res, hidden + t0 * H, T, SC_RES1, LS_LN1, hidden + t0 * H);
	}
}

static void ffn_fine(const struct mcubert_ctx *ctx, uint32_t l, int32_t nf)
{
	/* the FFN's reductions run to F: their scratch lives where K and V were */
	const struct mcubert_kernel_ctx kc = scratch_of(ctx, MCUBERT_BUF_FFN_SCRATCH);
	const int32_t H = (int32_t)ctx->model.hidden, F = (int32_t)ctx->model.ffn;
	const int32_t tf = (int32_t)ctx->sched->ffn_tile;
	const int8_t *gelu = (const int8_t *)mcubert_lslot(ctx, l, LS_GELU_LUT);
	int8_t *hidden = buf(ctx, MCUBERT_BUF_HIDDEN), *inter = buf(ctx, MCUBERT_BUF_INTER);
	int16_t *res = buf(ctx, MCUBERT_BUF_RES2);
	struct lin lin;

	for (int32_t t0 = 0; t0 < nf; t0 += tf) {
		const int32_t T = nf - t0 < tf ? nf - t0 : tf;

		lin = layer_lin(ctx, l, LS_F1_W, T, H, 0, F, H, F, F);
		mcubert_linear_s8(&kc, &lin.d, &lin.p, hidden + t0 * H, inter);
		mcubert_lut_s8(inter, T * F, gelu, inter);
		lin = layer_lin(ctx, l, LS_F2_W, T, F, 0, H, F, H, H);
		mcubert_linear_s8_s16(&kc, &lin.d, &lin.p, inter, res);
		add_norm(ctx, l, res, hidden + t0 * H, T, SC_RES2, LS_LN2, hidden + t0 * H);
	}
}

/* n tokens in, the first nq rows out (nq = 1 in the last layer, as in the fine schedule) */
static void encoder_layerwise(const struct mcubert_ctx *ctx, uint32_t l, int32_t n, int32_t nq)
{
	const struct mcubert_kernel_ctx kc = kctx(ctx);
	const int32_t H = (int32_t)ctx->model.hidden, NH = (int32_t)ctx->model.heads;
	const int32_t F = (int32_t)ctx->model.ffn, dh = H / NH;
	const int32_t L = (int32_t)ctx->sched->max_seq_len;
	int8_t *hidden = buf(ctx, MCUBERT_BUF_HIDDEN), *hidden2 = buf(ctx, MCUBERT_BUF_HIDDEN2);
	int8_t *q = buf(ctx, MCUBERT_BUF_Q), *k = buf(ctx, MCUBERT_BUF_K), *v = buf(ctx, MCUBERT_BUF_V);
	int8_t *cx = buf(ctx, MCUBERT_BUF_CTX);
	int8_t *inter = buf(ctx, MCUBERT_BUF_INTER), *inter2 = buf(ctx, MCUBERT_BUF_INTER2);
	int16_t *scores = buf(ctx, MCUBERT_BUF_SCORES), *res = buf(ctx, MCUBERT_BUF_RES);
	int16_t *res2 = buf(ctx, MCUBERT_BUF_RES2);
	uint8_t *probs = buf(ctx, MCUBERT_BUF_PROBS);
	struct lin lin;

	lin = layer_lin(ctx, l, LS_Q_W, nq, H, 0, H, H, H, H);
	mcubert_linear_s8(&kc, &lin.d, &lin.p, hidden, q);
	lin = layer_lin(ctx, l, LS_K_W, n, H, 0, H, H, H, H);
	mcubert_linear_s8(&kc, &lin.d, &lin.p, hidden, k);
	lin = layer_lin(ctx, l, LS_V_W, n, H, 0, H, H, H, H);
	v_transposed(&lin, ctx);
	mcubert_linear_s8(&kc, &lin.d, &lin.p, hidden, v);
	/* one op at a time over all heads, as the planner's lifetimes assume */
	const int32_t *s = scalars(ctx, l);
	const uint16_t *lut = (const uint16_t *)mcubert_lslot(ctx, l, LS_SOFTMAX_LUT);
	struct mcubert_attn_dims ad = {nq, n, dh, H, H, n};

	for (int32_t h = 0; h < NH; h++) {
		mcubert_attn_qk_s8(&kc, &ad, q + h * dh, k + h * dh, s[2 * SC_SCORE], s[2 * SC_SCORE + 1],
				   scores + h * L * L);
	}
	for (int32_t h = 0; h < NH; h++) {
		for (int32_t i = 0; i < nq; i++) {
			mcubert_softmax_s8(scores + h * L * L + i * n, n, lut, probs + h * L * L + i * n);
		}
	}
	ad.out_stride = H;
	ad.kv_stride = L;
	for (int32_t h = 0; h < NH; h++) {
		mcubert_attn_pv_s8(&kc, &ad, probs + h * L * L, n, v + h * dh * L, s[2 * SC_CTX],
				   s[2 * SC_CTX + 1], cx + h * dh);
	}
	lin = layer_lin(ctx, l, LS_O_W, nq, H, 0, H, H, H, H);
	mcubert_linear_s8_s16(&kc, &lin.d, &lin.p, cx, res);
	add_norm(ctx, l, res, hidden, nq, SC_RES1, LS_LN1, hidden2);
	lin = layer_lin(ctx, l, LS_F1_W, nq, H, 0, F, H, F, F);
	mcubert_linear_s8(&kc, &lin.d, &lin.p, hidden2, inter);
	mcubert_lut_s8(inter, nq * F, (const int8_t *)mcubert_lslot(ctx, l, LS_GELU_LUT), inter2);
	lin = layer_lin(ctx, l, LS_F2_W, nq, F, 0, H, F, H, H);
	mcubert_linear_s8_s16(&kc, &lin.d, &lin.p, inter2, res2);
	add_norm(ctx, l, res2, hidden2, nq, SC_RES2, LS_LN2, hidden);
}

/* Tokens [0, n_first) are segment A, [n_first, n) segment B. */
static void embed(const struct mcubert_ctx *ctx, const uint16_t *ids, int32_t n, int32_t n_first)
{
	const int32_t H = (int32_t)ctx->model.hidden;
	const int32_t *ln = (const int32_t *)mcubert_slot(ctx, SLOT_EMB_LN);
	const int layerwise = ctx->sched->mode == MCUBERT_MODE_LAYERWISE;
	int8_t *hidden = buf(ctx, MCUBERT_BUF_HIDDEN);
	int16_t *row = buf(ctx, MCUBERT_BUF_ROW16);
	struct mcubert_embedding_params ep;

	mcubert_embedding_params(ctx, &ep);
	for (int32_t t = 0; t < n; t++) {
		/* layerwise keeps all embedding sums, fine reuses one row */
		int16_t *r = layerwise ? row + t * H : row;

		mcubert_embedding_s8(&ep, ids[t], (uint32_t)t, t >= n_first ? 1u : 0u, r);
		mcubert_layernorm_s8(r, H, ln, hidden + t * H);
	}
}

static void head(const struct mcubert_ctx *ctx, int32_t *logits)
{
	const int32_t H = (int32_t)ctx->model.hidden, C = (int32_t)ctx->model.labels;
	const int32_t *pool_rq = (const int32_t *)mcubert_slot(ctx, SLOT_POOL_RQ);
	const int32_t *cls_rq = (const int32_t *)mcubert_slot(ctx, SLOT_CLS_RQ);
	const struct mcubert_kernel_ctx kc = kctx(ctx);
	int8_t *pooled = buf(ctx, MCUBERT_BUF_POOLED);
	struct mcubert_linear_dims d = {1, H, 0, H, H, H, 1};
	struct mcubert_linear_params p = {(const int8_t *)mcubert_slot(ctx, SLOT_POOL_W),
					  (const int32_t *)mcubert_slot(ctx, SLOT_POOL_B), pool_rq,
					  pool_rq + H};

	mcubert_linear_s8(&kc, &d, &p, buf(ctx, MCUBERT_BUF_HIDDEN), pooled);
	mcubert_lut_s8(pooled, H, (const int8_t *)mcubert_slot(ctx, SLOT_TANH_LUT), pooled);
	d.out_count = C;
	d.y_stride = C;
	p.w = (const int8_t *)mcubert_slot(ctx, SLOT_CLS_W);
	p.bias = (const int32_t *)mcubert_slot(ctx, SLOT_CLS_B);
	p.mult = cls_rq;
	p.shift = cls_rq + C;
	mcubert_linear_s8_s32(&kc, &d, &p, pooled, logits);
}

int mcubert_classify_pair(struct mcubert_ctx *ctx, const uint16_t *token_ids, size_t n_tokens,
			  size_t n_first, int32_t *logits_out)
{
	if (ctx == NULL || ctx->magic != MCUBERT_CTX_MAGIC || token_ids == NULL || logits_out == NULL) {
		return MCUBERT_ERR_ARG;
	}
	if (n_tokens == 0 || n_tokens > ctx->sched->max_seq_len) {
		MCUBERT_LOG_ERR("classify: %u tokens, max_seq_len is %u", (unsigned)n_tokens,
				(unsigned)ctx->sched->max_seq_len);
		return MCUBERT_ERR_N_TOKENS;
	}
	if (n_first == 0 || n_first > n_tokens) {
		MCUBERT_LOG_ERR("classify: n_first %u, must be 1..%u", (unsigned)n_first,
				(unsigned)n_tokens);
		return MCUBERT_ERR_N_FIRST;
	}
	for (size_t i = 0; i < n_tokens; i++) {
		if (token_ids[i] >= ctx->model.vocab) {
			MCUBERT_LOG_ERR("classify: token %u is id %u, vocab size is %u", (unsigned)i,
					(unsigned)token_ids[i], (unsigned)ctx->model.vocab);
			return MCUBERT_ERR_TOKEN_ID;
		}
	}
	const int32_t n = (int32_t)n_tokens;

	MCUBERT_PROFILE_MARK(0);
	embed(ctx, token_ids, n, (int32_t)n_first);
	MCUBERT_PROFILE_MARK(1);
	for (uint32_t l = 0; l < ctx->model.layers; l++) {
		/* only [CLS] feeds the pooler, so the last layer needs its row alone */
		const int32_t rows = (l + 1 == ctx->model.layers) ? 1 : n;

		if (ctx->sched->mode == MCUBERT_MODE_LAYERWISE) {
			encoder_layerwise(ctx, l, n, rows);
		} else {

			attention_fine(ctx, l, n, rows);
			ffn_fine(ctx, l, rows);
		}
		MCUBERT_PROFILE_MARK(l + 2);
	}
	head(ctx, logits_out);
	MCUBERT_PROFILE_MARK(ctx->model.layers + 2);
	return MCUBERT_OK;
}

int mcubert_classify(struct mcubert_ctx *ctx, const uint16_t *token_ids, size_t n_tokens,
		     int32_t *logits_out)
{
	/* one sentence is all segment A; n_tokens == 0 is still MCUBERT_ERR_N_TOKENS */
	return mcubert_classify_pair(ctx, token_ids, n_tokens, n_tokens == 0 ? 1 : n_tokens,
				     logits_out);
}
