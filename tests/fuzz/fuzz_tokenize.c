/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer target over mcubert_vocab_init() + mcubert_tokenize() + mcubert_tokenize_pair().
 *
 * MCUBERT_FUZZ_VOCAB names a valid vocabulary blob (tokenizer_blob.vocab_blob). Input byte 0:
 * bits 0-1 pick the mode, the rest of the input is:
 *
 *   0  text; max_ids = byte 1 (so 0, 1 and 2 reach MCUBERT_ERR_MAX_IDS and truncation)
 *   1  a pair: byte 1 max_ids, byte 2 where the text splits into a and b
 *   2  (u32 offset, u8 xor) patches to the blob, CRC recomputed, then a fixed text
 *
 * Checks: ids stay in ids[0..max_ids) and scratch in its buffer (guard bytes), every id is
 * below the vocabulary size, a success starts with [CLS] and ends with [SEP], n_first lies
 * inside, and a second call over scratch filled with other bytes gives the same ids (the
 * tokenizer never reads scratch it did not write). Any abort is a tokenizer bug.
 */
#define _POSIX_C_SOURCE 200112L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcubert/mcubert_tokenize.h"

#define GUARD 32
#define GUARD_BYTE 0xA5
#define MAX_IDS 256
#define PATCH_LEN 5

static uint8_t *vocab_blob;
static uint8_t *patched; /* one buffer for every patched blob: no heap churn per input */
static size_t vocab_len;

static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++) {
			c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
		}
	}
	return ~c;
}

static void load(void)
{
	const char *path = getenv("MCUBERT_FUZZ_VOCAB");
	FILE *f = path != NULL ? fopen(path, "rb") : NULL;
	long size;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "set MCUBERT_FUZZ_VOCAB to a vocabulary blob\n");
		abort();
	}
	vocab_len = (size_t)size;
	vocab_blob = malloc(vocab_len);
	patched = malloc(vocab_len);
	if (vocab_blob == NULL || patched == NULL || fread(vocab_blob, 1, vocab_len, f) != vocab_len) {
		abort();
	}
	fclose(f);
}

static void check_guard(const uint8_t *p)
{
	for (int i = 0; i < GUARD; i++) {
		if (p[i] != GUARD_BYTE) {
			abort();
		}
	}
}

/* One call; mode 0 single, 1 pair. Returns the status; ids/n/n_first out. */
static int call(const struct mcubert_vocab *v, int pair, const char *a, size_t alen, const char *b,
		size_t blen, uint16_t *ids, size_t max_ids, size_t *n, size_t *n_first)
{
	*n_first = 0;
	if (pair) {
		return mcubert_tokenize_pair(v, a, alen, b, blen, ids, max_ids, n, n_first);
	}
	return mcubert_tokenize(v, a, alen, ids, max_ids, n);
}

static void run(const uint8_t *blob, size_t blob_len, int pair, const char *a, size_t alen,
		const char *b, size_t blen, size_t max_ids)
{
	static uint8_t scratch[MCUBERT_TOKENIZE_BUFFER_SIZE + GUARD];
	static uint16_t ids[2][MAX_IDS + GUARD / 2];
	struct mcubert_vocab v;
	size_t n[2], nf[2];
	int st[2];

	memset(scratch, GUARD_BYTE, sizeof(scratch));
	if (mcubert_vocab_init(&v, blob, blob_len, scratch, MCUBERT_TOKENIZE_BUFFER_SIZE) != MCUBERT_OK) {
		check_guard(scratch + MCUBERT_TOKENIZE_BUFFER_SIZE);
		return;
	}
	for (int k = 0; k < 2; k++) {
		memset(scratch, k ? 0x5A : 0x00, MCUBERT_TOKENIZE_BUFFER_SIZE);
		memset(ids[k], GUARD_BYTE, sizeof(ids[k]));
		st[k] = call(&v, pair, a, alen, b, blen, ids[k], max_ids, &n[k], &nf[k]);
		check_guard(scratch + MCUBERT_TOKENIZE_BUFFER_SIZE);
		check_guard((const uint8_t *)(ids[k] + max_ids));
	}
	if (st[0] != st[1] || n[0] != n[1] || nf[0] != nf[1] || memcmp(ids[0], ids[1], 2u * n[0]) != 0) {
		abort();
	}
	if (st[0] < 0) {
		if (n[0] != 0 || (st[0] == MCUBERT_ERR_MAX_IDS) != (max_ids < (pair ? 3u : 2u))) {
			abort();
		}
		return;
	}
	if (n[0] < (pair ? 3u : 2u) || n[0] > max_ids || ids[0][0] != v.cls || ids[0][n[0] - 1] != v.sep) {
		abort();
	}
	if (pair && (nf[0] < 2u || nf[0] >= n[0] || ids[0][nf[0] - 1] != v.sep)) {
		abort();
	}
	for (size_t i = 0; i < n[0]; i++) {
		if (ids[0][i] >= v.vocab_size) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char text[] = "A naïve café, 東京 and ΑΣ!";

	if (vocab_blob == NULL) {
		load();
	}
	if (size < 2) {
		return 0;
	}
	switch (data[0] & 3u) {
	case 0:
		run(vocab_blob, vocab_len, 0, (const char *)data + 2, size - 2, NULL, 0, data[1]);
		break;
	case 1: {
		size_t split = size >= 3 ? data[2] : 0;
		const char *rest = size >= 3 ? (const char *)data + 3 : "";
		size_t len = size >= 3 ? size - 3 : 0;

		split = split < len ? split : len;
		run(vocab_blob, vocab_len, 1, rest, split, rest + split, len - split, data[1]);
		break;
	}
	default: {
		uint8_t *copy = patched;

		memcpy(copy, vocab_blob, vocab_len);
		for (size_t i = 1; i + PATCH_LEN <= size; i += PATCH_LEN) {
			uint32_t off = (uint32_t)data[i] | ((uint32_t)data[i + 1] << 8) |
				       ((uint32_t)data[i + 2] << 16) | ((uint32_t)data[i + 3] << 24);

			copy[off % vocab_len] ^= data[i + 4];
		}
		if (vocab_len >= 16) {
			uint32_t c = crc32(copy + 16, vocab_len - 16);

			copy[12] = (uint8_t)c;
			copy[13] = (uint8_t)(c >> 8);
			copy[14] = (uint8_t)(c >> 16);
			copy[15] = (uint8_t)(c >> 24);
		}
		run(copy, vocab_len, 0, text, sizeof(text) - 1, NULL, 0, 64);
		break;
	}
	}
	return 0;
}
