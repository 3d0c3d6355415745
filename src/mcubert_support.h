/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Inline helpers shared by all kernels: requantisation, saturation, integer square root.
 * Right shifts of negative int64 values are arithmetic on every compiler mcubert supports
 * (GCC, Clang, armclang); numerics.md relies on it.
 */
#ifndef MCUBERT_SUPPORT_H_
#define MCUBERT_SUPPORT_H_

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define MCUBERT_INLINE static inline __attribute__((always_inline))
#else
#define MCUBERT_INLINE static inline
#endif

/*
 * The SIMD path: cores with the DSP extension, unless MCUBERT_PORTABLE forces plain C.
 * MCUBERT_HOST_DSP compiles it on a workstation through an emulation of the intrinsics
 * (mcubert_acle_emu.h), so the sanitizers and the fuzzer reach it too.
 */
#if defined(MCUBERT_PORTABLE)
#define MCUBERT_DSP 0
#elif defined(MCUBERT_HOST_DSP)
#define MCUBERT_DSP 1
#include "mcubert_acle_emu.h"
#elif defined(__ARM_FEATURE_DSP) && (__ARM_FEATURE_DSP == 1)
#define MCUBERT_DSP 1
#include <arm_acle.h>
#else
#define MCUBERT_DSP 0
#endif

/* Kconfig MCUBERT_CODE_SPEED: larger, faster assembly in the SIMD linear kernel */
#ifndef MCUBERT_CODE_SPEED
#define MCUBERT_CODE_SPEED 0
#endif

/* (acc * mult + 2^(shift-1)) >> shift with a 64-bit product: one rounding, half up. */
MCUBERT_INLINE int64_t mcubert_requant(int64_t acc, int32_t mult, int32_t shift)
{
	return (acc * (int64_t)mult + ((int64_t)1 << (shift - 1))) >> shift;
}

MCUBERT_INLINE int32_t mcubert_sat32(int64_t v)
{
	return (int32_t)(v < INT32_MIN ? INT32_MIN : (v > INT32_MAX ? INT32_MAX : v));
}

/*
 * sat32(requant(acc, mult, shift)) for an int32 accumulator, cheaper. For shift >= 33 the
 * rounding term only touches the high word, and floor((N + f) / M) = floor(N / M) for
 * integers N, M and f in [0, 1) lets both the low word and the low shift-33 bits go first:
 * the result is ((hi >> (shift - 33)) + 1) >> 1 with hi the top word of acc * mult, which
 * fits int32 (|hi| < 2^30). Saturating to int32 first changes no later sat8/sat16.
 */
MCUBERT_INLINE int32_t mcubert_requant_s32(int32_t acc, int32_t mult, int32_t shift)
{
	if (shift >= 33) {
		const int32_t hi = (int32_t)(((int64_t)acc * mult) >> 32);

		return ((hi >> (shift - 33)) + 1) >> 1;
	}
	return mcubert_sat32(mcubert_requant(acc, mult, shift));
}

MCUBERT_INLINE int8_t mcubert_sat8(int64_t v)
{
	return (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
}

MCUBERT_INLINE int16_t mcubert_sat16(int64_t v)
{
	return (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
}

MCUBERT_INLINE int8_t mcubert_sat8_32(int32_t v)
{
	return (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
}

MCUBERT_INLINE int16_t mcubert_sat16_32(int32_t v)
{
	return (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
}

/* log2 of a power of two */
MCUBERT_INLINE uint32_t mcubert_log2(uint32_t v)
{
#if defined(__GNUC__)
	return (uint32_t)__builtin_ctz(v);
#else
	uint32_t r = 0;

	while (v > 1u) {
		v >>= 1;
		r++;
	}
	return r;
#endif
}

/*
 * floor(sqrt(v)) for v < 2^58 in 32-bit words, two bits of v per step: r is the root of
 * the digits so far and rem = prefix - r^2 <= 2r, so 4 rem + 3 < 2^32 while r < 2^29.
 */
#if defined(__GNUC__)
MCUBERT_INLINE void mcubert_isqrt_digits(uint32_t word, int32_t s, uint32_t *r, uint32_t *rem)
{
	for (; s >= 0; s -= 2) {
		const uint32_t t = (*r << 2) | 1u;

		*rem = (*rem << 2) | ((word >> s) & 3u);
		*r <<= 1;
		if (*rem >= t) {
			*rem -= t;
			*r |= 1u;
		}
	}
}

MCUBERT_INLINE uint32_t mcubert_isqrt58(uint64_t v)
{
	const uint32_t hi = (uint32_t)(v >> 32), lo = (uint32_t)v;
	uint32_t r = 0, rem = 0;

	/* leading zero digits change nothing: start at the top one */
	if (hi != 0) {
		mcubert_isqrt_digits(hi, (31 - (int32_t)__builtin_clz(hi)) & ~1, &r, &rem);
		mcubert_isqrt_digits(lo, 30, &r, &rem);
	} else if (lo != 0) {
		mcubert_isqrt_digits(lo, (31 - (int32_t)__builtin_clz(lo)) & ~1, &r, &rem);
	}
	return r;
}

#endif

/* floor(sqrt(v)), digit by digit: exact for every uint64 input. */
MCUBERT_INLINE uint32_t mcubert_isqrt64(uint64_t v)
{
#if defined(__GNUC__)
	if (v < ((uint64_t)1 << 58)) {
		return mcubert_isqrt58(v);
	}
#endif
	uint64_t res = 0;
	uint64_t bit = (uint64_t)1 << 62;

#if defined(__GNUC__)
	/* start at the highest power of 4 <= v (the loop below would shift down to it) */
	if (v != 0) {
		bit = (uint64_t)1 << ((63 - __builtin_clzll(v)) & ~1);
	}
#endif
	while (bit > v) {
		bit >>= 2;
	}
	while (bit != 0) {
		if (v >= res + bit) {
			v -= res + bit;
			res = (res >> 1) + bit;
		} else {
			res >>= 1;
		}
		bit >>= 2;
	}
	return (uint32_t)res;
}

#if MCUBERT_DSP
/* Four bytes from any address; Cortex-M3 and up load unaligned words in one LDR. */
MCUBERT_INLINE uint32_t mcubert_rd4(const void *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Bytes 1 and 3 sign-extended to two int16 lanes; GCC's ACLE has no rotated form. */
#if defined(MCUBERT_HOST_DSP)
/* SXTB16 Rd, Rm, ROR #8 is SXTB16 of ROR(Rm, 8) (Arm ARM); the same for UXTB16. */
MCUBERT_INLINE int32_t mcubert_sxtb16_ror8(uint32_t x)
{
	return __sxtb16((int32_t)__ror(x, 8));
}

MCUBERT_INLINE int32_t mcubert_uxtb16_ror8(uint32_t x)
{
	return (int32_t)__uxtb16(__ror(x, 8));
}
#else
MCUBERT_INLINE int32_t mcubert_sxtb16_ror8(uint32_t x)
{
	int32_t r;

	__asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
	return r;
}

MCUBERT_INLINE int32_t mcubert_uxtb16_ror8(uint32_t x)
{
	int32_t r;

	__asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
	return r;
}
#endif

/*
 * Unpacks rows a[0..3] (n bytes each, int8 or uint8) into int16 lane pairs for the 4x1
 * kernels, 8 words per block of 4 bytes: the (0, 2) lanes of rows 0..3, then their (1, 3)
 * lanes. That is the lane order SXTB16 and its ROR #8 form give a weight word, and one LDM
 * of 4 words feeds four accumulators. Blocks go in pairs (8 bytes of a row), the last pair
 * zero-padded. Returns the number of pairs.
 */
int32_t mcubert_unpack_4rows(const int8_t *const a[4], int32_t n, int32_t *out, int is_unsigned);

/*
 * acc[t] += a_t . b over npairs pairs of 4-byte blocks: a_t unpacked by mcubert_unpack_4rows,
 * b one int8 row. Per block: one weight word, two SXTB16, two 4-word loads of a, eight
 * SMLADs (16 MACs). The C form; Cortex-M builds use mcubert_mac_4x1_asm.
 */
MCUBERT_INLINE void mcubert_mac_4x1_c(const int32_t *a, const int8_t *b, int32_t npairs,
				      int32_t acc[4])
{
	int32_t s0 = acc[0], s1 = acc[1], s2 = acc[2], s3 = acc[3];

	for (int32_t i = 0; i < 2 * npairs; i++) {
		const uint32_t w = mcubert_rd4(b);
		const int32_t lo = __sxtb16(w), hi = mcubert_sxtb16_ror8(w);

		s0 = __smlad(a[0], lo, s0);
		s1 = __smlad(a[1], lo, s1);
		s2 = __smlad(a[2], lo, s2);
		s3 = __smlad(a[3], lo, s3);
		s0 = __smlad(a[4], hi, s0);
		s1 = __smlad(a[5], hi, s1);
		s2 = __smlad(a[6], hi, s2);
		s3 = __smlad(a[7], hi, s3);
		a += 8;
		b += 4;
	}
	acc[0] = s0;
	acc[1] = s1;
	acc[2] = s2;
	acc[3] = s3;
}

#if !defined(MCUBERT_HOST_DSP) && defined(__thumb2__) && defined(__GNUC__)
#define MCUBERT_MAC_ASM 1
/* mcubert_mac_4x1_c in Thumb-2 assembly (LDRD, LDM); unaligned b takes the C form. */
void mcubert_mac_4x1_asm(int32_t acc[4], const int32_t *a, const int8_t *b, int32_t npairs);

MCUBERT_INLINE void mcubert_mac_4x1(const int32_t *a, const int8_t *b, int32_t npairs,
				    int32_t acc[4])
{
	mcubert_mac_4x1_asm(acc, a, b, npairs);
}
#else
#define MCUBERT_MAC_ASM 0
MCUBERT_INLINE void mcubert_mac_4x1(const int32_t *a, const int8_t *b, int32_t npairs,
				    int32_t acc[4])
{
	mcubert_mac_4x1_c(a, b, npairs, acc);
}
#endif

/*
 * Per-channel requantisation, prepared once: for shift >= 33 (every layer of a calibrated
 * model) requant_s32 is (hi(acc * mult) + 2^(shift-33)) >> (shift-32), which is one SMMLA
 * and one shift (the floor identity above; |hi| < 2^30 and the term <= 2^29, no overflow).
 */
struct mcubert_rq {
	int32_t mult, shift, rnd, sh;
};

MCUBERT_INLINE void mcubert_rq_prepare(struct mcubert_rq *q, int32_t mult, int32_t shift)
{
	q->mult = mult;
	q->shift = shift;
	q->sh = shift - 32;
	q->rnd = shift >= 33 ? (int32_t)(1u << (shift - 33)) : 0;
}

#if defined(MCUBERT_HOST_DSP)
MCUBERT_INLINE int32_t mcubert_smmla(int32_t a, int32_t b, int32_t c)
{
	return (int32_t)((uint32_t)c + (uint32_t)(((int64_t)a * b) >> 32));
}
#else
MCUBERT_INLINE int32_t mcubert_smmla(int32_t a, int32_t b, int32_t c)
{
	int32_t r;

	__asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
	return r;
}
#endif

/* (a * b + 2^31) >> 32: SMMULR */
#if defined(MCUBERT_HOST_DSP)
MCUBERT_INLINE int32_t mcubert_smmulr(int32_t a, int32_t b)
{
	return (int32_t)(((int64_t)a * b + ((int64_t)1 << 31)) >> 32);
}
#else
MCUBERT_INLINE int32_t mcubert_smmulr(int32_t a, int32_t b)
{
	int32_t r;

	__asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
	return r;
}
#endif

/* mcubert_rq_apply for a prepared shift known to be >= 33 */
MCUBERT_INLINE int32_t mcubert_rq_apply_fast(const struct mcubert_rq *q, int32_t acc)
{
	return mcubert_smmla(acc, q->mult, q->rnd) >> q->sh;
}

/* mcubert_requant_s32 out of line: the callers' fast path stays short (src/kernels/mcubert_linear_s8.c) */
int32_t mcubert_requant_s32_call(int32_t acc, int32_t mult, int32_t shift);

MCUBERT_INLINE int32_t mcubert_rq_apply(const struct mcubert_rq *q, int32_t acc)
{
	if (q->sh >= 1) {
		return mcubert_smmla(acc, q->mult, q->rnd) >> q->sh;
	}
	return mcubert_requant_s32_call(acc, q->mult, q->shift);
}

/* acc[j] += a . b_j for one int8 row a and two int8 rows b (the embedding's rank-r dots). */
MCUBERT_INLINE void mcubert_dot_1x2_s8(const int8_t *a0, const int8_t *b0, int32_t b_off,
				       int32_t n4, int32_t acc[2])
{
	int32_t s0 = acc[0], s1 = acc[1];

	for (int32_t i = 0; i < n4; i++) {
		const uint32_t xa = mcubert_rd4(a0), w0 = mcubert_rd4(b0), w1 = mcubert_rd4(b0 + b_off);
		const int32_t al = __sxtb16(xa), ah = mcubert_sxtb16_ror8(xa);

		s0 = __smlad(al, __sxtb16(w0), s0);
		s0 = __smlad(ah, mcubert_sxtb16_ror8(w0), s0);
		s1 = __smlad(al, __sxtb16(w1), s1);
		s1 = __smlad(ah, mcubert_sxtb16_ror8(w1), s1);
		a0 += 4;
		b0 += 4;
	}
	acc[0] = s0;
	acc[1] = s1;
}
#endif /* MCUBERT_DSP */

#ifndef MCUBERT_MAC_ASM
#define MCUBERT_MAC_ASM 0 /* the portable build: no assembly */
#endif

#endif /* MCUBERT_SUPPORT_H_ */
