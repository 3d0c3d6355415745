/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * int8 linear layer, weights read in place (flash) in MCUBERT_LAYOUT_K8. Outputs int8,
 * int16 (residual grid) or int32 (logits); the accumulation is shared.
 *
 * SIMD path: four rows of x are unpacked once into int16 lanes in the scratch buffer, then
 * every output channel costs, per 8 inputs (32 MACs), one LDRD of its weights, four SXTB16,
 * four LDMs of unpacked x and sixteen SMLADs (mcubert_mac_4x1, Thumb-2 assembly on Cortex-M).
 * Full groups of 4 rows run the channel loop in assembly too (rows_asm): the bias is the
 * accumulators' start and each output is one SMMLA, one shift and one SSAT.
 */
#include "mcubert/mcubert_kernels.h"
#include "../mcubert_support.h"

enum out_kind { OUT_S8, OUT_S16, OUT_S32 };

static inline void store(enum out_kind kind, void *y, int32_t idx, int32_t acc,
			  const struct mcubert_linear_params *p, int32_t o)
{
	const int32_t v = mcubert_requant_s32(acc, p->mult[o], p->shift[o]);

	if (kind == OUT_S8) {
		((int8_t *)y)[idx] = mcubert_sat8_32(v);
	} else if (kind == OUT_S16) {
		((int16_t *)y)[idx] = mcubert_sat16_32(v);
	} else {
		((int32_t *)y)[idx] = v;
	}
}

MCUBERT_INLINE int32_t bias_of(const struct mcubert_linear_params *p, int32_t o)
{
	return p->bias != 0 ? p->bias[o] : 0;
}

#if MCUBERT_DSP

#if MCUBERT_MAC_ASM
/*
 * The signed whole blocks of mcubert_unpack_4rows, n4 >= 1: per block four LDRs, eight
 * SXTB16 and one STM. r1, r2, r3, r12 walk the rows, r0 the output, lr is its end.
 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
__attribute__((naked, noinline)) static void unpack_s8_asm(int32_t *out, const int8_t *const a[4],
							   int32_t n4)
{
	__asm__ volatile("push {r4-r11, lr}\n\t"
			 "add lr, r0, r2, lsl #5\n\t"
			 "ldm r1, {r1, r2, r3, r12}\n"
			 "1:\n\t"
			 "ldr r8, [r1], #4\n\t"
			 "ldr r9, [r2], #4\n\t"
			 "ldr r10, [r3], #4\n\t"
			 "ldr r11, [r12], #4\n\t"
			 "sxtb16 r4, r8\n\t"
			 "sxtb16 r5, r9\n\t"
			 "sxtb16 r6, r10\n\t"
			 "sxtb16 r7, r11\n\t"
			 "sxtb16 r8, r8, ror #8\n\t"
			 "sxtb16 r9, r9, ror #8\n\t"
			 "sxtb16 r10, r10, ror #8\n\t"
			 "sxtb16 r11, r11, ror #8\n\t"
			 "stm r0!, {r4-r11}\n\t"
			 "cmp r0, lr\n\t"
			 "bne 1b\n\t"
			 "pop {r4-r11, pc}\n\t");
}
#pragma GCC diagnostic pop
#endif

int32_t mcubert_unpack_4rows(const int8_t *const a[4], int32_t n, int32_t *out, int is_unsigned)
{
	const int32_t n4 = n >> 2, npairs = (n + 7) >> 3;
	const int8_t *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
	int32_t i = 0;

#if MCUBERT_MAC_ASM
	if (!is_unsigned && n4 > 0) {
		unpack_s8_asm(out, a, n4);
		out += 8 * n4;
		i = n4;
	}
#endif

	/* the whole blocks: one loop per signedness, straight-line over the four rows */
	for (; !is_unsigned && i < n4; i++, out += 8) {
		const uint32_t x0 = mcubert_rd4(a0 + 4 * i), x1 = mcubert_rd4(a1 + 4 * i);
		const uint32_t x2 = mcubert_rd4(a2 + 4 * i), x3 = mcubert_rd4(a3 + 4 * i);

		out[0] = __sxtb16(x0);
		out[1] = __sxtb16(x1);
		out[2] = __sxtb16(x2);
		out[3] = __sxtb16(x3);
		out[4] = mcubert_sxtb16_ror8(x0);
		out[5] = mcubert_sxtb16_ror8(x1);
		out[6] = mcubert_sxtb16_ror8(x2);
		out[7] = mcubert_sxtb16_ror8(x3);
	}
	for (; is_unsigned && i < n4; i++, out += 8) {
		const uint32_t x0 = mcubert_rd4(a0 + 4 * i), x1 = mcubert_rd4(a1 + 4 * i);
		const uint32_t x2 = mcubert_rd4(a2 + 4 * i), x3 = mcubert_rd4(a3 + 4 * i);

		out[0] = (int32_t)__uxtb16(x0);
		out[1] = (int32_t)__uxtb16(x1);
		out[2] = (int32_t)__uxtb16(x2);
		out[3] = (int32_t)__uxtb16(x3);
		out[4] = mcubert_uxtb16_ror8(x0);
		out[5] = mcubert_uxtb16_ror8(x1);
		out[6] = mcubert_uxtb16_ror8(x2);
		out[7] = mcubert_uxtb16_ror8(x3);
	}
	for (; i < 2 * npairs; i++) {
		for (int32_t t = 0; t < 4; t++) {
			uint32_t x = 0;

			for (int32_t j = 4 * i; j < n && j < 4 * i + 4; j++) {
				x |= (uint32_t)(uint8_t)a[t][j] << (8 * (j - 4 * i));
			}
			out[t] = is_unsigned ? (int32_t)__uxtb16(x) : __sxtb16(x);
			out[4 + t] = is_unsigned ? mcubert_uxtb16_ror8(x) : mcubert_sxtb16_ror8(x);
		}
		out += 8;
	}
	return npairs;
}

int32_t mcubert_requant_s32_call(int32_t acc, int32_t mult, int32_t shift)
{
	return mcubert_requant_s32(acc, mult, shift);
}

#if MCUBERT_MAC_ASM
/* the assembly below takes this branch for weights that are not word aligned (LDRD) */
void mcubert_mac_4x1_unaligned(int32_t acc[4], const int32_t *a, const int8_t *b, int32_t npairs);
void mcubert_mac_4x1_unaligned(int32_t acc[4], const int32_t *a, const int8_t *b, int32_t npairs)
{
	mcubert_mac_4x1_c(a, b, npairs, acc);
}

/*
 * acc[0..3] += a_t . b (mcubert_mac_4x1_c). Registers: r1 a, r2 b, r3 pairs left, r4-r7 the
 * accumulators, r8-r11 four unpacked words, r0/r12 the weight pair, lr one unpacked weight.
 * Odd pairs first, then four pairs (128 MACs) per loop iteration.
 */
#define MCUBERT_QUARTER_ACC(ext)                                                                  \
	"ldm r1!, {r8-r11}\n\t"                                                                   \
	"sxtb16 lr, " ext "\n\t"                                                                  \
	"smlad r4, r8, lr, r4\n\t"                                                                \
	"smlad r5, r9, lr, r5\n\t"                                                                \
	"smlad r6, r10, lr, r6\n\t"                                                               \
	"smlad r7, r11, lr, r7\n\t"
#define MCUBERT_PAIR_TAIL                                                                         \
	MCUBERT_QUARTER_ACC("r0, ror #8")                                                         \
	MCUBERT_QUARTER_ACC("r12") MCUBERT_QUARTER_ACC("r12, ror #8")
#define MCUBERT_PAIR                                                                              \
	"ldrd r0, r12, [r2], #8\n\t" MCUBERT_QUARTER_ACC("r0") MCUBERT_PAIR_TAIL
/* the first pair of a channel: the bias (r4) is the accumulators' start */
#define MCUBERT_PAIR_BIAS                                                                         \
	"ldrd r0, r12, [r2], #8\n\t"                                                              \
	"ldm r1!, {r8-r11}\n\t"                                                                   \
	"sxtb16 lr, r0\n\t"                                                                       \
	"smlad r5, r9, lr, r4\n\t"                                                                \
	"smlad r6, r10, lr, r4\n\t"                                                               \
	"smlad r7, r11, lr, r4\n\t"                                                               \
	"smlad r4, r8, lr, r4\n\t" MCUBERT_PAIR_TAIL

/* naked: the body is all assembly, the arguments arrive in r0-r3 */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
__attribute__((naked, noinline)) void mcubert_mac_4x1_asm(int32_t acc[4], const int32_t *a,
							 const int8_t *b, int32_t npairs)
{
	__asm__ volatile("tst r2, #3\n\t"
			 "bne.w mcubert_mac_4x1_unaligned\n\t"
			 "push {r4-r11, lr}\n\t"
			 "push {r0, r3}\n\t"
			 "ldm r0, {r4-r7}\n\t"
			 "ands r3, r3, #3\n\t"
			 "beq 2f\n"
			 "1:\n\t" MCUBERT_PAIR
			 "subs r3, r3, #1\n\t"
			 "bne 1b\n"
			 "2:\n\t"
			 "ldr r3, [sp, #4]\n\t"
			 "lsrs r3, r3, #2\n\t"
			 "beq 4f\n"
			 "3:\n\t" MCUBERT_PAIR MCUBERT_PAIR MCUBERT_PAIR MCUBERT_PAIR
			 "subs r3, r3, #1\n\t"
			 "bne 3b\n"
			 "4:\n\t"
			 "ldr r0, [sp]\n\t"
			 "stm r0, {r4-r7}\n\t"
			 "add sp, sp, #8\n\t"
			 "pop {r4-r11, pc}\n\t");
}

/* 2^(S-33) for the shifts 33..62 the channel loop takes: its rounding term, one load */
static const int32_t rq_rnd[63] = {
	[33] = 1 << 0,  1 << 1,  1 << 2,  1 << 3,  1 << 4,  1 << 5,  1 << 6,  1 << 7,
	1 << 8,  1 << 9,  1 << 10, 1 << 11, 1 << 12, 1 << 13, 1 << 14, 1 << 15, 1 << 16,
	1 << 17, 1 << 18, 1 << 19, 1 << 20, 1 << 21, 1 << 22, 1 << 23, 1 << 24, 1 << 25,
	1 << 26, 1 << 27, 1 << 28, 1 << 29};

/*
 * Four rows of a linear layer over a range of output channels, requantised and stored:
 * mcubert_mac_4x1 per channel with the bias as the start and every shift in 33..62
 * (mcubert_rq_apply's SMMLA form, the rounding term from rq_rnd), the loop over channels in
 * assembly too, 8 pairs per loop step. The first twelve words of the job are the stack
 * frame (offsets below); bias and shift are found from mult. In the loop r1 walks xs to
 * x_end (r3), r2 the weights, r8 mult; r11 = bias - mult. The channel's tail uses r3 too
 * and reloads it with m_end.
 */
struct rows_job {
	const int32_t *xs;    /*  0: four unpacked rows */
	const int32_t *rnd;   /*  4: rq_rnd */
	const int32_t *mult;  /*  8: mult of the current channel */
	uint8_t *y;           /* 12: output of the current channel, row 0 */
	int32_t shift_off;    /* 16: shift - mult, bytes */
	int32_t bias_off;     /* 20: bias - mult, bytes */
	int32_t ystr;         /* 24: bytes between output rows */
	int32_t ych;          /* 28: bytes between output channels */
	int32_t s16;          /* 32: int16 outputs (else int8); the frame: the store (speed: its table) */
	int32_t entry;        /* 36: the frame: where the first 8-pair block starts */
	const int32_t *m_end; /* 40: mult past the last channel */
	const int32_t *x_end; /* 44: xs past the last pair (4k pairs, k >= 1) */
	const int8_t *w;      /* 48: weight row of the first channel */
};

#define MCUBERT_RQ_STORE(ins, bits)                                                               \
	"ssat r4, #" bits ", r4\n\t" ins " r4, [r9]\n\t"                                          \
	"ssat r5, #" bits ", r5\n\t" ins " r5, [r9, r12]\n\t"                                     \
	"add r9, r9, r12, lsl #1\n\t"                                                             \
	"ssat r6, #" bits ", r6\n\t" ins " r6, [r9]\n\t"                                          \
	"ssat r7, #" bits ", r7\n\t" ins " r7, [r9, r12]\n\t"                                     \
	"ldrd r0, r3, [sp, #40]\n\t"                                                              \
	"cmp r8, r0\n\t"                                                                          \
	"bne 5b\n\t"                                                                              \
	"add sp, sp, #48\n\t"                                                                     \
	"pop {r4-r11, pc}\n"

/* rows_asm's frame: the job's first twelve words on the stack, r1-r12 hold them, lr = w */
#define MCUBERT_ROWS_ENTER                                                                        \
	"push {r4-r11, lr}\n\t"                                                                   \
	"sub sp, sp, #48\n\t"                                                                     \
	"ldm r0, {r1-r12}\n\t"                                                                    \
	"ldr lr, [r0, #48]\n\t"
/* the frame stored (slots 32, 36 set), then each channel from label 5: bias, first pair,
 * the jump into the pair loop */
#define MCUBERT_ROWS_START                                                                        \
	"stm sp, {r1-r12}\n\t"                                                                    \
	"mov r8, r3\n\t"                                                                          \
	"mov r2, lr\n\t"                                                                          \
	"mov r3, r12\n\t"                                                                         \
	"mov r11, r6\n"                                                                           \
	"5:\n\t"                                                                                  \
	"ldr r4, [r8, r11]\n\t" MCUBERT_PAIR_BIAS "ldr pc, [sp, #36]\n"
/* after a channel's pairs: r10 = its shift, r0 = its mult, the frame's mult and y advanced
 * (r2 already holds the next channel's weights: rows are 8 * pairs bytes) */
#define MCUBERT_ROWS_CHANNEL_END                                                                  \
	"ldm sp, {r1, r3, r8-r12, lr}\n\t"                                                        \
	"ldr r10, [r8, r10]\n\t"                                                                  \
	"ldr r0, [r8], #4\n\t"                                                                    \
	"add lr, r9, lr\n\t"                                                                      \
	"stm sp, {r1, r3, r8, lr}\n\t"

#if MCUBERT_CODE_SPEED
/*
 * MCUBERT_CODE_SPEED (about 2 KiB more .text): 16 pairs per loop step, and each int8
 * output's shift folded into its SSAT (asr #S-32) by one store block per shift 33..62,
 * picked by a table (r0 = the table less 33 words, indexed by S). The block ends the
 * channel with `bne 5b` on flags set before the dispatch (SSAT, STRB and ADD.W keep
 * them). int16 outputs take one block that shifts first. Per K=128 channel: 29
 * instructions around the 400 of MACs, against 34 in the smaller loop.
 */
__attribute__((naked, noinline)) static void rows_asm(const struct rows_job *job)
{
	__asm__ volatile(MCUBERT_ROWS_ENTER
			 /* slot 32: the store table for the output type, less 33 words */
			 "adr.w r0, 11f\n\t"
			 "cmp r9, #0\n\t"
			 "beq 1f\n\t"
			 "adr.w r0, 12f\n"
			 "1:\n\t"
			 "sub r9, r0, #132\n\t"
			 /* slot 36: the first 16-pair block's entry, from (pairs / 4) mod 4 */
			 "sub r0, r12, r1\n\t"
			 "ubfx r0, r0, #8, #2\n\t"
			 "adr.w r10, 13f\n\t"
			 "ldr r10, [r10, r0, lsl #2]\n\t"
			 MCUBERT_ROWS_START
			 "6:\n\t" MCUBERT_PAIR
			 "61:\n\t" MCUBERT_PAIR MCUBERT_PAIR MCUBERT_PAIR MCUBERT_PAIR
			 "65:\n\t" MCUBERT_PAIR MCUBERT_PAIR MCUBERT_PAIR MCUBERT_PAIR
			 "69:\n\t" MCUBERT_PAIR MCUBERT_PAIR MCUBERT_PAIR MCUBERT_PAIR
			 "73:\n\t" MCUBERT_PAIR MCUBERT_PAIR MCUBERT_PAIR
			 "cmp r1, r3\n\t"
			 "bne.w 6b\n\t"
			 MCUBERT_ROWS_CHANNEL_END
			 /* hi(acc * mult) + 2^(S-33); the store block shifts by S - 32 */
			 "ldr r3, [r3, r10, lsl #2]\n\t"
			 "smmla r4, r4, r0, r3\n\t"
			 "smmla r5, r5, r0, r3\n\t"
			 "smmla r6, r6, r0, r3\n\t"
			 "smmla r7, r7, r0, r3\n\t"
			 "ldrd r0, r3, [sp, #40]\n\t"
			 "cmp r8, r0\n\t"
			 "ldr r0, [sp, #32]\n\t"
			 "ldr pc, [r0, r10, lsl #2]\n\t"
			 ".align 2\n"
			 /* entries by (pairs / 4) mod 4: 15, 3, 7 or 11 pairs after the first */
			 "13:\n\t"
			 ".word 61b + 1, 73b + 1, 69b + 1, 65b + 1\n"
			 "11:\n\t"
			 ".irp sh, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30\n\t"
			 ".word 20\\sh\\()f + 1\n\t"
			 ".endr\n"
			 "12:\n\t"
			 ".rept 30\n\t"
			 ".word 9f + 1\n\t"
			 ".endr\n"
			 ".irp sh, 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30\n"
			 "20\\sh:\n\t"
			 "ssat r4, #8, r4, asr #\\sh\n\tstrb r4, [r9]\n\t"
			 "ssat r5, #8, r5, asr #\\sh\n\tstrb r5, [r9, r12]\n\t"
			 "add r9, r9, r12, lsl #1\n\t"
			 "ssat r6, #8, r6, asr #\\sh\n\tstrb r6, [r9]\n\t"
			 "ssat r7, #8, r7, asr #\\sh\n\tstrb r7, [r9, r12]\n\t"
			 "bne.w 5b\n\t"
			 "b.w 10f\n\t"
			 ".endr\n"
			 "9:\n\t"
			 "sub r10, r10, #32\n\t"
			 "asr r4, r4, r10\n\t"
			 "asr r5, r5, r10\n\t"
			 "asr r6, r6, r10\n\t"
			 "asr r7, r7, r10\n\t"
			 "ssat r4, #16, r4\n\tstrh r4, [r9]\n\t"
			 "ssat r5, #16, r5\n\tstrh r5, [r9, r12]\n\t"
			 "add r9, r9, r12, lsl #1\n\t"
			 "ssat r6, #16, r6\n\tstrh r6, [r9]\n\t"
			 "ssat r7, #16, r7\n\tstrh r7, [r9, r12]\n\t"
			 "bne.w 5b\n"
			 "10:\n\t"
			 "add sp, sp, #48\n\t"
			 "pop {r4-r11, pc}\n\t");
}
#else
__attribute__((naked, noinline)) static void rows_asm(const struct rows_job *job)
{
	__asm__ volatile(MCUBERT_ROWS_ENTER
			 /* slot 32: the address (Thumb bit set) of the int8 or int16 store */
			 "adr.w r0, 8f\n\t"
			 "cmp r9, #0\n\t"
			 "beq 1f\n\t"
			 "adr.w r0, 9f\n"
			 "1:\n\t"
			 "orr r9, r0, #1\n\t"
			 /* slot 36: the first 8-pair block's entry: 7 pairs in for 8k pairs, else 3 */
			 "sub r0, r12, r1\n\t"
			 "tst r0, #256\n\t"
			 "adr.w r0, 71f\n\t"
			 "beq 2f\n\t"
			 "adr.w r0, 72f\n"
			 "2:\n\t"
			 "orr r10, r0, #1\n\t"
			 MCUBERT_ROWS_START
			 "6:\n\t" MCUBERT_PAIR
			 "71:\n\t" MCUBERT_PAIR MCUBERT_PAIR MCUBERT_PAIR MCUBERT_PAIR
			 "72:\n\t" MCUBERT_PAIR MCUBERT_PAIR MCUBERT_PAIR
			 "cmp r1, r3\n\t"
			 "bne 6b\n\t"
			 MCUBERT_ROWS_CHANNEL_END
			 /* v = (hi(acc * mult) + 2^(sh-1)) >> sh, sh = shift - 32 */
			 "ldr r3, [r3, r10, lsl #2]\n\t"
			 "sub r10, r10, #32\n\t"
			 "smmla r4, r4, r0, r3\n\t"
			 "asr r4, r4, r10\n\t"
			 "smmla r5, r5, r0, r3\n\t"
			 "asr r5, r5, r10\n\t"
			 "smmla r6, r6, r0, r3\n\t"
			 "asr r6, r6, r10\n\t"
			 "smmla r7, r7, r0, r3\n\t"
			 "asr r7, r7, r10\n\t"
			 "ldr pc, [sp, #32]\n\t"
			 ".align 2\n"
			 "8:\n\t" MCUBERT_RQ_STORE("strb", "8")
			 ".align 2\n"
			 "9:\n\t" MCUBERT_RQ_STORE("strh", "16"));
}
#endif
#pragma GCC diagnostic pop
#endif

int32_t mcubert_linear_s8_buffer_size(const struct mcubert_linear_dims *d)
{
	return 8 * ((d->in_dim + 7) & ~7);
}

/*
 * One copy for the three output types (the store is a runtime switch): keeps .text small.
 * Everything read in the loops is copied to locals first: stores through the int8 output
 * may alias any memory, and would otherwise force reloads of dims and params.
 */
static void linear(const struct mcubert_kernel_ctx *ctx, const struct mcubert_linear_dims *d,
		   const struct mcubert_linear_params *p, const int8_t *x, void *y,
		   enum out_kind kind)
{
	const int32_t K = d->in_dim, kp = (K + 7) & ~7, np = kp >> 3, rows = d->rows;
	const int32_t xstr = d->x_stride, ystr = d->y_stride, ych = d->y_ch_stride;
	const int32_t o0 = d->out_first, o1 = d->out_first + d->out_count;
	const int8_t *const w = p->w;
	const int32_t *const bias = p->bias, *const mult = p->mult, *const shift = p->shift;
	int32_t *const xs = (int32_t *)ctx->buf;

#if MCUBERT_MAC_ASM
	/* the assembly channel loop: full groups of 4 rows, int8/int16 outputs, a bias, every
	 * shift in 33..62, 4k pairs of 8-byte aligned weights */
	int fast = bias != 0 && kind != OUT_S32 && o1 > o0 && np >= 4 && (np & 3) == 0 &&
		   ((uintptr_t)w & 3u) == 0;

	for (int32_t o = o0; fast && o < o1; o++) {
		fast = shift[o] >= 33 && shift[o] <= 62;
	}
#endif
	for (int32_t r = 0; r < rows; r += 4) {
		/* a short last group repeats its last row; the copies are not stored */
		const int32_t nr = rows - r < 4 ? rows - r : 4;
		const int8_t *xr[4];

		for (int32_t t = 0; t < 4; t++) {
			xr[t] = x + (r + (t < nr ? t : nr - 1)) * xstr;
		}
		mcubert_unpack_4rows(xr, K, xs, 0);
		int32_t idx = r * ystr;

#if MCUBERT_MAC_ASM
		if (fast && nr == 4) {
			const int32_t sz = kind == OUT_S16 ? 2 : 1;
			struct rows_job job = {xs, rq_rnd, mult + o0, (uint8_t *)y + sz * idx,
					       (int32_t)((const uint8_t *)shift - (const uint8_t *)mult),
					       (int32_t)((const uint8_t *)bias - (const uint8_t *)mult),
					       sz * ystr, sz * ych, kind == OUT_S16, 0, mult + o1,
					       xs + 16 * np, w + o0 * kp};

			rows_asm(&job);
			continue;
		}
#endif

		for (int32_t o = o0; o < o1; o++, idx += ych) {
			const int32_t b = bias != 0 ? bias[o] : 0;
			int32_t acc[4] = {b, b, b, b};
			struct mcubert_rq q;

			mcubert_mac_4x1(xs, w + o * kp, np, acc);
			mcubert_rq_prepare(&q, mult[o], shift[o]);
			for (int32_t t = 0; t < nr; t++) {
				const int32_t v = mcubert_rq_apply(&q, acc[t]);

				if (kind == OUT_S8) {
					((int8_t *)y)[idx + t * ystr] = (int8_t)__ssat(v, 8);
				} else if (kind == OUT_S16) {
					((int16_t *)y)[idx + t * ystr] = (int16_t)__ssat(v, 16);
				} else {
					((int32_t *)y)[idx + t * ystr] = v;
				}
			}
		}
	}
}

#else /* portable C */

int32_t mcubert_linear_s8_buffer_size(const struct mcubert_linear_dims *d)
{
	(void)d;
	return 0;
}

MCUBERT_INLINE void linear(const struct mcubert_kernel_ctx *ctx,
			   const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, void *y,
			   enum out_kind kind)
{
	const int32_t K = d->in_dim, kp = (K + 7) & ~7;

	(void)ctx;
	for (int32_t r = 0; r < d->rows; r++) {
		const int8_t *xr = x + r * d->x_stride;

		for (int32_t i = 0; i < d->out_count; i++) {
			const int32_t o = d->out_first + i;
			const int8_t *w = p->w + o * kp;
			int32_t acc = bias_of(p, o);
			int32_t k = 0;

			/* four at a time: the weight row is padded, only x has a tail */
			for (; k + 4 <= K; k += 4) {
				acc += xr[k] * w[k] + xr[k + 1] * w[k + 1] + xr[k + 2] * w[k + 2] +
				       xr[k + 3] * w[k + 3];
			}
			for (; k < K; k++) {
				acc += xr[k] * w[k];
			}
			store(kind, y, r * d->y_stride + i * d->y_ch_stride, acc, p, o);
		}
	}
}

#endif

void mcubert_linear_s8(const struct mcubert_kernel_ctx *ctx, const struct mcubert_linear_dims *d,
		       const struct mcubert_linear_params *p, const int8_t *x, int8_t *y)
{
	linear(ctx, d, p, x, y, OUT_S8);
}

void mcubert_linear_s8_s16(const struct mcubert_kernel_ctx *ctx,
			   const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, int16_t *y)
{
	linear(ctx, d, p, x, y, OUT_S16);
}

void mcubert_linear_s8_s32(const struct mcubert_kernel_ctx *ctx,
			   const struct mcubert_linear_dims *d,
			   const struct mcubert_linear_params *p, const int8_t *x, int32_t *y)
{
	linear(ctx, d, p, x, y, OUT_S32);
}
