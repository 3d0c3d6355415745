/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The golden-vector checks of tests/kernels without Zephyr: built and run by
 * python/tests/test_golden.py on the host and on emulated Cortex-M cores (semihosting).
 * Prints one line per failing check; exit status 1 when any failed.
 */
#include <stdio.h>

#include "golden_check.h"

static int failures;

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
	printf("golden: %s (%d failing checks)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
