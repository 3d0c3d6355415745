/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * mcubert_init(): every check that makes mcubert_classify() memory-safe for any blob,
 * schedule and arena a caller can hand in. Nothing is copied: the blob stays in flash.
 */
#include <string.h>

#include "mcubert/mcubert.h"
#include "mcubert_blob.h"
#include "mcubert_internal.h"
#include "mcubert_port.h"

MCUBERT_LOG_DECLARE();

#define SHIFT_MIN 1
#define SHIFT_MAX 62
#define BIAS_MAX (1 << 30)
#define LN_E_MAX ((uint64_t)1 << 56)
#define SOFTMAX_ONE_MAX 32767u

uint32_t mcubert_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/* IEEE CRC-32 (zlib's), nibble table: small in flash, fast enough for init. */
uint32_t mcubert_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
	static const uint32_t tbl[16] = {
		0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu, 0x76DC4190u, 0x6B6B51F4u,
		0x4DB26158u, 0x5005713Cu, 0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
		0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu};

	crc = ~crc;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		crc = (crc >> 4) ^ tbl[crc & 15u];
		crc = (crc >> 4) ^ tbl[crc & 15u];
	}
	return ~crc;
}

uint32_t mcubert_schedule_hash(const struct mcubert_schedule *s)
{
	const uint32_t *w = (const uint32_t *)s;
	uint32_t h = 0x811C9DC5u;

	for (size_t i = 0; i < MCUBERT_SCHEDULE_WORDS; i++) {
		if (i == 1) {
			continue; /* the hash itself */
		}
		for (unsigned b = 0; b < 4; b++) {
			h = (h ^ ((w[i] >> (8 * b)) & 0xFFu)) * 0x01000193u;
		}
	}
	return h;
}

/*
 * Byte size every buffer needs under this schedule (0 = unused); mirrors planner.py.
 * 64-bit: layerwise SCORES (2 * NH * L * L) reaches 2^35 within the bounds, and a wrapped
 * size would pass the buf_size check below.
 */
static void required_sizes(const struct mcubert_schedule *s, uint64_t req[MCUBERT_BUF_COUNT])
{
	const uint64_t L = s->max_seq_len, H = s->hidden, F = s->ffn, NH = s->heads;
	const uint64_t dh = H / NH;

	memset(req, 0, sizeof(uint64_t) * MCUBERT_BUF_COUNT);
	/* planner.*scratch_words(): four unpacked rows of the longest reduction (bounded: 32 bits) */
	const uint32_t kh = MCUBERT_KP8(s->hidden), kf = MCUBERT_KP8(s->ffn);
	const uint32_t kl = MCUBERT_KP8(s->max_seq_len), khl = kh > kl ? kh : kl;

	req[MCUBERT_BUF_HIDDEN] = L * H;
	req[MCUBERT_BUF_POOLED] = H;
	if (s->mode == MCUBERT_MODE_FINE) {
		const uint64_t tq = s->q_tile, tf = s->ffn_tile, kv = s->per_head ? dh : H;

		/* attention (in_dim H, L keys) and head; the FFN (in_dim H, F) has its own */
		req[MCUBERT_BUF_SCRATCH] = 8 * khl;
		req[MCUBERT_BUF_FFN_SCRATCH] = 8 * (kh > kf ? kh : kf);
		req[MCUBERT_BUF_ROW16] = 2 * H;
		/* no Q: the queries live in CTX where their context goes (mcubert_classify.c) */
		req[MCUBERT_BUF_K] = L * kv;
		req[MCUBERT_BUF_V] = L * kv;
		req[MCUBERT_BUF_SCORES] = 2 * tq * L;
		req[MCUBERT_BUF_CTX] = (s->per_head ? L : tq) * H;
		req[MCUBERT_BUF_RES] = 2 * tq * H;
		req[MCUBERT_BUF_INTER] = tf * F;
		req[MCUBERT_BUF_RES2] = 2 * tf * H;
	} else {
		req[MCUBERT_BUF_SCRATCH] = 8 * (khl > kf ? khl : kf);
		req[MCUBERT_BUF_ROW16] = 2 * L * H;
		req[MCUBERT_BUF_Q] = L * H;
		req[MCUBERT_BUF_K] = L * H;
		req[MCUBERT_BUF_V] = L * H;
		req[MCUBERT_BUF_SCORES] = 2 * NH * L * L;
		req[MCUBERT_BUF_PROBS] = NH * L * L;
		req[MCUBERT_BUF_CTX] = L * H;
		req[MCUBERT_BUF_RES] = 2 * L * H;
		req[MCUBERT_BUF_HIDDEN2] = L * H;
		req[MCUBERT_BUF_INTER] = L * F;
		req[MCUBERT_BUF_INTER2] = L * F;
		req[MCUBERT_BUF_RES2] = 2 * L * H;
	}
}

static int in_range(uint32_t v, uint32_t lo, uint32_t hi)
{
	return v >= lo && v <= hi;
}

static int check_schedule(const struct mcubert_schedule *s, size_t arena_len)
{
	uint64_t req[MCUBERT_BUF_COUNT];

	if (s->version != MCUBERT_SCHEDULE_VERSION) {
		return MCUBERT_ERR_VERSION;
	}
	if (mcubert_schedule_hash(s) != s->hash) {
		return MCUBERT_ERR_SCHEDULE;
	}
	/* Bounds first: with them no size product overflows required_sizes()'s 64 bits. */
	if (!in_range(s->hidden, 1, MCUBERT_MAX_HIDDEN) || !in_range(s->heads, 1, s->hidden) ||
	    s->hidden % s->heads != 0 || s->hidden / s->heads > MCUBERT_MAX_HEAD_DIM ||
	    !in_range(s->layers, 1, MCUBERT_MAX_LAYERS) || !in_range(s->ffn, 1, MCUBERT_MAX_FFN) ||
	    !in_range(s->max_positions, 1, MCUBERT_MAX_POSITIONS) ||
	    !in_range(s->max_seq_len, 1, s->max_positions) ||
	    !in_range(s->vocab_size, 1, MCUBERT_MAX_VOCAB) ||
	    !in_range(s->labels, 1, MCUBERT_MAX_LABELS) ||
	    !in_range(s->clusters, 1, MCUBERT_MAX_CLUSTERS) || s->mode > MCUBERT_MODE_LAYERWISE ||
	    s->per_head > 1) {
		return MCUBERT_ERR_CONFIG;
	}
	if (s->mode == MCUBERT_MODE_FINE &&
	    (!in_range(s->q_tile, 1, MCUBERT_MAX_TILE) || !in_range(s->ffn_tile, 1, MCUBERT_MAX_TILE))) {
		return MCUBERT_ERR_CONFIG;
	}
	required_sizes(s, req);
	for (int i = 0; i < MCUBERT_BUF_COUNT; i++) {
		if (req[i] == 0) {
			continue;
		}
		if (s->buf_size[i] < req[i] || s->buf_offset[i] % MCUBERT_ALIGN != 0 ||
		    s->buf_offset[i] > s->arena_size || s->arena_size - s->buf_offset[i] < s->buf_size[i]) {
			return MCUBERT_ERR_SCHEDULE;
		}
	}
	if (arena_len < s->arena_size) {
		return MCUBERT_ERR_ARENA;
	}
	return MCUBERT_OK;
}

static int rq_ok(const int32_t *rq, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (rq[i] < 0 || rq[n + i] < SHIFT_MIN || rq[n + i] > SHIFT_MAX) {
			return 0;
		}
	}
	return 1;
}

static int bias_ok(const int32_t *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		if (b[i] < -BIAS_MAX || b[i] > BIAS_MAX) {
			return 0;
		}
	}
	return 1;
}

static int ln_ok(const int32_t *p, uint32_t h)
{
	uint64_t e = (uint64_t)(uint32_t)p[2 * h] | ((uint64_t)(uint32_t)p[2 * h + 1] << 32);

	return e >= 1 && e <= LN_E_MAX;
}

/* Expected byte size of every slot, from the (already bounded) config. */
static uint32_t slot_expected(const struct mcubert_model *m, uint32_t slot, uint32_t sum_nr,
			      uint32_t sum_hr)
{
	const uint32_t H = m->hidden, F = m->ffn, C = m->labels, K = m->clusters, V = m->vocab;
	const uint32_t HH = H * MCUBERT_KP8(H); /* weights: MCUBERT_LAYOUT_K8 */

	if (slot >= MCUBERT_SLOT_GLOBAL_COUNT) {
		switch ((slot - MCUBERT_SLOT_GLOBAL_COUNT) % MCUBERT_SLOT_LAYER_COUNT) {
		case LS_Q_W: case LS_K_W: case LS_V_W: case LS_O_W: return HH;
		case LS_Q_B: case LS_K_B: case LS_V_B: case LS_O_B: case LS_F2_B: return 4 * H;
		case LS_Q_RQ: case LS_K_RQ: case LS_V_RQ: case LS_O_RQ: case LS_F2_RQ: return 8 * H;
		case LS_F1_W: return F * MCUBERT_KP8(H);
		case LS_F2_W: return H * MCUBERT_KP8(F);
		case LS_F1_B: return 4 * F;
		case LS_F1_RQ: return 8 * F;
		case LS_LN1: case LS_LN2: return 8 * H + 8;
		case LS_SOFTMAX_LUT: return 512;
		case LS_GELU_LUT: return 256;
		default: return 8 * SC_COUNT;
		}
	}
	switch (slot) {
	case SLOT_CLUSTER_INFO: return 8 * K;
	case SLOT_CLUSTER_MAP: return (V * m->cluster_bits + 7) / 8;
	case SLOT_CLUSTER_CKPT: return 2 * K * ((V + MCUBERT_CKPT_BLOCK - 1) / MCUBERT_CKPT_BLOCK);
	case SLOT_EMB_U: return sum_nr;
	case SLOT_EMB_VT: return sum_hr;
	case SLOT_EMB_RQ: return 8 * H * K;
	/* low rank: A' [max_pos][k] then B'^T [H][k], per-channel requantisation */
	case SLOT_POS: return m->pos_rank ? (m->max_pos + H) * m->pos_rank : m->max_pos * H;
	case SLOT_POS_RQ: return m->pos_rank ? 8 * H : 8;
	case SLOT_EMB_LN: return 8 * H + 8;
	case SLOT_POOL_W: return HH;
	case SLOT_POOL_B: return 4 * H;
	case SLOT_POOL_RQ: return 8 * H;
	case SLOT_TANH_LUT: return 256;
	case SLOT_CLS_W: return C * MCUBERT_KP8(H);
	case SLOT_CLS_B: return 4 * C;
	case SLOT_SEGMENT: return 2 * H;
	default: return 8 * C;
	}
}

/* Clusters counted per vocabulary pass: bounds mcubert_init()'s stack (Zephyr's default
 * main stack is 1 KiB) at the price of ceil(K / 64) passes, one for any usual K. */
#define CHECK_CLUSTERS_PER_PASS 64u

static int check_embedding(const struct mcubert_ctx *ctx, const struct mcubert_model *m)
{
	struct mcubert_embedding_params ep;
	uint32_t counts[CHECK_CLUSTERS_PER_PASS];

	mcubert_embedding_params(ctx, &ep);
	/* Walk the vocabulary: ids < K and checkpoints equal the running counts, so every row
	 * the kernel computes is < n_c. */
	for (uint32_t k0 = 0; k0 < m->clusters; k0 += CHECK_CLUSTERS_PER_PASS) {
		const uint32_t nk = m->clusters - k0 < CHECK_CLUSTERS_PER_PASS
					    ? m->clusters - k0 : CHECK_CLUSTERS_PER_PASS;

		memset(counts, 0, sizeof(counts));
		for (uint32_t t = 0; t < m->vocab; t++) {
			const uint32_t c = mcubert_embedding_cluster(&ep, t);

			if (c >= m->clusters) {
				return MCUBERT_ERR_CONFIG;
			}
			if (t % MCUBERT_CKPT_BLOCK == 0) {
				const uint16_t *ck = ep.ckpt + (t / MCUBERT_CKPT_BLOCK) * m->clusters + k0;

				for (uint32_t k = 0; k < nk; k++) {
					if (ck[k] != counts[k]) {
						return MCUBERT_ERR_CONFIG;
					}
				}
			}
			if (c - k0 < nk) {
				counts[c - k0]++;
			}
		}
		for (uint32_t k = 0; k < nk; k++) {
			if (counts[k] != ep.cluster_info[2 * (k0 + k)]) {
				return MCUBERT_ERR_CONFIG;
			}
		}
	}
	for (uint32_t k = 0; k < m->clusters; k++) {
		if (!rq_ok(ep.rq + 2 * m->hidden * k, m->hidden)) {
			return MCUBERT_ERR_CONFIG;
		}
	}
	return MCUBERT_OK;
}

static int check_values(const struct mcubert_ctx *ctx, const struct mcubert_model *m)
{
	const uint32_t H = m->hidden, F = m->ffn;
	int err = check_embedding(ctx, m);

	if (err != MCUBERT_OK) {
		return err;
	}
	/* position requantisation: one pair (dense) or one per hidden channel (low rank) */
	if (!rq_ok(mcubert_slot(ctx, SLOT_POS_RQ), m->pos_rank ? H : 1) ||
	    !ln_ok(mcubert_slot(ctx, SLOT_EMB_LN), H) ||
	    !bias_ok(mcubert_slot(ctx, SLOT_POOL_B), H) || !rq_ok(mcubert_slot(ctx, SLOT_POOL_RQ), H) ||
	    !bias_ok(mcubert_slot(ctx, SLOT_CLS_B), m->labels) ||
	    !rq_ok(mcubert_slot(ctx, SLOT_CLS_RQ), m->labels)) {
		return MCUBERT_ERR_CONFIG;
	}
	for (uint32_t l = 0; l < m->layers; l++) {
		static const uint8_t lin_b[] = {LS_Q_B, LS_K_B, LS_V_B, LS_O_B, LS_F1_B, LS_F2_B};
		const uint16_t *lut = mcubert_lslot(ctx, l, LS_SOFTMAX_LUT);
		const int32_t *sc = mcubert_lslot(ctx, l, LS_SCALARS);

		for (unsigned i = 0; i < sizeof(lin_b); i++) {
			uint32_t n = lin_b[i] == LS_F1_B ? F : H;

			if (!bias_ok(mcubert_lslot(ctx, l, lin_b[i]), n) ||
			    !rq_ok(mcubert_lslot(ctx, l, lin_b[i] + 1), n)) {
				return MCUBERT_ERR_CONFIG;
			}
		}
		if (!ln_ok(mcubert_lslot(ctx, l, LS_LN1), H) || !ln_ok(mcubert_lslot(ctx, l, LS_LN2), H)) {
			return MCUBERT_ERR_CONFIG;
		}
		for (unsigned i = 0; i < SC_COUNT; i++) {
			if (sc[2 * i] < 0 || sc[2 * i + 1] < SHIFT_MIN || sc[2 * i + 1] > SHIFT_MAX) {
				return MCUBERT_ERR_CONFIG;
			}
		}
		/* lut[0] > 0 keeps the softmax sum non-zero */
		if (lut[0] == 0) {
			return MCUBERT_ERR_CONFIG;
		}
		for (unsigned i = 0; i < 256; i++) {
			if (lut[i] > SOFTMAX_ONE_MAX) {
				return MCUBERT_ERR_CONFIG;
			}
		}
	}
	return MCUBERT_OK;
}

static int parse_header(struct mcubert_ctx *ctx, const struct mcubert_schedule *s,
			const uint8_t *blob, size_t blob_len)
{
	struct mcubert_model *m = &ctx->model;

	if (blob_len < MCUBERT_HEADER_SIZE) {
		return MCUBERT_ERR_TRUNCATED;
	}
	if (mcubert_rd32(blob) != MCUBERT_BLOB_MAGIC) {
		return MCUBERT_ERR_MAGIC;
	}
	if ((mcubert_rd32(blob + 4) & 0xFFFFu) != MCUBERT_BLOB_VERSION ||
	    (mcubert_rd32(blob + 4) >> 16) != MCUBERT_LAYOUT_K8) {
		return MCUBERT_ERR_VERSION;
	}
	const uint32_t total = mcubert_rd32(blob + 8);

	if (total < MCUBERT_HEADER_SIZE || total > blob_len) {
		return MCUBERT_ERR_TRUNCATED;
	}
	if (mcubert_crc32(0, blob + 16, total - 16) != mcubert_rd32(blob + 12)) {
		return MCUBERT_ERR_CRC;
	}
	if (mcubert_rd32(blob + 16) != s->hash) {
		return MCUBERT_ERR_SCHEDULE;
	}
	const uint8_t *cfg = blob + 24;

	m->vocab = mcubert_rd32(cfg + 4 * CFG_VOCAB);
	m->hidden = mcubert_rd32(cfg + 4 * CFG_HIDDEN);
	m->layers = mcubert_rd32(cfg + 4 * CFG_LAYERS);
	m->heads = mcubert_rd32(cfg + 4 * CFG_HEADS);
	m->ffn = mcubert_rd32(cfg + 4 * CFG_FFN);
	m->max_pos = mcubert_rd32(cfg + 4 * CFG_MAX_POS);
	m->labels = mcubert_rd32(cfg + 4 * CFG_LABELS);
	m->clusters = mcubert_rd32(cfg + 4 * CFG_CLUSTERS);
	m->cluster_bits = mcubert_rd32(cfg + 4 * CFG_CLUSTER_BITS);
	m->logit_scale_bits = mcubert_rd32(cfg + 4 * CFG_LOGIT_SCALE);
	m->pos_rank = mcubert_rd32(cfg + 4 * CFG_POS_RANK);
	/* The schedule was bounds-checked; the blob must describe the same model. */
	if (m->vocab != s->vocab_size || m->hidden != s->hidden || m->layers != s->layers ||
	    m->heads != s->heads || m->ffn != s->ffn || m->max_pos != s->max_positions ||
	    m->labels != s->labels || m->clusters != s->clusters) {
		return MCUBERT_ERR_SCHEDULE;
	}
	{
		uint32_t want_bits = 0;

		while (want_bits < 8 && m->clusters > (1u << want_bits)) {
			want_bits = want_bits == 0 ? 1 : 2 * want_bits;
		}
		/* pos_rank <= hidden keeps the SLOT_POS size below 2^32 */
		if (m->cluster_bits != want_bits ||
		    mcubert_rd32(cfg + 4 * CFG_CKPT_BLOCK) != MCUBERT_CKPT_BLOCK ||
		    m->pos_rank > m->hidden) {
			return MCUBERT_ERR_CONFIG;
		}
	}
	ctx->n_slots = mcubert_rd32(blob + 20);
	if (ctx->n_slots != MCUBERT_SLOT_GLOBAL_COUNT + m->layers * MCUBERT_SLOT_LAYER_COUNT ||
	    (uint64_t)MCUBERT_HEADER_SIZE + 8u * (uint64_t)ctx->n_slots > total) {
		return MCUBERT_ERR_LAYOUT;
	}
	return MCUBERT_OK;
}

static int check_slots(struct mcubert_ctx *ctx, uint32_t total)
{
	const struct mcubert_model *m = &ctx->model;
	uint32_t sum_nr = 0, sum_hr = 0, sum_n = 0;

	for (uint32_t i = 0; i < ctx->n_slots; i++) {
		const uint8_t *e = ctx->blob + MCUBERT_HEADER_SIZE + 8 * i;
		uint32_t off = mcubert_rd32(e), size = mcubert_rd32(e + 4);

		if (off % MCUBERT_ALIGN != 0 || off > total || total - off < size ||
		    off < MCUBERT_HEADER_SIZE + 8 * ctx->n_slots) {
			return MCUBERT_ERR_LAYOUT;
		}
		if (i == SLOT_CLUSTER_INFO) {
			const uint8_t *info = ctx->blob + off;

			if (size != 8 * m->clusters) {
				return MCUBERT_ERR_LAYOUT;
			}
			/* ranks <= hidden and n <= vocab keep these sums below 2^32 */
			for (uint32_t k = 0; k < m->clusters; k++) {
				uint32_t n = mcubert_rd32(info + 8 * k), r = mcubert_rd32(info + 8 * k + 4);

				if (n > m->vocab || r > m->hidden) {
					return MCUBERT_ERR_CONFIG;
				}
				sum_n += n;
				sum_nr += n * r;
				sum_hr += m->hidden * r;
			}
			if (sum_n != m->vocab) {
				return MCUBERT_ERR_CONFIG;
			}
		}
		if (size != slot_expected(m, i, sum_nr, sum_hr)) {
			return MCUBERT_ERR_LAYOUT;
		}
	}
	return MCUBERT_OK;
}

int mcubert_init(struct mcubert_ctx *ctx, const struct mcubert_schedule *schedule,
		 const uint8_t *blob, size_t blob_len, uint8_t *arena, size_t arena_len)
{
	int err;

	if (ctx == NULL) {
		return MCUBERT_ERR_ARG;
	}
	memset(ctx, 0, sizeof(*ctx));
	if (schedule == NULL || blob == NULL || (arena == NULL && arena_len > 0)) {
		return MCUBERT_ERR_ARG;
	}
	if ((uintptr_t)blob % MCUBERT_ALIGN != 0 || (uintptr_t)arena % MCUBERT_ALIGN != 0 ||
	    (uintptr_t)schedule % sizeof(uint32_t) != 0) {
		return MCUBERT_ERR_ALIGN;
	}
	err = check_schedule(schedule, arena_len);
	if (err == MCUBERT_OK) {
		err = parse_header(ctx, schedule, blob, blob_len);
	}
	if (err == MCUBERT_OK) {
		ctx->blob = blob;
		err = check_slots(ctx, mcubert_rd32(blob + 8));
	}
	if (err == MCUBERT_OK) {
		err = check_values(ctx, &ctx->model);
	}
	if (err != MCUBERT_OK) {
		memset(ctx, 0, sizeof(*ctx));
		MCUBERT_LOG_ERR("init: %s (%d)", mcubert_strerror(err), err);
		return err;
	}
	ctx->sched = schedule;
	ctx->arena = arena;
	ctx->magic = MCUBERT_CTX_MAGIC;
	MCUBERT_LOG_INF("model: vocab %u, hidden %u, %u layers, %u labels; arena %u of %u bytes, "
			"max_seq_len %u, %s kernels",
			(unsigned)ctx->model.vocab, (unsigned)ctx->model.hidden,
			(unsigned)ctx->model.layers, (unsigned)ctx->model.labels,
			(unsigned)schedule->arena_size, (unsigned)arena_len,
			(unsigned)schedule->max_seq_len, mcubert_kernel_variant());
	return MCUBERT_OK;
}


uint32_t mcubert_num_labels(const struct mcubert_ctx *ctx)
{
	return (ctx != NULL && ctx->magic == MCUBERT_CTX_MAGIC) ? ctx->model.labels : 0;
}

uint32_t mcubert_logit_scale_bits(const struct mcubert_ctx *ctx)
{
	return (ctx != NULL && ctx->magic == MCUBERT_CTX_MAGIC) ? ctx->model.logit_scale_bits : 0;
}

const char *mcubert_strerror(int err)
{
	switch (err) {
	case MCUBERT_OK: return "ok";
	case MCUBERT_ERR_ARG: return "invalid argument (NULL pointer or context not initialised)";
	case MCUBERT_ERR_TRUNCATED: return "blob truncated";
	case MCUBERT_ERR_MAGIC: return "not an mcubert blob (bad magic)";
	case MCUBERT_ERR_VERSION: return "unsupported blob, schedule or weight-layout version";
	case MCUBERT_ERR_CRC: return "blob CRC mismatch (corrupted)";
	case MCUBERT_ERR_SCHEDULE: return "blob and schedule do not match, or schedule corrupted";
	case MCUBERT_ERR_CONFIG: return "model configuration or parameters out of bounds";
	case MCUBERT_ERR_LAYOUT: return "blob section misplaced, misaligned or of the wrong size";
	case MCUBERT_ERR_ALIGN: return "blob or arena not 16-byte aligned";
	case MCUBERT_ERR_ARENA: return "arena too small for the schedule";
	case MCUBERT_ERR_N_TOKENS: return "n_tokens is 0 or above max_seq_len";
	case MCUBERT_ERR_TOKEN_ID: return "token id out of vocabulary";
	case MCUBERT_ERR_N_FIRST: return "n_first is 0 or above n_tokens";
	case MCUBERT_ERR_MAX_IDS: return "max_ids leaves no room for [CLS] and [SEP]";
	case MCUBERT_ERR_SCRATCH: return "tokenizer scratch smaller than mcubert_tokenize_buffer_size()";
	case 1: return "text truncated to max_ids tokens"; /* MCUBERT_TOKENIZE_TRUNCATED */
	default: return "unknown error";
	}
}
