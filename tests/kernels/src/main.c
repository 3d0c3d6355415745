/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Every mcubert kernel against golden vectors from the Python integer reference
 * (python/mcubert/tools/golden.py, run at build time). The board picks the kernel path:
 * portable C on Cortex-M3, the DSP-extension SIMD path on Cortex-M33.
 */
#include <zephyr/ztest.h>

#include <mcubert/mcubert.h>

#include "golden_check.h"
#include "golden_vectors.h"
#include "mcubert_expected_variant.h"

/* The golden checks below only mean something on the intended kernel path. */
ZTEST(mcubert_kernels, test_kernel_variant)
{
	TC_PRINT("kernels: %s, golden seed %u\n", mcubert_kernel_variant(), GOLDEN_SEED);
	zassert_str_equal(mcubert_kernel_variant(), MCUBERT_EXPECTED_VARIANT);
}

ZTEST(mcubert_kernels, test_linear_s8)
{
	golden_check_linear(8);
}

ZTEST(mcubert_kernels, test_linear_s16)
{
	golden_check_linear(16);
}

ZTEST(mcubert_kernels, test_linear_s32)
{
	golden_check_linear(32);
}

ZTEST(mcubert_kernels, test_attn_qk)
{
	golden_check_attn_qk();
}

ZTEST(mcubert_kernels, test_attn_pv)
{
	golden_check_attn_pv();
}

ZTEST(mcubert_kernels, test_softmax)
{
	golden_check_softmax(0);
}

ZTEST(mcubert_kernels, test_softmax_in_place)
{
	golden_check_softmax(1);
}

ZTEST(mcubert_kernels, test_layernorm)
{
	golden_check_layernorm();
}

ZTEST(mcubert_kernels, test_lut)
{
	golden_check_lut(0);
}

ZTEST(mcubert_kernels, test_lut_in_place)
{
	golden_check_lut(1);
}

ZTEST(mcubert_kernels, test_residual_add)
{
	golden_check_residual_add();
}

ZTEST(mcubert_kernels, test_embedding)
{
	golden_check_embedding();
}

ZTEST_SUITE(mcubert_kernels, NULL, NULL, NULL, NULL, NULL);
