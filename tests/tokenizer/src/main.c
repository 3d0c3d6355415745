/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The C tokenizer on the device: the ids of a few hundred texts (English, accents, CJK, emoji,
 * controls, zero-width characters, invalid UTF-8, truncation, pairs) against golden ids that
 * the Python reference computed at build time (golden.h), and the error codes of
 * mcubert_vocab_init() and mcubert_tokenize().
 */
#include <stdint.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/ztest.h>

#include <mcubert/mcubert.h>
#include <mcubert/mcubert_tokenize.h>

#include "golden_check.h"
#include "golden.h"
#include "tok_vocab.h" /* tok_vocab, TOK_VOCAB_SIZE: mcubert_add_model(... TOKENIZER) */

static struct mcubert_vocab vocab;
static uint8_t scratch[MCUBERT_TOKENIZE_BUFFER_SIZE];
static uint16_t ids[GOLDEN_MAX_IDS];

/* A damaged header: the first bytes of the blob, copied. */
#define HEAD_COPY (TOK_VOCAB_SIZE < 512u ? TOK_VOCAB_SIZE : 512u)
static uint8_t head[HEAD_COPY];

/* A whole damaged copy for the CRC test, where RAM allows (not on 64 KiB boards with a large vocabulary). */
#define CRC_COPY_FITS (TOK_VOCAB_SIZE + 32768u <= CONFIG_SRAM_SIZE * 1024u)
#if CRC_COPY_FITS
static uint8_t copy[TOK_VOCAB_SIZE];
#endif

static void report(uint32_t i, const char *what, uint32_t pos, long got, long want)
{
	printk("golden case %u: %s (position %u): got %ld, want %ld\n", (unsigned int)i, what,
	       (unsigned int)pos, got, want);
}

static void *setup(void)
{
	int err = mcubert_vocab_init(&vocab, tok_vocab, TOK_VOCAB_SIZE, scratch, sizeof(scratch));

	printk("tokenizer: vocabulary blob %u bytes, %u golden cases (%u ids), Unicode 0x%06x\n",
	       (unsigned int)TOK_VOCAB_SIZE, (unsigned int)GOLDEN_NUM_CASES,
	       (unsigned int)GOLDEN_NUM_IDS, (unsigned int)mcubert_tokenize_unicode_version());
	zassert_equal(err, MCUBERT_OK, "mcubert_vocab_init: %s", mcubert_strerror(err));
	return NULL;
}

ZTEST_SUITE(mcubert_tokenizer, NULL, setup, NULL, NULL, NULL);

ZTEST(mcubert_tokenizer, test_golden_ids)
{
	uint32_t t0 = k_cycle_get_32();
	uint32_t failed = golden_check(&vocab, golden_cases, GOLDEN_NUM_CASES, golden_ids, ids,
				       ARRAY_SIZE(ids), report);
	uint32_t us = (uint32_t)k_cyc_to_us_floor64(k_cycle_get_32() - t0);

	printk("tokenizer: %u/%u golden cases match (%u us)\n",
	       (unsigned int)(GOLDEN_NUM_CASES - failed), (unsigned int)GOLDEN_NUM_CASES,
	       (unsigned int)us);
	zassert_equal(failed, 0u, "%u golden cases differ from the Python reference",
		      (unsigned int)failed);
}

ZTEST(mcubert_tokenizer, test_buffer_size)
{
	zassert_equal(mcubert_tokenize_buffer_size(), MCUBERT_TOKENIZE_BUFFER_SIZE);
	zassert_equal(mcubert_tokenize_unicode_version() >> 16, 14u, "Unicode 14 tables");
}

ZTEST(mcubert_tokenizer, test_scratch_too_small)
{
	struct mcubert_vocab v;

	zassert_equal(mcubert_vocab_init(&v, tok_vocab, TOK_VOCAB_SIZE, scratch,
					 MCUBERT_TOKENIZE_BUFFER_SIZE - 1u),
		      MCUBERT_ERR_SCRATCH);
	/* a failed init leaves a context that every call refuses */
	size_t n = 99;

	zassert_equal(mcubert_tokenize(&v, "a", 1, ids, 8, &n), MCUBERT_ERR_ARG);
}

ZTEST(mcubert_tokenizer, test_null_arguments)
{
	struct mcubert_vocab v;
	size_t n, nf;

	zassert_equal(mcubert_vocab_init(NULL, tok_vocab, TOK_VOCAB_SIZE, scratch, sizeof(scratch)),
		      MCUBERT_ERR_ARG);
	zassert_equal(mcubert_vocab_init(&v, NULL, TOK_VOCAB_SIZE, scratch, sizeof(scratch)),
		      MCUBERT_ERR_ARG);
	zassert_equal(mcubert_vocab_init(&v, tok_vocab, TOK_VOCAB_SIZE, NULL, sizeof(scratch)),
		      MCUBERT_ERR_ARG);
	memset(&v, 0, sizeof(v));
	zassert_equal(mcubert_tokenize(&v, "a", 1, ids, 8, &n), MCUBERT_ERR_ARG, "zeroed context");
	zassert_equal(mcubert_tokenize(NULL, "a", 1, ids, 8, &n), MCUBERT_ERR_ARG);
	zassert_equal(mcubert_tokenize(&vocab, "a", 1, NULL, 8, &n), MCUBERT_ERR_ARG);
	zassert_equal(mcubert_tokenize(&vocab, "a", 1, ids, 8, NULL), MCUBERT_ERR_ARG);
	zassert_equal(mcubert_tokenize_pair(&vocab, "a", 1, "b", 1, ids, 8, &n, NULL),
		      MCUBERT_ERR_ARG);
	zassert_equal(mcubert_tokenize_pair(&v, "a", 1, "b", 1, ids, 8, &n, &nf), MCUBERT_ERR_ARG);
}

ZTEST(mcubert_tokenizer, test_max_ids_too_small)
{
	size_t n, nf;

	zassert_equal(mcubert_tokenize(&vocab, "a", 1, ids, 0, &n), MCUBERT_ERR_MAX_IDS);
	zassert_equal(mcubert_tokenize(&vocab, "a", 1, ids, 1, &n), MCUBERT_ERR_MAX_IDS);
	zassert_equal(mcubert_tokenize(&vocab, "", 0, ids, 2, &n), MCUBERT_OK);
	zassert_equal(n, 2u, "[CLS] [SEP]");
	zassert_equal(mcubert_tokenize(&vocab, "a", 1, ids, 2, &n), MCUBERT_TOKENIZE_TRUNCATED);
	zassert_equal(n, 2u);
	zassert_equal(mcubert_tokenize_pair(&vocab, "a", 1, "b", 1, ids, 2, &n, &nf),
		      MCUBERT_ERR_MAX_IDS);
	zassert_equal(mcubert_tokenize_pair(&vocab, "", 0, "", 0, ids, 3, &n, &nf), MCUBERT_OK);
	zassert_equal(n, 3u, "[CLS] [SEP] [SEP]");
	zassert_equal(nf, 2u);
	zassert_equal(mcubert_strerror(MCUBERT_ERR_MAX_IDS) != NULL, true);
}

ZTEST(mcubert_tokenizer, test_truncated_blob)
{
	struct mcubert_vocab v;

	zassert_equal(mcubert_vocab_init(&v, tok_vocab, 8, scratch, sizeof(scratch)),
		      MCUBERT_ERR_TRUNCATED);
	zassert_equal(mcubert_vocab_init(&v, tok_vocab, TOK_VOCAB_SIZE - 1u, scratch,
					 sizeof(scratch)),
		      MCUBERT_ERR_TRUNCATED);
}

ZTEST(mcubert_tokenizer, test_bad_magic)
{
	struct mcubert_vocab v;

	memcpy(head, tok_vocab, sizeof(head));
	head[0] ^= 0x20u; /* "mCTK" */
	zassert_equal(mcubert_vocab_init(&v, head, sizeof(head), scratch, sizeof(scratch)),
		      MCUBERT_ERR_MAGIC);
}

ZTEST(mcubert_tokenizer, test_bad_version)
{
	struct mcubert_vocab v;
	uint32_t version = MCUBERT_TOKENIZE_VERSION + 1u;

	memcpy(head, tok_vocab, sizeof(head));
	for (int k = 0; k < 4; k++) { /* little-endian u32 after the magic */
		head[4 + k] = (uint8_t)(version >> (8 * k));
	}
	zassert_equal(mcubert_vocab_init(&v, head, sizeof(head), scratch, sizeof(scratch)),
		      MCUBERT_ERR_VERSION);
}

ZTEST(mcubert_tokenizer, test_bad_crc)
{
#if CRC_COPY_FITS
	struct mcubert_vocab v;
	size_t n;

	memcpy(copy, tok_vocab, sizeof(copy));
	zassert_equal(mcubert_vocab_init(&v, copy, sizeof(copy), scratch, sizeof(scratch)),
		      MCUBERT_OK, "an intact copy in RAM");
	copy[sizeof(copy) - 1u] ^= 0x01u;
	zassert_equal(mcubert_vocab_init(&v, copy, sizeof(copy), scratch, sizeof(scratch)),
		      MCUBERT_ERR_CRC);
	zassert_equal(mcubert_tokenize(&v, "a", 1, ids, 8, &n), MCUBERT_ERR_ARG,
		      "a refused blob leaves no usable context");
#else
	ztest_test_skip(); /* no RAM for a copy of the vocabulary blob */
#endif
}
