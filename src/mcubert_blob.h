/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Weight blob layout (written by python/mcubert/blob.py; all little-endian):
 *   0  u32 magic "MCBB"     4  u16 version     6  u16 weight layout
 *   8  u32 total length     12 u32 CRC-32 (IEEE) of bytes [16, total length)
 *   16 u32 schedule hash    20 u32 slot count
 *   24 u32 config[12]       72 slot table: (u32 offset, u32 size) per slot
 * config[CFG_POS_RANK] (version 3) is 0 for a dense position table, or k: SLOT_POS then holds
 * A' int8 [max_pos][k] followed by B'^T int8 [hidden][k], and SLOT_POS_RQ per-channel
 * mult[hidden], shift[hidden] instead of one (mult, shift) pair.
 * Slots are 16-aligned sections: MCUBERT_SLOT_GLOBAL_COUNT global ones, then
 * MCUBERT_SLOT_LAYER_COUNT per encoder layer.
 */
#ifndef MCUBERT_BLOB_H_
#define MCUBERT_BLOB_H_

#define MCUBERT_BLOB_MAGIC 0x4242434Du /* "MCBB" */
#define MCUBERT_LAYOUT_ROW_MAJOR 0u
#define MCUBERT_LAYOUT_OC2_K4 1u /* blob <= v3 era: channel pairs interleaved; no longer read */
/*
 * Linear weights W[O][K] (q/k/v/o/f1/f2, pooler, classifier): one row per output channel,
 * K zero-padded to Kp8 = roundup(K, 8): W[o][k] is at o*Kp8 + k. The SIMD kernel works on
 * 4 tokens x 1 channel and loads 8 weights (two 4-input blocks) with one LDRD, so every row
 * is 8-aligned and has no K tail; the portable kernel reads the same rows.
 */
#define MCUBERT_LAYOUT_K8 2u
#define MCUBERT_KP8(k) (((k) + 7u) & ~7u)
#define MCUBERT_HEADER_SIZE 72u

enum mcubert_cfg {
	CFG_VOCAB,
	CFG_HIDDEN,
	CFG_LAYERS,
	CFG_HEADS,
	CFG_FFN,
	CFG_MAX_POS,
	CFG_LABELS,
	CFG_CLUSTERS,
	CFG_CLUSTER_BITS,
	CFG_CKPT_BLOCK,
	CFG_LOGIT_SCALE,
	CFG_POS_RANK,
	CFG_COUNT
};

enum mcubert_slot {
	SLOT_CLUSTER_INFO,
	SLOT_CLUSTER_MAP,
	SLOT_CLUSTER_CKPT,
	SLOT_EMB_U,
	SLOT_EMB_VT,
	SLOT_EMB_RQ,
	SLOT_POS,
	SLOT_POS_RQ,
	SLOT_EMB_LN,
	SLOT_POOL_W,
	SLOT_POOL_B,
	SLOT_POOL_RQ,
	SLOT_TANH_LUT,
	SLOT_CLS_W,
	SLOT_CLS_B,
	SLOT_CLS_RQ,
	SLOT_SEGMENT, /* blob version 2: int16[H], segment B minus segment A on the embedding grid */
	MCUBERT_SLOT_GLOBAL_COUNT
};

enum mcubert_layer_slot {
	LS_Q_W, LS_Q_B, LS_Q_RQ,
	LS_K_W, LS_K_B, LS_K_RQ,
	LS_V_W, LS_V_B, LS_V_RQ,
	LS_O_W, LS_O_B, LS_O_RQ,
	LS_F1_W, LS_F1_B, LS_F1_RQ,
	LS_F2_W, LS_F2_B, LS_F2_RQ,
	LS_LN1, LS_LN2, LS_SOFTMAX_LUT, LS_GELU_LUT, LS_SCALARS,
	MCUBERT_SLOT_LAYER_COUNT
};

/* LS_SCALARS: (mult, shift) pairs */
enum mcubert_scalar { SC_SCORE, SC_CTX, SC_RES1, SC_RES2, SC_COUNT };

#endif /* MCUBERT_BLOB_H_ */
