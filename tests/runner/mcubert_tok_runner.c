/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Tokenizer test runner: tokenizes a batch of texts from files, so the same program checks
 * the C tokenizer on the host (optionally under ASan/UBSan) and on emulated cores.
 *
 *   mcubert_tok_runner VOCAB.bin INPUTS.bin OUTPUTS.bin [COUNTS.bin]
 *
 * INPUTS.bin : u32 count, then per input u32 max_ids, u32 a_len, u32 b_len and the bytes of
 *              a and b; b_len 0xFFFFFFFF calls mcubert_tokenize(), anything else
 *              mcubert_tokenize_pair().
 * OUTPUTS.bin: per input i32 status, u32 n, u32 n_first and n u16 ids.
 * COUNTS.bin : per input u64, the instructions the call took (emulated cores; 0 on the host),
 *              then u64 the instructions of mcubert_vocab_init. All little-endian.
 * Guard words after ids and scratch are checked after every call. Exit status: 0 ok,
 * 1 usage/io error, 2 init error, 3 guard overwritten.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcubert/mcubert_tokenize.h"
#include "mcubert_icount.h"

#define SINGLE 0xFFFFFFFFu
#define GUARD 16
#define GUARD_BYTE 0xA5

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long size;

	if (f == NULL) {
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		p = malloc((size_t)size + 1u);
		if (p != NULL && fread(p, 1, (size_t)size, f) != (size_t)size) {
			free(p);
			p = NULL;
		}
		*len = (size_t)size;
	}
	fclose(f);
	return p;
}

static uint32_t rd(const unsigned char *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void wr(FILE *f, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 24)};

	fwrite(b, 1, 4, f);
}

static void wr64(FILE *f, uint64_t v)
{
	wr(f, (uint32_t)v);
	wr(f, (uint32_t)(v >> 32));
}

static int guard_ok(const unsigned char *p)
{
	for (int i = 0; i < GUARD; i++) {
		if (p[i] != GUARD_BYTE) {
			return 0;
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	static struct mcubert_vocab vocab;
	static unsigned char scratch[MCUBERT_TOKENIZE_BUFFER_SIZE + GUARD];
	size_t blob_len, in_len, pos = 4;
	unsigned char *blob, *in;
	FILE *out, *counts = NULL;
	uint32_t count;
	uint64_t t0, init_count;
	int err;

	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: %s VOCAB.bin INPUTS.bin OUTPUTS.bin [COUNTS.bin]\n", argv[0]);
		return 1;
	}
	blob = read_all(argv[1], &blob_len);
	in = read_all(argv[2], &in_len);
	out = fopen(argv[3], "wb");
	if (argc == 5) {
		counts = fopen(argv[4], "wb");
	}
	if (blob == NULL || in == NULL || out == NULL || in_len < 4 || (argc == 5 && counts == NULL)) {
		fprintf(stderr, "cannot read or write the files\n");
		return 1;
	}
	memset(scratch, GUARD_BYTE, sizeof(scratch));
	mcubert_icount_start();
	t0 = mcubert_icount_now();
	err = mcubert_vocab_init(&vocab, blob, blob_len, scratch, mcubert_tokenize_buffer_size());
	init_count = mcubert_icount_now() - t0;
	if (err != MCUBERT_OK) {
		fprintf(stderr, "mcubert_vocab_init: %s\n", mcubert_strerror(err));
		return 2;
	}
	count = rd(in);
	for (uint32_t k = 0; k < count; k++) {
		uint32_t max_ids, alen, blen;
		size_t n = 0, n_first = 0;
		unsigned char *ids;

		if (in_len - pos < 12u) {
			fprintf(stderr, "inputs truncated\n");
			return 1;
		}
		max_ids = rd(in + pos);
		alen = rd(in + pos + 4);
		blen = rd(in + pos + 8);
		pos += 12;
		if (alen > in_len - pos || (blen != SINGLE && blen > in_len - pos - alen)) {
			fprintf(stderr, "inputs truncated\n");
			return 1;
		}
		/* exactly sized texts: ASan sees any read past them */
		char *a = malloc(alen + 1u), *b = NULL;
		memcpy(a, in + pos, alen);
		pos += alen;
		if (blen != SINGLE) {
			b = malloc(blen + 1u);
			memcpy(b, in + pos, blen);
			pos += blen;
		}
		ids = malloc(2u * max_ids + GUARD);
		memset(ids, GUARD_BYTE, 2u * max_ids + GUARD);
		mcubert_icount_start();
		t0 = mcubert_icount_now();
		if (blen == SINGLE) {
			err = mcubert_tokenize(&vocab, a, alen, (uint16_t *)ids, max_ids, &n);
		} else {
			err = mcubert_tokenize_pair(&vocab, a, alen, b, blen, (uint16_t *)ids, max_ids,
						    &n, &n_first);
		}
		t0 = mcubert_icount_now() - t0;
		if (counts != NULL) {
			wr64(counts, t0);
		}
		if (!guard_ok(ids + 2u * max_ids) || !guard_ok(scratch + MCUBERT_TOKENIZE_BUFFER_SIZE)) {
			fprintf(stderr, "guard overwritten at input %u\n", (unsigned)k);
			return 3;
		}
		wr(out, (uint32_t)err);
		wr(out, (uint32_t)n);
		wr(out, (uint32_t)n_first);
		fwrite(ids, 2, n, out);
		free(a);
		free(b);
		free(ids);
	}
	fclose(out);
	if (counts != NULL) {
		wr64(counts, init_count);
		fclose(counts);
	}
	free(blob);
	free(in);
	return 0;
}
