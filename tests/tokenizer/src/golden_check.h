/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The golden-id check of the C tokenizer, in plain C: the ztest suite (main.c) runs it on the
 * device and python/tests/test_tokenizer_golden.py runs it on the host, on the cases that
 * `python -m mcubert.targets.tokenizer_golden` writes (golden.h).
 */
#ifndef MCUBERT_TESTS_GOLDEN_CHECK_H_
#define MCUBERT_TESTS_GOLDEN_CHECK_H_

#include <stddef.h>
#include <stdint.h>

#include <mcubert/mcubert_tokenize.h>

struct golden_case {
	const char *a;     /* text (not NUL-terminated for the tokenizer: alen bytes) */
	uint32_t alen;
	const char *b;     /* second text of a pair, or NULL */
	uint32_t blen;
	uint8_t pair;      /* mcubert_tokenize_pair() */
	uint16_t max_ids;
	uint8_t truncated; /* expected status MCUBERT_TOKENIZE_TRUNCATED, else MCUBERT_OK */
	uint16_t n;        /* expected ids: golden_ids[ids_off .. ids_off + n) */
	uint16_t n_first;  /* pair: length of [CLS] a [SEP]; else n */
	uint32_t ids_off;
};

/* A failing case: what differs, and the value got and wanted (id differences: at position pos). */
typedef void (*golden_report_fn)(uint32_t case_index, const char *what, uint32_t pos, long got,
				 long want);

/*
 * Tokenize every case into buf (buf_len >= the largest max_ids) and compare status, count,
 * n_first and every id. Returns the number of failing cases; report is called for each (may
 * be NULL).
 */
uint32_t golden_check(const struct mcubert_vocab *v, const struct golden_case *cases,
		      uint32_t n_cases, const uint16_t *ids, uint16_t *buf, size_t buf_len,
		      golden_report_fn report);

#endif /* MCUBERT_TESTS_GOLDEN_CHECK_H_ */
