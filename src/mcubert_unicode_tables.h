/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The generated Unicode tables (mcubert_unicode_tables.c) and their record layout.
 */
#ifndef MCUBERT_UNICODE_TABLES_H_
#define MCUBERT_UNICODE_TABLES_H_

#include <stdint.h>

/* class of a normalised code point: inside a word, a word of its own, or a separator */
#define MCUBERT_UC_LETTER 0u
#define MCUBERT_UC_PUNCT 1u
#define MCUBERT_UC_SPACE 2u

/* record ops: what a code point in [start, next start) becomes */
#define MCUBERT_UC_DROP 0u    /* nothing (controls, U+FFFD, lone combining marks) */
#define MCUBERT_UC_SEP 1u     /* a word separator */
#define MCUBERT_UC_IDENT 2u   /* itself */
#define MCUBERT_UC_DELTA 3u   /* itself + value */
#define MCUBERT_UC_CONST 4u   /* value (accented letters of one base) */
#define MCUBERT_UC_STRIDE2 5u /* itself + value at even offsets, itself at odd (case pairs) */
#define MCUBERT_UC_SEQ 6u     /* mcubert_unicode_seqs[value]: count, then cp | class << 21 */
#define MCUBERT_UC_HANGUL 7u  /* syllable: decomposed arithmetically into jamo */

extern const uint32_t mcubert_unicode_version;
extern const uint32_t mcubert_unicode_records[][2];
extern const uint32_t mcubert_unicode_n_records;
extern const uint32_t mcubert_unicode_seqs[];
extern const uint32_t mcubert_unicode_n_seqs;

#endif /* MCUBERT_UNICODE_TABLES_H_ */
