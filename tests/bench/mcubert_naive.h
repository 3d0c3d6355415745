/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Naive per-op reference loop: the whole int8 inference written the plain way, as the
 * baseline the benchmarks compare the optimised runtime against. Every op materialises
 * its full output tensor, loops are plain nested for-loops and requantisation goes
 * through small out-of-line helpers. Its logits are bit-identical to
 * python/mcubert/int8/reference.py (docs/numerics.md); it shares no code with src/.
 */
#ifndef MCUBERT_NAIVE_H_
#define MCUBERT_NAIVE_H_

#include <stddef.h>
#include <stdint.h>

#include "mcubert/mcubert.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Blob weight layout this implementation reads (header field at byte 6). */
#define MCUBERT_NAIVE_LAYOUT 2u

/* bytes of work memory mcubert_naive_classify needs for n_tokens <= s->max_seq_len */
size_t mcubert_naive_work_size(const struct mcubert_schedule *s);

/*
 * Tokens [n_first, n_tokens) are segment B (n_first == n_tokens: one sentence).
 * returns 0 or a negative MCUBERT_ERR_* code for bad n_tokens / n_first / token id; assumes the blob
 * already passed mcubert_init. `work` must be mcubert_naive_work_size() bytes, aligned to
 * MCUBERT_ALIGN; `logits` receives s->labels values.
 */
int mcubert_naive_classify(const struct mcubert_schedule *s, const uint8_t *blob,
			   const uint16_t *ids, size_t n_tokens, size_t n_first, int32_t *logits,
			   void *work);

#ifdef __cplusplus
}
#endif

#endif /* MCUBERT_NAIVE_H_ */
