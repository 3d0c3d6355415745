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

/* The SIMD path: cores with the DSP extension, unless MCUBERT_PORTABLE forces plain C. */
#if defined(__ARM_FEATURE_DSP) && (__ARM_FEATURE_DSP == 1) && !defined(MCUBERT_PORTABLE)
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

/*
 * The same value for an int32 accumulator, cheaper: for shift >= 33 the rounding term only
 * touches the high word, and floor((N + f) / M) = floor(N / M) for integer N, M and f in
 * [0, 1) drops the low word exactly. |acc * mult| < 2^62, so the sum never overflows.
 */
MCUBERT_INLINE int64_t mcubert_requant32(int32_t acc, int32_t mult, int32_t shift)
{
	if (shift >= 33) {
		const int32_t hi = (int32_t)(((int64_t)acc * mult) >> 32);

		return (hi + (1 << (shift - 33))) >> (shift - 32);
	}
	return mcubert_requant(acc, mult, shift);
}

MCUBERT_INLINE int8_t mcubert_sat8(int64_t v)
{
	return (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
}

MCUBERT_INLINE int16_t mcubert_sat16(int64_t v)
{
	return (int16_t)(v < -32768 ? -32768 : (v > 32767 ? 32767 : v));
}

MCUBERT_INLINE int32_t mcubert_sat32(int64_t v)
{
	return (int32_t)(v < INT32_MIN ? INT32_MIN : (v > INT32_MAX ? INT32_MAX : v));
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

/*
 * acc[i][j] += a_i . b_j over n4 blocks of 4 bytes, for 2 rows of a (a0, a0 + a_stride) and
 * 2 rows of b (b0, b0 + b_off; both advance b_step per block). Bytes (0, 2) and (1, 3) of a
 * word pair up in the same lanes on both sides, so no reordering is needed: each word costs
 * one load and two SXTB16, and each unpacked word feeds two SMLADs.
 */
MCUBERT_INLINE void mcubert_dot_2x2_s8(const int8_t *a0, int32_t a_stride, const int8_t *b0,
				       int32_t b_off, int32_t b_step, int32_t n4, int32_t acc[4],
				       int a_unsigned)
{
	int32_t s00 = acc[0], s01 = acc[1], s10 = acc[2], s11 = acc[3];

	for (int32_t i = 0; i < n4; i++) {
		const uint32_t xa = mcubert_rd4(a0), xb = mcubert_rd4(a0 + a_stride);
		const int32_t al = a_unsigned ? (int32_t)__uxtb16(xa) : __sxtb16(xa);
		const int32_t ah = a_unsigned ? mcubert_uxtb16_ror8(xa) : mcubert_sxtb16_ror8(xa);
		const int32_t bl_ = a_unsigned ? (int32_t)__uxtb16(xb) : __sxtb16(xb);
		const int32_t bh_ = a_unsigned ? mcubert_uxtb16_ror8(xb) : mcubert_sxtb16_ror8(xb);
		const uint32_t w0 = mcubert_rd4(b0), w1 = mcubert_rd4(b0 + b_off);
		int32_t l = __sxtb16(w0), h = mcubert_sxtb16_ror8(w0);

		s00 = __smlad(al, l, s00);
		s00 = __smlad(ah, h, s00);
		s10 = __smlad(bl_, l, s10);
		s10 = __smlad(bh_, h, s10);
		l = __sxtb16(w1);
		h = mcubert_sxtb16_ror8(w1);
		s01 = __smlad(al, l, s01);
		s01 = __smlad(ah, h, s01);
		s11 = __smlad(bl_, l, s11);
		s11 = __smlad(bh_, h, s11);
		a0 += 4;
		b0 += b_step;
	}
	acc[0] = s00;
	acc[1] = s01;
	acc[2] = s10;
	acc[3] = s11;
}

/* acc[j] += a . b_j for one row of a and 2 rows of b, as above. */
MCUBERT_INLINE void mcubert_dot_1x2_s8(const int8_t *a0, const int8_t *b0, int32_t b_off,
				       int32_t b_step, int32_t n4, int32_t acc[2], int a_unsigned)
{
	int32_t s0 = acc[0], s1 = acc[1];

	for (int32_t i = 0; i < n4; i++) {
		const uint32_t xa = mcubert_rd4(a0);
		const int32_t al = a_unsigned ? (int32_t)__uxtb16(xa) : __sxtb16(xa);
		const int32_t ah = a_unsigned ? mcubert_uxtb16_ror8(xa) : mcubert_sxtb16_ror8(xa);
		const uint32_t w0 = mcubert_rd4(b0), w1 = mcubert_rd4(b0 + b_off);

		s0 = __smlad(al, __sxtb16(w0), s0);
		s0 = __smlad(ah, mcubert_sxtb16_ror8(w0), s0);
		s1 = __smlad(al, __sxtb16(w1), s1);
		s1 = __smlad(ah, mcubert_sxtb16_ror8(w1), s1);
		a0 += 4;
		b0 += b_step;
	}
	acc[0] = s0;
	acc[1] = s1;
}
#endif /* MCUBERT_DSP */

#endif /* MCUBERT_SUPPORT_H_ */
