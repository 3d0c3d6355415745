/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Every ACLE intrinsic of src/mcubert_acle_emu.h on edge-case and random operands: built
 * for the host with MCUBERT_HOST_DSP (the emulation) and for Cortex-M7 (the instructions,
 * run on QEMU) by python/tests/test_acle_emu.py. Same source, same operands.
 *
 *   acle_vectors          one line per intrinsic: "name cases fnv1a64" of its case lines
 *   acle_vectors dump     every case line too:
 *                         "name a b c ge_in q_in result ge_out q_out" (hex; c: third operand
 *                         or immediate; result 64 bits; GE as 4 bits, Q as 0/1)
 *
 * Before each case GE and Q get the case's ge_in and q_in (SSUB8 and
 * __set_saturation_occurred); after it GE is read back with __sel and Q with
 * __saturation_occurred, inside the same function, so intrinsics that must leave the flags
 * alone are checked too.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mcubert_support.h"

#if !MCUBERT_DSP
#error "acle_vectors needs the SIMD path: MCUBERT_HOST_DSP on the host, a DSP core otherwise"
#endif

#ifdef MCUBERT_HOST_DSP
#define ROR(x, y) __ror((x), (y))
#define PKHBT(a, b, s) __pkhbt((a), (b), (s))
#define PKHTB(a, b, s) __pkhtb((a), (b), (s))
/* SXTB16 Rd, Rm, ROR #r is SXTB16 of ROR(Rm, r) (Arm ARM), as mcubert_support.h uses it */
#define SXTB16_ROR(x, r) __sxtb16((int32_t)__ror((x), (r)))
#define UXTB16_ROR(x, r) __uxtb16(__ror((x), (r)))
#else
/* Not in GCC 12's arm_acle.h: the instructions themselves. */
static inline uint32_t ror_insn(uint32_t x, uint32_t y)
{
	uint32_t r;

	__asm__("ror %0, %1, %2" : "=r"(r) : "r"(x), "r"(y));
	return r;
}
#define ROR(x, y) ror_insn((x), (y))
#define ASM_I(insn, a, b, s)                                                                       \
	__extension__({                                                                            \
		uint32_t r_;                                                                       \
		__asm__(insn : "=r"(r_) : "r"(a), "r"(b), "i"(s));                                 \
		r_;                                                                                \
	})
#define PKHBT(a, b, s) ASM_I("pkhbt %0, %1, %2, lsl %3", (a), (b), (s))
#define PKHTB(a, b, s) ASM_I("pkhtb %0, %1, %2, asr %3", (a), (b), (s))
#define SXTB16_ROR(x, r) ASM_I("sxtb16 %0, %2, ror %3", 0, (x), (r))
#define UXTB16_ROR(x, r) ASM_I("uxtb16 %0, %2, ror %3", 0, (x), (r))
#endif

struct io {
	uint32_t a, b;
	uint64_t c;
	uint32_t ge_in, q_in;
	uint64_t r;
	uint32_t ge, q;
};

/* GE[i] = 1 where byte i of x - 0 is >= 0: bytes 0x00 (GE 1) and 0x80 (GE 0). */
#define FLAGS_IN(o)                                                                                \
	do {                                                                                       \
		uint32_t x_ = 0;                                                                   \
		for (int i_ = 0; i_ < 4; i_++) {                                                   \
			x_ |= ((o)->ge_in >> i_ & 1u) ? 0u : 0x80u << (8 * i_);                    \
		}                                                                                  \
		(void)__ssub8((int8x4_t)x_, 0);                                                    \
		__set_saturation_occurred((int32_t)(o)->q_in);                                     \
	} while (0)
#define FLAGS_OUT(o)                                                                               \
	do {                                                                                       \
		const uint32_t m_ = __sel(0xFFFFFFFFu, 0u);                                        \
		(o)->ge = (m_ & 1u) | (m_ >> 7 & 2u) | (m_ >> 14 & 4u) | (m_ >> 21 & 8u);          \
		(o)->q = (uint32_t)__saturation_occurred();                                        \
	} while (0)

/* One wrapper per intrinsic; A, B, C are the operands as the intrinsic takes them. */
#define A ((int32_t)o->a)
#define B ((int32_t)o->b)
#define UA (o->a)
#define UB (o->b)
#define C32 ((int32_t)(uint32_t)o->c)
#define C64 ((int64_t)o->c)
#define CASE(name, expr)                                                                           \
	static void __attribute__((noinline)) t_##name(struct io *o)                               \
	{                                                                                          \
		FLAGS_IN(o);                                                                       \
		o->r = (uint64_t)(int64_t)(expr);                                                  \
		FLAGS_OUT(o);                                                                      \
	}
/* The 32-bit results are zero-extended: no sign to get wrong on either side. */
#define CASE_U32(name, expr) CASE(name, (uint32_t)(expr))

CASE_U32(ror, ROR(UA, UB))
CASE_U32(sxtb16, __sxtb16(A))
CASE_U32(uxtb16, __uxtb16(UA))
CASE_U32(sxtab16, __sxtab16(A, B))
CASE_U32(uxtab16, __uxtab16(UA, UB))
CASE_U32(sxtb16_ror8_helper, mcubert_sxtb16_ror8(UA))
CASE_U32(uxtb16_ror8_helper, mcubert_uxtb16_ror8(UA))
CASE_U32(smlad, __smlad(A, B, C32))
/* SMMLA and SMMULR: inline assembly on the core, C in the emulation (mcubert_support.h) */
CASE_U32(smmla_helper, mcubert_smmla(A, B, C32))
CASE_U32(smmulr_helper, mcubert_smmulr(A, B))
CASE_U32(smladx, __smladx(A, B, C32))
CASE_U32(smlsd, __smlsd(A, B, C32))
CASE_U32(smlsdx, __smlsdx(A, B, C32))
CASE_U32(smuad, __smuad(A, B))
CASE_U32(smuadx, __smuadx(A, B))
CASE_U32(smusd, __smusd(A, B))
CASE_U32(smusdx, __smusdx(A, B))
CASE(smlald, __smlald(A, B, C64))
CASE(smlaldx, __smlaldx(A, B, C64))
CASE(smlsld, __smlsld(A, B, C64))
CASE(smlsldx, __smlsldx(A, B, C64))
CASE_U32(sadd16, __sadd16(A, B))
CASE_U32(ssub16, __ssub16(A, B))
CASE_U32(uadd16, __uadd16(UA, UB))
CASE_U32(usub16, __usub16(UA, UB))
CASE_U32(sadd8, __sadd8(A, B))
CASE_U32(ssub8, __ssub8(A, B))
CASE_U32(uadd8, __uadd8(UA, UB))
CASE_U32(usub8, __usub8(UA, UB))
CASE_U32(sel, __sel(UA, UB))
CASE_U32(qadd16, __qadd16(A, B))
CASE_U32(qsub16, __qsub16(A, B))
CASE_U32(qadd8, __qadd8(A, B))
CASE_U32(qsub8, __qsub8(A, B))
CASE_U32(qadd, __qadd(A, B))
CASE_U32(qsub, __qsub(A, B))

/* Immediate operands (c): one constant per switch case, as the instructions need. */
#define IMM_CASE(name, list, expr_of)                                                              \
	static void __attribute__((noinline)) t_##name(struct io *o)                               \
	{                                                                                          \
		FLAGS_IN(o);                                                                       \
		switch ((int)o->c) {                                                               \
			list(expr_of) default : o->r = 0xBAD;                                      \
		}                                                                                  \
		FLAGS_OUT(o);                                                                      \
	}
#define SH_BT(X) X(0) X(1) X(8) X(15) X(16) X(31)
#define SH_TB(X) X(1) X(8) X(15) X(16) X(31) X(32)
#define ROT(X) X(8) X(16) X(24)
#define W1_15(X) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define W1_16(X) W1_15(X) X(16)
#define W17_31(X)                                                                                  \
	X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29) X(30) X(31)
#define W_SSAT(X) W1_16(X) W17_31(X) X(32)
#define W_USAT(X) X(0) W1_16(X) W17_31(X)
#define W_SSAT16(X) W1_16(X)
#define W_USAT16(X) X(0) W1_15(X)

#define E_PKHBT(n) case n: o->r = (uint32_t)PKHBT(UA, UB, n); break;
#define E_PKHTB(n) case n: o->r = (uint32_t)PKHTB(UA, UB, n); break;
#define E_SXTB16R(n) case n: o->r = (uint32_t)SXTB16_ROR(UA, n); break;
#define E_UXTB16R(n) case n: o->r = (uint32_t)UXTB16_ROR(UA, n); break;
#define E_SSAT(n) case n: o->r = (uint32_t)__ssat(A, n); break;
#define E_USAT(n) case n: o->r = (uint32_t)__usat(A, n); break;
#define E_SSAT16(n) case n: o->r = (uint32_t)__ssat16(A, n); break;
#define E_USAT16(n) case n: o->r = (uint32_t)__usat16(A, n); break;

IMM_CASE(pkhbt, SH_BT, E_PKHBT)
IMM_CASE(pkhtb, SH_TB, E_PKHTB)
IMM_CASE(sxtb16_ror, ROT, E_SXTB16R)
IMM_CASE(uxtb16_ror, ROT, E_UXTB16R)
IMM_CASE(ssat, W_SSAT, E_SSAT)
IMM_CASE(usat, W_USAT, E_USAT)
IMM_CASE(ssat16, W_SSAT16, E_SSAT16)
IMM_CASE(usat16, W_USAT16, E_USAT16)

/* ---- operands */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 32);
}

/* Random bytes, a quarter of them lane edges. */
static uint32_t rnd_word(void)
{
	static const uint8_t edge[] = {0x00, 0x01, 0x7F, 0x80, 0xFF};
	uint32_t w = 0;

	for (int i = 0; i < 4; i++) {
		const uint32_t v = rnd();
		const uint32_t byte = (v & 3u) == 0 ? edge[(v >> 2) % sizeof(edge)] : (v >> 8) & 0xFFu;

		w |= byte << (8 * i);
	}
	return w;
}

static const uint32_t EDGE[] = {
	0x00000000, 0x00000001, 0x0000007F, 0x00000080, 0x000000FF, 0x00007FFF, 0x00008000,
	0x0000FFFF, 0x00010001, 0x7FFF7FFF, 0x80008000, 0x80007FFF, 0x7FFF8000, 0xFFFFFFFF,
	0x7FFFFFFF, 0x80000000, 0x01010101, 0x7F7F7F7F, 0x80808080, 0x807F7F80, 0xFF00FF00,
	0x00FF00FF, 0x12345678, 0xDEADBEEF,
};
#define N_EDGE (sizeof(EDGE) / sizeof(EDGE[0]))
static const uint64_t ACC32[] = {0, 1, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x40000000, 0xC0000000};
static const uint64_t ACC64[] = {0, 1, ~0ull, 0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull,
				 0x7FFFFFFF, 0xFFFFFFFF80000000ull, 0x0000010000000000ull};
#define N_RANDOM 1500

/* ---- output */

static int dump;

struct op {
	const char *name;
	void (*fn)(struct io *);
	uint64_t hash;
	uint32_t n;
};

/*
 * One case with the given GE preset; run() draws GE and Q presets itself. Every rnd() call is
 * its own statement: argument evaluation order differs between compilers (and targets).
 */
static void run_ge(struct op *op, uint32_t a, uint32_t b, uint64_t c, uint32_t ge_in)
{
	const uint32_t q_in = rnd();
	struct io o = {a, b, c, ge_in & 15u, q_in & 1u, 0, 0, 0};
	char line[128];

	op->fn(&o);
	/* 64-bit values as two words: no long long printf needed on the target */
	snprintf(line, sizeof(line), "%s %08lx %08lx %08lx%08lx %lx %lx %08lx%08lx %lx %lx\n", op->name,
		 (unsigned long)o.a, (unsigned long)o.b, (unsigned long)(o.c >> 32),
		 (unsigned long)(uint32_t)o.c, (unsigned long)o.ge_in, (unsigned long)o.q_in,
		 (unsigned long)(o.r >> 32), (unsigned long)(uint32_t)o.r, (unsigned long)o.ge,
		 (unsigned long)o.q);
	for (const char *p = line; *p; p++) {
		op->hash = (op->hash ^ (uint8_t)*p) * 0x100000001B3ull;
	}
	op->n++;
	if (dump) {
		fputs(line, stdout);
	}
}

static void run(struct op *op, uint32_t a, uint32_t b, uint64_t c)
{
	const uint32_t ge_in = rnd();

	run_ge(op, a, b, c, ge_in);
}

/* Binary operands: every pair of edges, then random pairs; c from accs (cycled) or 0. */
static void pairs(struct op *op, const uint64_t *accs, size_t n_acc)
{
	for (size_t i = 0; i < N_EDGE; i++) {
		for (size_t j = 0; j < N_EDGE; j++) {
			for (size_t k = 0; k < (n_acc ? n_acc : 1); k++) {
				run(op, EDGE[i], EDGE[j], n_acc ? accs[k] : 0);
			}
		}
	}
	for (int i = 0; i < N_RANDOM; i++) {
		const uint32_t a = rnd_word(), b = rnd_word();
		uint64_t c = 0;

		if (n_acc) {
			if (rnd() & 1u) {
				c = accs[rnd() % n_acc];
			} else {
				c = (uint64_t)rnd() << 32;
				c |= rnd();
			}
			if (accs == ACC32) {
				c &= 0xFFFFFFFFu;
			}
		}
		run(op, a, b, c);
	}
}

/* One operand and an immediate from imms: every edge and random words, around 2^(n-1). */
static void unary_imm(struct op *op, const int *imms, size_t n_imm, int sat)
{
	for (size_t k = 0; k < n_imm; k++) {
		const int n = imms[k];

		for (size_t i = 0; i < N_EDGE; i++) {
			run(op, EDGE[i], 0, (uint64_t)n);
		}
		if (sat && n >= 1 && n <= 31) {
			const uint32_t p = 1u << (n - 1), w = 1u << n;
			const uint32_t near[] = {p - 1, p, p + 1, w - 1, w, w + 1, 0u - p, 0u - p - 1,
						 0u - p + 1, 0u - w, 0u - 1};

			for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++) {
				/* lane-wise ops get the value in both halves */
				run(op, near[i], 0, (uint64_t)n);
				run(op, (near[i] & 0xFFFFu) | (near[i] << 16), 0, (uint64_t)n);
			}
		}
		for (int i = 0; i < N_RANDOM / 20; i++) {
			run(op, rnd_word(), 0, (uint64_t)n);
		}
		/* byte-lane ops: every byte value in every lane */
		for (uint32_t v = 0; !sat && v < 256; v++) {
			run(op, v | (v ^ 0x55u) << 8 | (v ^ 0x80u) << 16 | (255u - v) << 24, 0, (uint64_t)n);
		}
	}
}

#define OP(name) {#name, t_##name, 0xCBF29CE484222325ull, 0}
static struct op ops[] = {
	OP(ror), OP(pkhbt), OP(pkhtb), OP(sxtb16), OP(uxtb16), OP(sxtb16_ror), OP(uxtb16_ror),
	OP(sxtb16_ror8_helper), OP(uxtb16_ror8_helper), OP(sxtab16), OP(uxtab16),
	OP(smmla_helper), OP(smmulr_helper),
	OP(smlad), OP(smladx), OP(smlsd), OP(smlsdx), OP(smuad), OP(smuadx), OP(smusd), OP(smusdx),
	OP(smlald), OP(smlaldx), OP(smlsld), OP(smlsldx),
	OP(sadd16), OP(ssub16), OP(uadd16), OP(usub16), OP(sadd8), OP(ssub8), OP(uadd8), OP(usub8),
	OP(sel), OP(qadd16), OP(qsub16), OP(qadd8), OP(qsub8), OP(qadd), OP(qsub),
	OP(ssat), OP(usat), OP(ssat16), OP(usat16),
};

static int in(const char *name, const char *const *list)
{
	for (; *list; list++) {
		if (strcmp(name, *list) == 0) {
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const acc32[] = {"smlad", "smladx", "smlsd", "smlsdx", 0};
	static const char *const acc64[] = {"smlald", "smlaldx", "smlsld", "smlsldx", 0};
	static const int sh_bt[] = {0, 1, 8, 15, 16, 31}, sh_tb[] = {1, 8, 15, 16, 31, 32};
	static const int rot[] = {8, 16, 24}, one[] = {0};
	int w_ssat[32], w_usat[32], w_ssat16[16], w_usat16[16]; /* ACLE: 1..32, 0..31, 1..16, 0..15 */

	for (int i = 0; i < 32; i++) {
		w_ssat[i] = i + 1;
		w_usat[i] = i;
	}
	for (int i = 0; i < 16; i++) {
		w_ssat16[i] = i + 1;
		w_usat16[i] = i;
	}
	dump = argc > 1 && strcmp(argv[1], "dump") == 0;
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		struct op *op = &ops[k];
		const char *nm = op->name;

		if (in(nm, acc32)) {
			pairs(op, ACC32, sizeof(ACC32) / sizeof(ACC32[0]));
		} else if (in(nm, acc64)) {
			pairs(op, ACC64, sizeof(ACC64) / sizeof(ACC64[0]));
		} else if (strcmp(nm, "ror") == 0) {
			for (uint32_t y = 0; y < 70; y++) {
				run(op, EDGE[y % N_EDGE], y, 0);
				run(op, rnd_word(), y, 0);
			}
			pairs(op, NULL, 0);
		} else if (strcmp(nm, "sel") == 0) {
			/* every GE state */
			for (uint32_t g = 0; g < 16; g++) {
				for (size_t i = 0; i < N_EDGE; i++) {
					run_ge(op, EDGE[i], rnd_word(), 0, g);
					run_ge(op, rnd_word(), EDGE[i], 0, g);
				}
			}
			pairs(op, NULL, 0);
		} else if (strcmp(nm, "pkhbt") == 0 || strcmp(nm, "pkhtb") == 0) {
			const int *sh = strcmp(nm, "pkhbt") == 0 ? sh_bt : sh_tb;

			for (size_t s = 0; s < 6; s++) {
				for (int i = 0; i < 200; i++) {
					const uint32_t a = i < (int)N_EDGE ? EDGE[i] : rnd_word();

					run(op, a, rnd_word(), (uint64_t)sh[s]);
				}
			}
		} else if (strstr(nm, "_ror") && !strstr(nm, "helper")) {
			unary_imm(op, rot, 3, 0);
		} else if (strcmp(nm, "ssat") == 0) {
			unary_imm(op, w_ssat, 32, 1);
		} else if (strcmp(nm, "usat") == 0) {
			unary_imm(op, w_usat, 32, 1);
		} else if (strcmp(nm, "ssat16") == 0) {
			unary_imm(op, w_ssat16, 16, 1);
		} else if (strcmp(nm, "usat16") == 0) {
			unary_imm(op, w_usat16, 16, 1);
		} else if (strstr(nm, "xtb16")) {
			unary_imm(op, one, 1, 0);   /* sxtb16, uxtb16 and the helpers: one operand */
		} else {
			pairs(op, NULL, 0);
		}
	}
	for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
		printf("hash %s %lu %08lx%08lx\n", ops[k].name, (unsigned long)ops[k].n,
		       (unsigned long)(ops[k].hash >> 32), (unsigned long)(uint32_t)ops[k].hash);
	}
	printf("acle_vectors: done\n");
	return 0;
}
