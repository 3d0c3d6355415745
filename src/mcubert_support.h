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

/* floor(sqrt(v)), digit by digit: exact for every uint64 input. */
MCUBERT_INLINE uint32_t mcubert_isqrt64(uint64_t v)
{
	uint64_t res = 0;
	uint64_t bit = (uint64_t)1 << 62;

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

/* One block of two rows: lanes (0, 2) and (1, 3) of each word. */
MCUBERT_INLINE void mcubert_unpack_words(uint32_t x, uint32_t y, int32_t *out, int is_unsigned)
{
	out[0] = is_unsigned ? (int32_t)__uxtb16(x) : __sxtb16(x);
	out[1] = is_unsigned ? mcubert_uxtb16_ror8(x) : mcubert_sxtb16_ror8(x);
	out[2] = is_unsigned ? (int32_t)__uxtb16(y) : __sxtb16(y);
	out[3] = is_unsigned ? mcubert_uxtb16_ror8(y) : mcubert_sxtb16_ror8(y);
}

/*
 * Unpacks rows a0 and a1 (n bytes each, int8 or uint8) into int16 lane pairs, 4 words per
 * block of 4 bytes: a0 bytes (0, 2), a0 bytes (1, 3), then the same for a1. That is the
 * lane order SXTB16 and its ROR #8 form give a weight word, so no reordering is needed
 * anywhere. A partial last block is zero-padded. Returns the number of blocks.
 */
MCUBERT_INLINE int32_t mcubert_unpack_2rows(const int8_t *a0, const int8_t *a1, int32_t n,
					    int32_t *out, int is_unsigned)
{
	const int32_t n4 = n >> 2;

	for (int32_t i = 0; i < n4; i++) {
		mcubert_unpack_words(mcubert_rd4(a0 + 4 * i), mcubert_rd4(a1 + 4 * i), out, is_unsigned);
		out += 4;
	}
	if ((n & 3) == 0) {
		return n4;
	}
	uint32_t x = 0, y = 0;

	for (int32_t j = 0; j < (n & 3); j++) {
		x |= (uint32_t)(uint8_t)a0[4 * n4 + j] << (8 * j);
		y |= (uint32_t)(uint8_t)a1[4 * n4 + j] << (8 * j);
	}
	mcubert_unpack_words(x, y, out, is_unsigned);
	return n4 + 1;
}

/* One block of mcubert_mac_2x2: 16 MACs. */
#define MCUBERT_MAC_BLOCK(a, b0, b1)                                                              \
	do {                                                                                      \
		const uint32_t w0_ = mcubert_rd4(b0), w1_ = mcubert_rd4(b1);                      \
		const int32_t l0_ = __sxtb16(w0_), h0_ = mcubert_sxtb16_ror8(w0_);               \
		const int32_t l1_ = __sxtb16(w1_), h1_ = mcubert_sxtb16_ror8(w1_);               \
		s00 = __smlad((a)[0], l0_, s00);                                                  \
		s00 = __smlad((a)[1], h0_, s00);                                                  \
		s01 = __smlad((a)[0], l1_, s01);                                                  \
		s01 = __smlad((a)[1], h1_, s01);                                                  \
		s10 = __smlad((a)[2], l0_, s10);                                                  \
		s10 = __smlad((a)[3], h0_, s10);                                                  \
		s11 = __smlad((a)[2], l1_, s11);                                                  \
		s11 = __smlad((a)[3], h1_, s11);                                                  \
	} while (0)

/*
 * acc[2 * i + j] += a_i . b_j over nblk blocks of 4: a_i from unpacked rows (above), b_j
 * int8 rows at b0 and b0 + b_off, both advancing b_step bytes per block. Per block: four
 * loads of a, two of b, four SXTB16 and eight SMLADs (16 MACs): each unpacked word is used
 * twice. Four blocks per iteration amortise the loop overhead.
 */
MCUBERT_INLINE void mcubert_mac_2x2(const int32_t *a, const int8_t *b0, int32_t b_off,
				    int32_t b_step, int32_t nblk, int32_t acc[4])
{
	int32_t s00 = acc[0], s01 = acc[1], s10 = acc[2], s11 = acc[3];
	const int32_t *end4 = a + 4 * (nblk & ~3), *end = a + 4 * nblk;

	while (a != end4) {
		MCUBERT_MAC_BLOCK(a, b0, b0 + b_off);
		MCUBERT_MAC_BLOCK(a + 4, b0 + b_step, b0 + b_step + b_off);
		MCUBERT_MAC_BLOCK(a + 8, b0 + 2 * b_step, b0 + 2 * b_step + b_off);
		MCUBERT_MAC_BLOCK(a + 12, b0 + 3 * b_step, b0 + 3 * b_step + b_off);
		a += 16;
		b0 += 4 * b_step;
	}
	while (a != end) {
		MCUBERT_MAC_BLOCK(a, b0, b0 + b_off);
		a += 4;
		b0 += b_step;
	}
	acc[0] = s00;
	acc[1] = s01;
	acc[2] = s10;
	acc[3] = s11;
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

#endif /* MCUBERT_SUPPORT_H_ */
