/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The golden-vector checks of tests/kernels without Zephyr: built and run by
 * python/tests/test_golden.py on the host and on emulated Cortex-M cores (semihosting).
 * Prints one line per failing check, the kernel path and a hash of every output compared;
 * exit status 1 when any check failed.
 */
#include <stdio.h>

#include <mcubert/mcubert.h>

#include "golden_check.h"

static int failures;
static unsigned long outputs;
static uint64_t outputs_hash = 0xCBF29CE484222325ull;

/* FNV-1a over every compared output: builds on different cores must print the same. */
void golden_output(const char *name, const void *out, size_t n)
{
	const uint8_t *p = out;

	(void)name;
	for (size_t i = 0; i < n; i++) {
		outputs_hash = (outputs_hash ^ p[i]) * 0x100000001B3ull;
	}
	outputs++;
}

void golden_failed(const char *name, const char *what, int at)
{
	if (at >= 0) {
		printf("FAIL %s: %s (first difference at byte %d)\n", name, what, at);
	} else {
		printf("FAIL %s: %s\n", name, what);
	}
	failures++;
}

int main(void)
{
	golden_check_linear(8);
	golden_check_linear(16);
	golden_check_linear(32);
	golden_check_attn_qk();
	golden_check_attn_pv();
	golden_check_softmax(0);
	golden_check_softmax(1);
	golden_check_layernorm();
	golden_check_lut(0);
	golden_check_lut(1);
	golden_check_residual_add();
	golden_check_embedding();
	printf("golden: kernels %s, %lu outputs, fnv1a64 %08lx%08lx\n", mcubert_kernel_variant(), outputs,
	       (unsigned long)(outputs_hash >> 32), (unsigned long)(uint32_t)outputs_hash);
	printf("golden: %s (%d failing checks)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
