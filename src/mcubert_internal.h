/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Runtime internals shared by mcubert_init.c and mcubert_classify.c.
 */
#ifndef MCUBERT_INTERNAL_H_
#define MCUBERT_INTERNAL_H_

#include "mcubert/mcubert.h"
#include "mcubert/mcubert_kernels.h"
#include "mcubert_blob.h"

uint32_t mcubert_rd32(const uint8_t *p);
/* IEEE CRC-32 (zlib's); the model and the vocabulary blobs share it. */
uint32_t mcubert_crc32(uint32_t crc, const uint8_t *p, size_t n);
uint32_t mcubert_schedule_hash(const struct mcubert_schedule *s);

/* Section `slot` of the blob; offsets were validated by mcubert_init(). */
static inline const void *mcubert_slot(const struct mcubert_ctx *ctx, uint32_t slot)
{
	return ctx->blob + mcubert_rd32(ctx->blob + MCUBERT_HEADER_SIZE + 8u * slot);
}

static inline const void *mcubert_lslot(const struct mcubert_ctx *ctx, uint32_t layer, uint32_t k)
{
	return mcubert_slot(ctx, MCUBERT_SLOT_GLOBAL_COUNT + layer * MCUBERT_SLOT_LAYER_COUNT + k);
}

static inline void mcubert_embedding_params(const struct mcubert_ctx *ctx,
					    struct mcubert_embedding_params *p)
{
	const int32_t *pos_rq = (const int32_t *)mcubert_slot(ctx, SLOT_POS_RQ);

	p->vocab_size = (int32_t)ctx->model.vocab;
	p->hidden = (int32_t)ctx->model.hidden;
	p->clusters = (int32_t)ctx->model.clusters;
	p->cluster_bits = (int32_t)ctx->model.cluster_bits;
	p->cluster_info = (const uint32_t *)mcubert_slot(ctx, SLOT_CLUSTER_INFO);
	p->cluster_map = (const uint8_t *)mcubert_slot(ctx, SLOT_CLUSTER_MAP);
	p->ckpt = (const uint16_t *)mcubert_slot(ctx, SLOT_CLUSTER_CKPT);
	p->u = (const int8_t *)mcubert_slot(ctx, SLOT_EMB_U);
	p->vt = (const int8_t *)mcubert_slot(ctx, SLOT_EMB_VT);
	p->rq = (const int32_t *)mcubert_slot(ctx, SLOT_EMB_RQ);
	p->pos = (const int8_t *)mcubert_slot(ctx, SLOT_POS);
	p->pos_mult = pos_rq[0];
	p->pos_shift = pos_rq[1];
	p->segment = (const int16_t *)mcubert_slot(ctx, SLOT_SEGMENT);
	p->pos_rank = (int32_t)ctx->model.pos_rank;
	p->pos_vt = p->pos + ctx->model.max_pos * ctx->model.pos_rank;
	p->pos_rq = pos_rq;
}

#endif /* MCUBERT_INTERNAL_H_ */
