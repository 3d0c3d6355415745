/*
 * SPDX-License-Identifier: Apache-2.0
 */
#include "golden_check.h"

uint32_t golden_check(const struct mcubert_vocab *v, const struct golden_case *cases,
		      uint32_t n_cases, const uint16_t *ids, uint16_t *buf, size_t buf_len,
		      golden_report_fn report)
{
	uint32_t failed = 0;

	for (uint32_t i = 0; i < n_cases; i++) {
		const struct golden_case *c = &cases[i];
		const uint16_t *want = &ids[c->ids_off];
		size_t n = 0, n_first = 0;
		int want_st = c->truncated ? MCUBERT_TOKENIZE_TRUNCATED : MCUBERT_OK;
		int st;
		int bad = 0;

		if (c->max_ids > buf_len) {
			if (report) {
				report(i, "max_ids above the buffer", 0, (long)c->max_ids, (long)buf_len);
			}
			failed++;
			continue;
		}
		if (c->pair) {
			st = mcubert_tokenize_pair(v, c->a, c->alen, c->b, c->blen, buf, c->max_ids, &n,
						   &n_first);
		} else {
			st = mcubert_tokenize(v, c->a, c->alen, buf, c->max_ids, &n);
			n_first = n;
		}
		if (st != want_st) {
			if (report) {
				report(i, "status", 0, st, want_st);
			}
			bad = 1;
		}
		if (n != c->n) {
			if (report) {
				report(i, "count", 0, (long)n, (long)c->n);
			}
			bad = 1;
		}
		if (n_first != c->n_first) {
			if (report) {
				report(i, "n_first", 0, (long)n_first, (long)c->n_first);
			}
			bad = 1;
		}
		for (size_t k = 0; k < n && k < c->n; k++) {
			if (buf[k] != want[k]) {
				if (report) {
					report(i, "id", (uint32_t)k, buf[k], want[k]);
				}
				bad = 1;
				break;
			}
		}
		failed += (uint32_t)bad;
	}
	return failed;
}
