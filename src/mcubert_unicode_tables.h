/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The generated Unicode class table (mcubert_unicode_tables.c) and its classes.
 */
#ifndef MCUBERT_UNICODE_TABLES_H_
#define MCUBERT_UNICODE_TABLES_H_

#include <stdint.h>

/* what BERT's normaliser makes of a code point */
#define MCUBERT_UC_DROP 0u   /* nothing (controls, U+FFFD, lone combining marks) */
#define MCUBERT_UC_SPACE 1u  /* a word separator */
#define MCUBERT_UC_PUNCT 2u  /* a word of its own */
#define MCUBERT_UC_LETTER 3u /* part of a word */
#define MCUBERT_UC_CJK 4u    /* an ideograph: a word of its own */
#define MCUBERT_UC_HANGUL 5u /* a syllable: decomposed arithmetically into jamo */

extern const uint32_t mcubert_unicode_version;
extern const uint8_t mcubert_unicode_classes[][3];
extern const uint32_t mcubert_unicode_n_classes;

#endif /* MCUBERT_UNICODE_TABLES_H_ */
