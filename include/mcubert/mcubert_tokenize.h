/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * mcubert_tokenize: UTF-8 text to BERT (uncased) WordPiece ids on the device, the same ids as
 * transformers' BertTokenizer (docs/tokenizer.md says where and why they can differ).
 *
 * The vocabulary blob (`python -m mcubert.export.tokenizer_blob`, see tokenizer_blob.py) is
 * read in place; the caller gives a scratch buffer of mcubert_tokenize_buffer_size() bytes.
 * No allocation, no floating point, no recursion; at most 492 bytes of stack (Cortex-M7, `mcubert bench`).
 *
 *   static struct mcubert_vocab vocab;
 *   static uint8_t scratch[MCUBERT_TOKENIZE_BUFFER_SIZE];
 *   int err = mcubert_vocab_init(&vocab, vocab_blob, sizeof(vocab_blob), scratch, sizeof(scratch));
 *   size_t n;
 *   if (err == MCUBERT_OK) err = mcubert_tokenize(&vocab, line, strlen(line), ids, 128, &n);
 *   // err == MCUBERT_TOKENIZE_TRUNCATED: ids[0..n) is valid, the text was longer
 *
 * Invalid UTF-8 (a stray continuation byte, a truncated or overlong sequence, a surrogate or
 * a code point above U+10FFFF): each maximal invalid subpart becomes U+FFFD, as Python's
 * bytes.decode(errors="replace"), and U+FFFD is dropped like a control character.
 *
 * A vocabulary context shares its scratch buffer between calls: one context per thread.
 */
#ifndef MCUBERT_MCUBERT_TOKENIZE_H_
#define MCUBERT_MCUBERT_TOKENIZE_H_

#include <stddef.h>
#include <stdint.h>

#include "mcubert/mcubert.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MCUBERT_TOKENIZE_MAGIC 0x4B54434Du /* "MCTK" */
#define MCUBERT_TOKENIZE_VERSION 2u
/* A longer word becomes [UNK], as in BERT. */
#define MCUBERT_TOKENIZE_MAX_WORD_CHARS 100u
/* Scratch: one word (4 bytes a character) and one token being decoded. */
#define MCUBERT_TOKENIZE_BUFFER_SIZE (4u * MCUBERT_TOKENIZE_MAX_WORD_CHARS + 256u)

/* Positive status: ids[0..n) is a valid, complete sequence, but the text was cut to fit. */
#define MCUBERT_TOKENIZE_TRUNCATED 1

/* A validated vocabulary; fill it with mcubert_vocab_init(). Fields are private. */
struct mcubert_vocab {
	const uint8_t *blob;
	uint8_t *scratch;
	uint32_t vocab_size;
	uint16_t unk, cls, sep;
	uint32_t magic; /* MCUBERT_TOKENIZE_MAGIC once initialised */
};

size_t mcubert_tokenize_buffer_size(void);

/*
 * Check the blob (magic, version, length, CRC, Unicode version, every table entry) and set
 * up v. Errors: MCUBERT_ERR_ARG, _SCRATCH, _TRUNCATED, _MAGIC, _VERSION, _CRC, _LAYOUT. The
 * blob is read byte by byte, so any alignment will do. On failure v is zeroed.
 */
int mcubert_vocab_init(struct mcubert_vocab *v, const uint8_t *blob, size_t blob_len,
		       uint8_t *scratch, size_t scratch_len);

/*
 * [CLS] text [SEP] into ids, at most max_ids (>= 2, else MCUBERT_ERR_MAX_IDS) of them; *n
 * receives the count. MCUBERT_TOKENIZE_TRUNCATED when the text's tokens were cut.
 */
int mcubert_tokenize(const struct mcubert_vocab *v, const char *utf8, size_t len, uint16_t *ids,
		     size_t max_ids, size_t *n);

/*
 * [CLS] a [SEP] b [SEP], at most max_ids (>= 3) ids, cut as transformers' 'longest_first';
 * *n_first receives the length of [CLS] a [SEP] (for mcubert_classify_pair()).
 */
int mcubert_tokenize_pair(const struct mcubert_vocab *v, const char *a, size_t alen,
			  const char *b, size_t blen, uint16_t *ids, size_t max_ids, size_t *n,
			  size_t *n_first);

/* Unicode version of the compiled tables, (major << 16) | (minor << 8) | micro. */
uint32_t mcubert_tokenize_unicode_version(void);

#ifdef __cplusplus
}
#endif

#endif /* MCUBERT_MCUBERT_TOKENIZE_H_ */
