/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Host emulation of the ACLE DSP/SIMD32 intrinsics, so that gcc/clang on a workstation
 * compile and run the kernels' MCUBERT_DSP path under ASan, UBSan and libFuzzer.
 * Selected by MCUBERT_HOST_DSP (mcubert_support.h); never part of a Cortex-M build.
 *
 * Each intrinsic follows the Arm ARM (v7-M) pseudo-code of its instruction, with the same
 * ACLE types as GCC's arm_acle.h. python/tests/test_acle_emu.py checks every one against
 * an independent Python transcription of that pseudo-code, and against the real
 * instructions on QEMU's Cortex-M7 (tests/acle/acle_vectors.c).
 *
 * APSR state: GE[3:0] (set by the parallel add/subtract ops, read by __sel) and the sticky
 * Q flag (__saturation_occurred) are emulated as two variables per thread and per
 * translation unit (static): a GE consumer sees the last GE producer of its own thread in
 * its own file, as kernels use them (SSUB16 then SEL in one loop).
 *
 * MCUBERT_ACLE_EMU_TRAP_Q: abort where the silicon would set Q from an accumulation that
 * wraps (SMLAD and friends, QADD/QSUB, SSAT/USAT do not trap: saturating is their job).
 * The sanitizer builds define it, so a DSP kernel's silent int32 wrap is reported like the
 * signed overflow UBSan reports in the portable kernels.
 *
 * Adding an intrinsic: a few lines below, a line in tests/acle/acle_vectors.c and its
 * pseudo-code in python/tests/test_acle_emu.py.
 */
#ifndef MCUBERT_ACLE_EMU_H_
#define MCUBERT_ACLE_EMU_H_

#include <stdint.h>

#ifdef MCUBERT_ACLE_EMU_TRAP_Q
#include <stdio.h>
#include <stdlib.h>
#endif

typedef int32_t int16x2_t;
typedef uint32_t uint16x2_t;
typedef int32_t int8x4_t;
typedef uint32_t uint8x4_t;

#if defined(__GNUC__)
#define MCUBERT_EMU_FN static inline __attribute__((always_inline, unused))
#define MCUBERT_EMU_TLS __thread
#else
#define MCUBERT_EMU_FN static inline
#define MCUBERT_EMU_TLS
#endif

static MCUBERT_EMU_TLS uint32_t mcubert_emu_ge; /* APSR.GE, bit i = GE[i] */
static MCUBERT_EMU_TLS int32_t mcubert_emu_q;   /* APSR.Q */

/* Lane access: SInt/UInt of bits [16*i+15:16*i] or [8*i+7:8*i]. */
MCUBERT_EMU_FN int32_t mcubert_emu_s16(uint32_t x, int i)
{
	return (int16_t)(uint16_t)(x >> (16 * i));
}

MCUBERT_EMU_FN int32_t mcubert_emu_u16(uint32_t x, int i)
{
	return (uint16_t)(x >> (16 * i));
}

MCUBERT_EMU_FN int32_t mcubert_emu_s8(uint32_t x, int i)
{
	return (int8_t)(uint8_t)(x >> (8 * i));
}

MCUBERT_EMU_FN int32_t mcubert_emu_u8(uint32_t x, int i)
{
	return (uint8_t)(x >> (8 * i));
}

MCUBERT_EMU_FN uint32_t mcubert_emu_pack16(int64_t lo, int64_t hi)
{
	return ((uint32_t)(uint64_t)lo & 0xFFFFu) | ((uint32_t)(uint64_t)hi << 16);
}

MCUBERT_EMU_FN uint32_t mcubert_emu_pack8(int64_t b0, int64_t b1, int64_t b2, int64_t b3)
{
	return ((uint32_t)(uint64_t)b0 & 0xFFu) | (((uint32_t)(uint64_t)b1 & 0xFFu) << 8) |
	       (((uint32_t)(uint64_t)b2 & 0xFFu) << 16) | ((uint32_t)(uint64_t)b3 << 24);
}

/* SignedSatQ / UnsignedSatQ: clamp to n bits; sets Q when clamped (q_flag). */
MCUBERT_EMU_FN int64_t mcubert_emu_ssatq(int64_t v, unsigned n, int q_flag)
{
	const int64_t hi = ((int64_t)1 << (n - 1)) - 1, lo = -hi - 1;

	if (v > hi || v < lo) {
		mcubert_emu_q |= q_flag;
		return v > hi ? hi : lo;
	}
	return v;
}

MCUBERT_EMU_FN int64_t mcubert_emu_usatq(int64_t v, unsigned n, int q_flag)
{
	const int64_t hi = ((int64_t)1 << n) - 1;

	if (v > hi || v < 0) {
		mcubert_emu_q |= q_flag;
		return v > hi ? hi : 0;
	}
	return v;
}

/* R[d] = result<31:0>; Q when result != SInt(result<31:0>). */
MCUBERT_EMU_FN int32_t mcubert_emu_wrap32_q(int64_t v, const char *op)
{
	if (v != (int64_t)(int32_t)(uint32_t)(uint64_t)v) {
		mcubert_emu_q = 1;
#ifdef MCUBERT_ACLE_EMU_TRAP_Q
		fprintf(stderr, "mcubert ACLE emulation: %s result %lld wraps int32 (sets Q)\n", op,
			(long long)v);
		abort();
#endif
	}
	(void)op;
	return (int32_t)(uint32_t)(uint64_t)v;
}

/* ---- rotate, pack, extend (no flags) */

MCUBERT_EMU_FN uint32_t __ror(uint32_t x, uint32_t y)
{
	y &= 31u;
	return y ? (x >> y) | (x << (32u - y)) : x;
}

/* Not ACLE: CMSIS's __PKHBT/__PKHTB (PKHBT Rd, a, b, LSL #s; PKHTB Rd, a, b, ASR #s). */
MCUBERT_EMU_FN uint32_t __pkhbt(uint32_t a, uint32_t b, unsigned s)
{
	return (a & 0xFFFFu) | ((b << (s & 31u)) & 0xFFFF0000u);
}

MCUBERT_EMU_FN uint32_t __pkhtb(uint32_t a, uint32_t b, unsigned s)
{
	const int32_t sb = (int32_t)b >> (s >= 32u ? 31u : s); /* ASR #32: the sign in every bit */

	return (a & 0xFFFF0000u) | ((uint32_t)sb & 0xFFFFu);
}

MCUBERT_EMU_FN int16x2_t __sxtb16(int8x4_t x)
{
	return (int16x2_t)mcubert_emu_pack16(mcubert_emu_s8((uint32_t)x, 0), mcubert_emu_s8((uint32_t)x, 2));
}

MCUBERT_EMU_FN uint16x2_t __uxtb16(uint8x4_t x)
{
	return mcubert_emu_pack16(mcubert_emu_u8(x, 0), mcubert_emu_u8(x, 2));
}

MCUBERT_EMU_FN int16x2_t __sxtab16(int16x2_t a, int8x4_t x)
{
	return (int16x2_t)mcubert_emu_pack16(
		mcubert_emu_s16((uint32_t)a, 0) + mcubert_emu_s8((uint32_t)x, 0),
		mcubert_emu_s16((uint32_t)a, 1) + mcubert_emu_s8((uint32_t)x, 2));
}

MCUBERT_EMU_FN uint16x2_t __uxtab16(uint16x2_t a, uint8x4_t x)
{
	return mcubert_emu_pack16(mcubert_emu_u16(a, 0) + mcubert_emu_u8(x, 0),
				  mcubert_emu_u16(a, 1) + mcubert_emu_u8(x, 2));
}

/* ---- dual 16-bit multiplies: X swaps the halves of the second operand */

MCUBERT_EMU_FN int64_t mcubert_emu_dual(uint32_t a, uint32_t b, int swap, int sub)
{
	const uint32_t m = swap ? __ror(b, 16) : b;
	const int64_t p1 = (int64_t)mcubert_emu_s16(a, 0) * mcubert_emu_s16(m, 0);
	const int64_t p2 = (int64_t)mcubert_emu_s16(a, 1) * mcubert_emu_s16(m, 1);

	return sub ? p1 - p2 : p1 + p2;
}

/* SMLAD, SMLADX, SMLSD, SMLSDX: Q when the int32 result wraps. */
#define MCUBERT_EMU_DUAL32(name, swap, sub)                                                        \
	MCUBERT_EMU_FN int32_t name(int16x2_t a, int16x2_t b, int32_t c)                           \
	{                                                                                          \
		return mcubert_emu_wrap32_q(                                                       \
			mcubert_emu_dual((uint32_t)a, (uint32_t)b, swap, sub) + c, #name);         \
	}
MCUBERT_EMU_DUAL32(__smlad, 0, 0)
MCUBERT_EMU_DUAL32(__smladx, 1, 0)
MCUBERT_EMU_DUAL32(__smlsd, 0, 1)
MCUBERT_EMU_DUAL32(__smlsdx, 1, 1)
#undef MCUBERT_EMU_DUAL32

/* SMUAD(X): Q only for 0x8000 * 0x8000 twice; SMUSD(X) cannot wrap and leaves Q alone. */
MCUBERT_EMU_FN int32_t __smuad(int16x2_t a, int16x2_t b)
{
	return mcubert_emu_wrap32_q(mcubert_emu_dual((uint32_t)a, (uint32_t)b, 0, 0), "__smuad");
}

MCUBERT_EMU_FN int32_t __smuadx(int16x2_t a, int16x2_t b)
{
	return mcubert_emu_wrap32_q(mcubert_emu_dual((uint32_t)a, (uint32_t)b, 1, 0), "__smuadx");
}

MCUBERT_EMU_FN int32_t __smusd(int16x2_t a, int16x2_t b)
{
	return (int32_t)mcubert_emu_dual((uint32_t)a, (uint32_t)b, 0, 1);
}

MCUBERT_EMU_FN int32_t __smusdx(int16x2_t a, int16x2_t b)
{
	return (int32_t)mcubert_emu_dual((uint32_t)a, (uint32_t)b, 1, 1);
}

/* SMLALD and friends: 64-bit accumulate, wraps modulo 2^64, no flags. */
#define MCUBERT_EMU_DUAL64(name, swap, sub)                                                        \
	MCUBERT_EMU_FN int64_t name(int16x2_t a, int16x2_t b, int64_t c)                           \
	{                                                                                          \
		return (int64_t)((uint64_t)c +                                                     \
				 (uint64_t)mcubert_emu_dual((uint32_t)a, (uint32_t)b, swap, sub)); \
	}
MCUBERT_EMU_DUAL64(__smlald, 0, 0)
MCUBERT_EMU_DUAL64(__smlaldx, 1, 0)
MCUBERT_EMU_DUAL64(__smlsld, 0, 1)
MCUBERT_EMU_DUAL64(__smlsldx, 1, 1)
#undef MCUBERT_EMU_DUAL64

/* ---- parallel add/subtract: GE[i] per byte lane, one GE pair per halfword lane */

#define MCUBERT_EMU_PAR16(name, type, lane, op, ge_if)                                             \
	MCUBERT_EMU_FN type name(type a, type b)                                                   \
	{                                                                                          \
		const int64_t r0_ = (int64_t)lane((uint32_t)a, 0) op lane((uint32_t)b, 0);         \
		const int64_t r1_ = (int64_t)lane((uint32_t)a, 1) op lane((uint32_t)b, 1);         \
		mcubert_emu_ge = ((r0_ ge_if) ? 0x3u : 0u) | ((r1_ ge_if) ? 0xCu : 0u);            \
		return (type)mcubert_emu_pack16(r0_, r1_);                                         \
	}
MCUBERT_EMU_PAR16(__sadd16, int16x2_t, mcubert_emu_s16, +, >= 0)
MCUBERT_EMU_PAR16(__ssub16, int16x2_t, mcubert_emu_s16, -, >= 0)
MCUBERT_EMU_PAR16(__uadd16, uint16x2_t, mcubert_emu_u16, +, >= 0x10000)
MCUBERT_EMU_PAR16(__usub16, uint16x2_t, mcubert_emu_u16, -, >= 0)
#undef MCUBERT_EMU_PAR16

#define MCUBERT_EMU_PAR8(name, type, lane, op, ge_if)                                              \
	MCUBERT_EMU_FN type name(type a, type b)                                                   \
	{                                                                                          \
		int64_t r_[4];                                                                     \
		mcubert_emu_ge = 0;                                                                \
		for (int i_ = 0; i_ < 4; i_++) {                                                   \
			r_[i_] = (int64_t)lane((uint32_t)a, i_) op lane((uint32_t)b, i_);          \
			mcubert_emu_ge |= (r_[i_] ge_if) ? 1u << i_ : 0u;                          \
		}                                                                                  \
		return (type)mcubert_emu_pack8(r_[0], r_[1], r_[2], r_[3]);                        \
	}
MCUBERT_EMU_PAR8(__sadd8, int8x4_t, mcubert_emu_s8, +, >= 0)
MCUBERT_EMU_PAR8(__ssub8, int8x4_t, mcubert_emu_s8, -, >= 0)
MCUBERT_EMU_PAR8(__uadd8, uint8x4_t, mcubert_emu_u8, +, >= 0x100)
MCUBERT_EMU_PAR8(__usub8, uint8x4_t, mcubert_emu_u8, -, >= 0)
#undef MCUBERT_EMU_PAR8

/* SEL: byte i from a where GE[i], else from b. */
MCUBERT_EMU_FN uint8x4_t __sel(uint8x4_t a, uint8x4_t b)
{
	uint32_t mask = 0;

	for (int i = 0; i < 4; i++) {
		mask |= (mcubert_emu_ge >> i & 1u) ? 0xFFu << (8 * i) : 0u;
	}
	return (a & mask) | (b & ~mask);
}

/* ---- saturating arithmetic */

MCUBERT_EMU_FN int16x2_t __qadd16(int16x2_t a, int16x2_t b)
{
	return (int16x2_t)mcubert_emu_pack16(
		mcubert_emu_ssatq((int64_t)mcubert_emu_s16((uint32_t)a, 0) + mcubert_emu_s16((uint32_t)b, 0), 16, 0),
		mcubert_emu_ssatq((int64_t)mcubert_emu_s16((uint32_t)a, 1) + mcubert_emu_s16((uint32_t)b, 1), 16, 0));
}

MCUBERT_EMU_FN int16x2_t __qsub16(int16x2_t a, int16x2_t b)
{
	return (int16x2_t)mcubert_emu_pack16(
		mcubert_emu_ssatq((int64_t)mcubert_emu_s16((uint32_t)a, 0) - mcubert_emu_s16((uint32_t)b, 0), 16, 0),
		mcubert_emu_ssatq((int64_t)mcubert_emu_s16((uint32_t)a, 1) - mcubert_emu_s16((uint32_t)b, 1), 16, 0));
}

MCUBERT_EMU_FN int8x4_t __qadd8(int8x4_t a, int8x4_t b)
{
	int64_t r[4];

	for (int i = 0; i < 4; i++) {
		r[i] = mcubert_emu_ssatq((int64_t)mcubert_emu_s8((uint32_t)a, i) + mcubert_emu_s8((uint32_t)b, i), 8, 0);
	}
	return (int8x4_t)mcubert_emu_pack8(r[0], r[1], r[2], r[3]);
}

MCUBERT_EMU_FN int8x4_t __qsub8(int8x4_t a, int8x4_t b)
{
	int64_t r[4];

	for (int i = 0; i < 4; i++) {
		r[i] = mcubert_emu_ssatq((int64_t)mcubert_emu_s8((uint32_t)a, i) - mcubert_emu_s8((uint32_t)b, i), 8, 0);
	}
	return (int8x4_t)mcubert_emu_pack8(r[0], r[1], r[2], r[3]);
}

/* QADD/QSUB and SSAT/USAT set Q when they clamp. */
MCUBERT_EMU_FN int32_t __qadd(int32_t a, int32_t b)
{
	return (int32_t)mcubert_emu_ssatq((int64_t)a + b, 32, 1);
}

MCUBERT_EMU_FN int32_t __qsub(int32_t a, int32_t b)
{
	return (int32_t)mcubert_emu_ssatq((int64_t)a - b, 32, 1);
}

/* ACLE: n is a constant, 1..32 for __ssat and 0..31 for __usat (GCC checks; so does the test). */
MCUBERT_EMU_FN int32_t __ssat(int32_t x, unsigned n)
{
	return (int32_t)mcubert_emu_ssatq(x, n, 1);
}

MCUBERT_EMU_FN uint32_t __usat(int32_t x, unsigned n)
{
	return (uint32_t)mcubert_emu_usatq(x, n, 1);
}

MCUBERT_EMU_FN int16x2_t __ssat16(int16x2_t x, unsigned n)
{
	return (int16x2_t)mcubert_emu_pack16(mcubert_emu_ssatq(mcubert_emu_s16((uint32_t)x, 0), n, 1),
					     mcubert_emu_ssatq(mcubert_emu_s16((uint32_t)x, 1), n, 1));
}

MCUBERT_EMU_FN int16x2_t __usat16(int16x2_t x, unsigned n)
{
	return (int16x2_t)mcubert_emu_pack16(mcubert_emu_usatq(mcubert_emu_s16((uint32_t)x, 0), n, 1),
					     mcubert_emu_usatq(mcubert_emu_s16((uint32_t)x, 1), n, 1));
}

/* ---- the Q flag itself */

MCUBERT_EMU_FN int32_t __saturation_occurred(void)
{
	return mcubert_emu_q;
}

MCUBERT_EMU_FN void __set_saturation_occurred(int32_t q)
{
	mcubert_emu_q = q & 1;
}

MCUBERT_EMU_FN void __ignore_saturation(void)
{
}

#endif /* MCUBERT_ACLE_EMU_H_ */
