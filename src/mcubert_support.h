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

#if defined(__GNUC__)
#define MCUBERT_INLINE static inline __attribute__((always_inline))
#else
#define MCUBERT_INLINE static inline
#endif

/* (acc * mult + 2^(shift-1)) >> shift with a 64-bit product: one rounding, half up. */
MCUBERT_INLINE int64_t mcubert_requant(int64_t acc, int32_t mult, int32_t shift)
{
	return (acc * (int64_t)mult + ((int64_t)1 << (shift - 1))) >> shift;
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

#endif /* MCUBERT_SUPPORT_H_ */
