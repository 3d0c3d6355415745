/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Clustered low-rank embedding: token t of cluster c at row j is U_c[j] . V_c, plus the
 * position embedding (segment A folded in), plus the segment-B row for the second sentence
 * of a pair. Rows come from the checkpoint table (tokens of c before t's block
 * of 64) plus a scan of the block, so the index costs ~2 bits + 2K/64 bytes per token.
 * The position table is dense, or low rank (A' . B'^T, segment A folded into a column of A').
 * SIMD path: the rank-r dot products four output channels at a time; on Cortex-M with a rank
 * that is a multiple of 16, two at a time in assembly over an unpacked U row, with each
 * channel's requantisation and dense position term in the same loop.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

uint32_t mcubert_embedding_cluster(const struct mcubert_embedding_params *p, uint32_t token)
{
	const uint32_t bits = (uint32_t)p->cluster_bits;

	if (bits == 0) {
		return 0;
	}
	const uint32_t at = token * bits;

	return (p->cluster_map[at >> 3] >> (at & 7u)) & ((1u << bits) - 1u);
}

/*
 * out[h] = sat16(out[h] + sat16(requant(A'[position] . B'^T[h], mult[h], shift[h]))): a rank-k
 * position table costs (max_positions + hidden) * k bytes instead of max_positions * hidden.
 */
static void add_low_rank_position(const struct mcubert_embedding_params *p, uint32_t position,
				  int16_t *out)
{
	const int32_t hidden = p->hidden, k = p->pos_rank;
	const int8_t *a = p->pos + position * (uint32_t)k;
	const int32_t *mult = p->pos_rq;
	const int32_t *shift = mult + hidden;
	int32_t h = 0;

#if MCUBERT_DSP
	/* two channels per step, as the word vector above */
	const int32_t k4 = k >> 2;

	for (; h + 2 <= hidden; h += 2) {
		const int8_t *b0 = p->pos_vt + h * k;
		int32_t acc[2] = {0, 0};

		mcubert_dot_1x2_s8(a, b0, k, k4, acc);
		for (int32_t j = k4 * 4; j < k; j++) {
			acc[0] += a[j] * b0[j];
			acc[1] += a[j] * b0[k + j];
		}
		for (int32_t t = 0; t < 2; t++) {
			const int32_t pe = mcubert_sat16_32(
				mcubert_requant_s32(acc[t], mult[h + t], shift[h + t]));

			out[h + t] = mcubert_sat16_32((int32_t)out[h + t] + pe);
		}
	}
#endif
	for (; h < hidden; h++) {
		const int8_t *b = p->pos_vt + h * k;
		int32_t acc = 0;

		for (int32_t j = 0; j < k; j++) {
			acc += (int32_t)a[j] * (int32_t)b[j];
		}
		const int32_t pe = mcubert_sat16_32(mcubert_requant_s32(acc, mult[h], shift[h]));

		out[h] = mcubert_sat16_32((int32_t)out[h] + pe);
	}
}

#if MCUBERT_DSP && MCUBERT_MAC_ASM
#define EMB_ASM_MAX_RANK 128

struct emb_job {
	int16_t *out;         /*  0: channel h's output, h the first channel of the pair */
	const int32_t *mult;  /*  4: mult[h] */
	const int32_t *shift; /*  8: shift[h] */
	const int8_t *pos;    /* 12: pos[h] */
	int32_t pm;           /* 16: position term ((pm * pos) >> 16 + prnd) >> psh; pm 0: none */
	int32_t prnd;         /* 20 */
	int32_t psh;          /* 24 */
	int16_t *out_end;     /* 28: out past the last pair */
	int32_t rank;         /* 32: a multiple of 16 */
	const int32_t *ue;    /* 36: end of the unpacked U row (2 words per 4 elements) */
	const int8_t *vt;     /* 40: V^T row of channel 0 (rank bytes per row, aligned) */
};

/*
 * U . V^T[h] for two channels per step: per 16 elements two LDMs of the unpacked U row, four
 * LDRDs of V^T, 16 SXTB16 and 16 SMLADs (32 MACs). r1 walks U, r2 and r3 the two rows,
 * r4/r5 accumulate, lr marks U's end.
 */
#define EMB_ROW(rp, acc)                                                                          \
	"ldrd r10, r11, [" rp "], #8\n\t"                                                         \
	"sxtb16 r12, r10\n\t"                                                                     \
	"smlad " acc ", r6, r12, " acc "\n\t"                                                     \
	"sxtb16 r10, r10, ror #8\n\t"                                                             \
	"smlad " acc ", r7, r10, " acc "\n\t"                                                     \
	"sxtb16 r12, r11\n\t"                                                                     \
	"smlad " acc ", r8, r12, " acc "\n\t"                                                     \
	"sxtb16 r11, r11, ror #8\n\t"                                                             \
	"smlad " acc ", r9, r11, " acc "\n\t"
#define EMB_STEP "ldm r1!, {r6-r9}\n\t" EMB_ROW("r2", "r4") EMB_ROW("r3", "r5")
/*
 * One channel's output from its dot product: sat16(requant(acc) + pe), the requantisation as
 * ((hi(acc * mult) >> (shift - 33)) + 1) >> 1 (mcubert_requant_s32) with the last shift in
 * the SSAT. A shift < 33 takes the stub at label `stub`, which comes back to `back`.
 * pe needs no saturation (the caller checks). r0/r6/r7/r8 walk out/mult/shift/pos, r9-r11
 * hold pm, prnd, psh.
 */
#define EMB_OUT(acc, stub, back)                                                                  \
	"ldr r1, [r6], #4\n\t"                                                                    \
	"ldr r12, [r7], #4\n\t"                                                                   \
	"subs r12, r12, #33\n\t"                                                                  \
	"bmi " stub "f\n\t"                                                                       \
	"smmul " acc ", " acc ", r1\n\t"                                                          \
	"asr " acc ", " acc ", r12\n\t"                                                           \
	"add " acc ", " acc ", #1\n\t"                                                            \
	"ssat " acc ", #16, " acc ", asr #1\n" back ":\n\t"                                       \
	"ldrsb r1, [r8], #1\n\t"                                                                  \
	"smlawb r1, r9, r1, r10\n\t"                                                              \
	"asr r1, r1, r11\n\t"                                                                     \
	"add " acc ", " acc ", r1\n\t"                                                            \
	"ssat " acc ", #16, " acc "\n\t"                                                          \
	"strh " acc ", [r0], #2\n\t"
/* shift 32 is (acc * mult + 2^31) >> 32, SMMULR; a shift < 32 leaves (label 9) */
#define EMB_OUT32(acc, stub, back)                                                                \
	stub ":\n\t"                                                                              \
	"cmn r12, #1\n\t"                                                                         \
	"bne 9b\n\t"                                                                              \
	"smmulr " acc ", " acc ", r1\n\t"                                                         \
	"ssat " acc ", #16, " acc "\n\t"                                                          \
	"b " back "b\n"

/*
 * Channel pairs of one token, dot products, requantisation and position term in one loop.
 * The job is copied to the stack frame (offsets above) and two zero words follow it: the
 * accumulators' start. Returns out at the first pair not written.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
__attribute__((naked, noinline)) static int16_t *emb_pairs(const struct emb_job *job)
{
	__asm__ volatile("push {r4-r11, lr}\n\t"
			 "movs r2, #0\n\t"
			 "movs r3, #0\n\t"
			 "push {r2, r3}\n\t"
			 "ldr r11, [r0, #40]\n\t"
			 "ldm r0, {r1-r10}\n\t"
			 "push {r1-r10}\n\t"
			 "mov r12, r9\n\t"
			 "mov lr, r10\n\t"
			 "mov r2, r11\n\t"
			 "add r3, r2, r12\n\t"
			 "sub r1, lr, r12, lsl #1\n\t"
			 "movs r4, #0\n\t"
			 "movs r5, #0\n"
			 "2:\n\t" EMB_STEP EMB_STEP
			 "cmp r1, lr\n\t"
			 "bne 2b\n\t"
			 "ldm sp, {r0, r6-r11}\n\t" EMB_OUT("r4", "3", "4") EMB_OUT("r5", "5", "6")
			 "stm sp, {r0, r6, r7, r8}\n\t"
			 /* r3 has walked row h+1: it is row h+2 */
			 "ldrd r9, r12, [sp, #28]\n\t"
			 "ldrd r4, r5, [sp, #40]\n\t"
			 "sub r1, lr, r12, lsl #1\n\t"
			 "mov r2, r3\n\t"
			 "add r3, r3, r12\n\t"
			 "cmp r0, r9\n\t"
			 "bne 2b\n"
			 "9:\n\t"
			 "ldr r0, [sp]\n\t"
			 "add sp, sp, #48\n\t"
			 "pop {r4-r11, pc}\n" EMB_OUT32("r4", "3", "4") EMB_OUT32("r5", "5", "6"));
}
#pragma GCC diagnostic pop

/*
 * Channels [0, hidden rounded down to 2) of a token; returns how many it wrote. ps >= 17:
 * the position term (pos row pos, one requantisation (pm, ps), no saturation needed) goes in
 * the same pass as requant(pm * pos, 2^(ps-17), ps-16) by SMLAWB; pos NULL: none.
 */
static int32_t word_asm(const int8_t *u, const int8_t *vt, int32_t rank, int32_t hidden,
			const int32_t *mult, const int32_t *shift, const int8_t *pos, int32_t pm,
			int32_t ps, int16_t *out)
{
	int32_t uu[EMB_ASM_MAX_RANK / 2];

	for (int32_t k = 0; k < rank; k += 4) {
		const uint32_t x = mcubert_rd4(u + k);

		uu[k / 2] = __sxtb16(x);
		uu[k / 2 + 1] = mcubert_sxtb16_ror8(x);
	}
	/* without a position term: pm = 0 makes it 0, and pos only needs to be readable */
	const struct emb_job job = {out, mult, shift, pos != NULL ? pos : vt,
				    pos != NULL ? pm : 0, pos != NULL ? 1 << (ps - 17) : 0,
				    pos != NULL ? ps - 16 : 0, out + (hidden & ~1), rank,
				    uu + rank / 2, vt};

	return (int32_t)(emb_pairs(&job) - out);
}
#endif

void mcubert_embedding_s8(const struct mcubert_embedding_params *p, uint32_t token,
			  uint32_t position, uint32_t segment, int16_t *out)
{
	const int32_t hidden = p->hidden;
	const uint32_t c = mcubert_embedding_cluster(p, token);
	const uint32_t block = token / MCUBERT_CKPT_BLOCK;
	uint32_t row = p->ckpt[block * (uint32_t)p->clusters + c];
	uint32_t u_off = 0;
	uint32_t vt_off = 0;

	if (p->cluster_bits == 0) {
		/* one cluster: every token of the block before this one counts */
		row += token - block * MCUBERT_CKPT_BLOCK;
	} else {
		for (uint32_t t = block * MCUBERT_CKPT_BLOCK; t < token; t++) {
			row += (mcubert_embedding_cluster(p, t) == c);
		}
	}
	for (uint32_t k = 0; k < c; k++) {
		u_off += p->cluster_info[2 * k] * p->cluster_info[2 * k + 1];
		vt_off += (uint32_t)hidden * p->cluster_info[2 * k + 1];
	}
	const int32_t rank = (int32_t)p->cluster_info[2 * c + 1];
	const int8_t *u = p->u + u_off + row * (uint32_t)rank;
	const int8_t *vt = p->vt + vt_off;
	const int32_t *mult = p->rq + 2 * c * (uint32_t)hidden;
	const int32_t *shift = mult + hidden;
	int32_t h = 0;
	/* channels [0, pos_done) already hold sat16(word + pe) */
	int32_t pos_done = 0;

	/* out[h] = word[h] first; the position term is added below, as sat16(word + pe) */
#if MCUBERT_DSP
#if MCUBERT_MAC_ASM
	if (rank > 0 && rank <= EMB_ASM_MAX_RANK && (rank & 15) == 0 && ((uintptr_t)vt & 3u) == 0 &&
	    hidden >= 2) {
		const int32_t ps = p->pos_shift;
		const int8_t *pos = p->pos + position * (uint32_t)hidden;
		/* the SMLAWB form needs ps in [17, 47]; no pe may saturate (pe is monotonic in pos) */
		const int pos_fast = p->pos_rank == 0 && ps >= 17 && ps <= 47 &&
				     mcubert_requant_s32(127, p->pos_mult, ps) <= 32767 &&
				     mcubert_requant_s32(-128, p->pos_mult, ps) >= -32768 &&
				     mcubert_requant_s32(127, p->pos_mult, ps) >= -32768 &&
				     mcubert_requant_s32(-128, p->pos_mult, ps) <= 32767;

		h = word_asm(u, vt, rank, hidden, mult, shift, pos_fast ? pos : NULL, p->pos_mult, ps,
			     out);
		pos_done = pos_fast ? h : 0;
	}
#endif
	/* four hidden channels per step: each U word is unpacked once for four V^T rows */
	const int32_t n4 = rank >> 2;

	for (; rank > 0 && h + 4 <= hidden; h += 4) {
		const int8_t *v0 = vt + h * rank;
		int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;

		for (int32_t k = 0; k < 4 * n4; k += 4) {
			const uint32_t x = mcubert_rd4(u + k);
			const int32_t xl = __sxtb16(x), xh = mcubert_sxtb16_ror8(x);
			const uint32_t w0 = mcubert_rd4(v0 + k), w1 = mcubert_rd4(v0 + rank + k);
			const uint32_t w2 = mcubert_rd4(v0 + 2 * rank + k);
			const uint32_t w3 = mcubert_rd4(v0 + 3 * rank + k);

			s0 = __smlad(xl, __sxtb16(w0), s0);
			s0 = __smlad(xh, mcubert_sxtb16_ror8(w0), s0);
			s1 = __smlad(xl, __sxtb16(w1), s1);
			s1 = __smlad(xh, mcubert_sxtb16_ror8(w1), s1);
			s2 = __smlad(xl, __sxtb16(w2), s2);
			s2 = __smlad(xh, mcubert_sxtb16_ror8(w2), s2);
			s3 = __smlad(xl, __sxtb16(w3), s3);
			s3 = __smlad(xh, mcubert_sxtb16_ror8(w3), s3);
		}
		int32_t acc[4] = {s0, s1, s2, s3};

		for (int32_t t = 0; t < 4; t++) {
			for (int32_t k = n4 * 4; k < rank; k++) {
				acc[t] += u[k] * v0[t * rank + k];
			}
			struct mcubert_rq q;

			mcubert_rq_prepare(&q, mult[h + t], shift[h + t]);
			out[h + t] = (int16_t)__ssat(mcubert_rq_apply(&q, acc[t]), 16);
		}
	}
#else
	/* portable C: one channel at a time (the loop below) */
#endif
	for (; h < hidden; h++) {
		int32_t word = 0;

		if (rank > 0) {
			int32_t acc = 0;

			for (int32_t k = 0; k < rank; k++) {
				acc += (int32_t)u[k] * (int32_t)vt[h * rank + k];
			}
			word = mcubert_sat16_32(mcubert_requant_s32(acc, mult[h], shift[h]));
		}
		out[h] = (int16_t)word;
	}
	if (p->pos_rank > 0) {
		add_low_rank_position(p, position, out);
	} else {
		const int8_t *pos = p->pos + position * (uint32_t)hidden;

		h = pos_done;
#if MCUBERT_DSP
		/* pos is int8: requant(pos, M, S) = requant(pos * 2^24, M, S + 24), one SMMLA */
		if (p->pos_shift + 24 >= 33 && p->pos_shift <= 62 - 24) {
			struct mcubert_rq q;

			mcubert_rq_prepare(&q, p->pos_mult, p->pos_shift + 24);
			for (; h < hidden; h++) {
				const int32_t pe =
					__ssat(mcubert_rq_apply_fast(&q, (int32_t)((uint32_t)pos[h] << 24)), 16);

				out[h] = (int16_t)__ssat((int32_t)out[h] + pe, 16);
			}
		}
#endif
		for (; h < hidden; h++) {
			const int32_t pe = mcubert_sat16_32(
				mcubert_requant_s32(pos[h], p->pos_mult, p->pos_shift));

			out[h] = mcubert_sat16_32((int32_t)out[h] + pe);
		}
	}
	if (segment != 0) {
		for (h = 0; h < hidden; h++) {
			out[h] = mcubert_sat16_32((int32_t)out[h] + p->segment[h]);
		}
	}
}
