/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Golden-vector checks of the mcubert kernels, shared by the ztest suite (src/main.c) and
 * the host harness (host/golden_host.c). Each function runs every case of one kernel and
 * stops at the first mismatch through GOLDEN_ASSERT*: zassert under Zephyr, a report
 * plus return on the host.
 */
#ifndef MCUBERT_GOLDEN_CHECK_H_
#define MCUBERT_GOLDEN_CHECK_H_

#include <stddef.h>
#include <stdint.h>

void golden_check_linear(int32_t out_bits);
void golden_check_attn_qk(void);
void golden_check_attn_pv(void);
void golden_check_softmax(int in_place);
void golden_check_layernorm(void);
void golden_check_lut(int in_place);
void golden_check_residual_add(void);
void golden_check_embedding(void);

/* Index of the first differing byte, -1 when equal. */
int golden_first_diff(const void *a, const void *b, size_t n);

#ifndef __ZEPHYR__
/* The host harness's failure report (host/golden_host.c). */
void golden_failed(const char *name, const char *what, int at);
/* Every output the harness compares, before the comparison (host/golden_host.c hashes them). */
void golden_output(const char *name, const void *out, size_t n);
#endif

#endif /* MCUBERT_GOLDEN_CHECK_H_ */
