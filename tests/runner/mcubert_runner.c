/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Test runner: classifies a batch of inputs from files, so the same program checks the
 * runtime on the host (optionally under ASan/UBSan) and on emulated cores (semihosting).
 *
 *   mcubert_runner SCHEDULE.bin BLOB.bin INPUTS.bin OUTPUTS.bin [COUNTS.bin]
 *
 * INPUTS.bin : u32 count, then per input u32 n_tokens, u32 n_first and n_tokens u16 ids.
 *              n_first 0xFFFFFFFF calls mcubert_classify(), anything else
 *              mcubert_classify_pair() with that n_first (0 included, to test its error).
 * OUTPUTS.bin: per input i32 status and `labels` i32 logits.
 * COUNTS.bin : per input u64, the instructions the classify call took (see mcubert_icount.h;
 *              0 on the host). All little-endian.
 * Guard bytes around the arena are checked after every call: the runtime must never
 * write outside it. Exit status: 0 ok, 1 usage/io error, 2 init error, 3 guard overwritten.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcubert/mcubert.h"
#ifdef MCUBERT_RUNNER_NAIVE
#include "../bench/mcubert_naive.h"
#endif
#include "mcubert_icount.h"

#define GUARD 64
#define GUARD_BYTE 0xA5
#define RUNNER_SINGLE 0xFFFFFFFFu

/*
 * Reads a whole file into one MCUBERT_ALIGN-aligned allocation sized to it: one copy of
 * a multi-megabyte blob, so it fits the 16 MB of RAM of the emulated boards. *base is
 * what to free.
 */
static unsigned char *read_file(const char *path, size_t *len, void **base)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long size;

	*base = NULL;
	if (f == NULL) {
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	*base = malloc((size_t)size + MCUBERT_ALIGN);
	if (*base != NULL) {
		p = (unsigned char *)*base + (MCUBERT_ALIGN - (uintptr_t)*base % MCUBERT_ALIGN) % MCUBERT_ALIGN;
		if (fread(p, 1, (size_t)size, f) != (size_t)size) {
			p = NULL;
		}
	}
	fclose(f);
	*len = (size_t)size;
	return p;
}

static int guards_ok(const unsigned char *arena, size_t len)
{
	for (size_t i = 0; i < GUARD; i++) {
		if (arena[-1 - (long)i] != GUARD_BYTE || arena[len + i] != GUARD_BYTE) {
			return 0;
		}
	}
	return 1;
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void wr64(FILE *f, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++) {
		b[i] = (unsigned char)(v >> (8 * i));
	}
	fwrite(b, 1, sizeof(b), f);
}

int main(int argc, char **argv)
{
	size_t sched_len, blob_len, in_len;
	void *sched_base, *blob_base, *in_base, *arena_base;
	struct mcubert_schedule sched;
	struct mcubert_ctx ctx;

	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: %s SCHEDULE.bin BLOB.bin INPUTS.bin OUTPUTS.bin [COUNTS.bin]\n", argv[0]);
		return 1;
	}
	unsigned char *sched_raw = read_file(argv[1], &sched_len, &sched_base);
	unsigned char *blob = read_file(argv[2], &blob_len, &blob_base);
	unsigned char *in = read_file(argv[3], &in_len, &in_base);

	if (sched_raw == NULL || blob == NULL || in == NULL || sched_len != sizeof(sched) || in_len < 4) {
		fprintf(stderr, "mcubert_runner: cannot read inputs\n");
		return 1;
	}
	memcpy(&sched, sched_raw, sizeof(sched));
	size_t arena_len = sched.arena_size;
	unsigned char *raw_arena = malloc(arena_len + 2 * GUARD + 2 * MCUBERT_ALIGN);

	if (raw_arena == NULL) {
		fprintf(stderr, "mcubert_runner: out of memory\n");
		return 1;
	}
	arena_base = raw_arena;
	unsigned char *arena = raw_arena + GUARD;

	arena += (MCUBERT_ALIGN - (uintptr_t)arena % MCUBERT_ALIGN) % MCUBERT_ALIGN;
	memset(arena - GUARD, GUARD_BYTE, arena_len + 2 * GUARD);

	int err = mcubert_init(&ctx, &sched, blob, blob_len, arena, arena_len);
#ifdef MCUBERT_RUNNER_NAIVE
	void *naive_base = malloc(mcubert_naive_work_size(&sched) + MCUBERT_ALIGN);
	void *naive_work = naive_base == NULL ? NULL
			   : (unsigned char *)naive_base +
				     (MCUBERT_ALIGN - (uintptr_t)naive_base % MCUBERT_ALIGN) % MCUBERT_ALIGN;

	if (naive_work == NULL) {
		fprintf(stderr, "mcubert_runner: out of memory for the naive baseline\n");
		return 1;
	}
#endif

	if (err != MCUBERT_OK) {
		fprintf(stderr, "mcubert_runner: init: %s\n", mcubert_strerror(err));
		return 2;
	}
	FILE *out = fopen(argv[4], "wb");
	FILE *counts = argc == 6 ? fopen(argv[5], "wb") : NULL;
	uint32_t count = rd32(in), labels = mcubert_num_labels(&ctx);
	size_t pos = 4;
	int32_t *logits = malloc(sizeof(int32_t) * labels);
	uint16_t *ids = malloc(sizeof(uint16_t) * 65536);
	int rc = 0;

	if (out == NULL || (argc == 6 && counts == NULL) || logits == NULL || ids == NULL) {
		fprintf(stderr, "mcubert_runner: cannot write outputs\n");
		return 1;
	}
	for (uint32_t i = 0; i < count && pos + 8 <= in_len; i++) {
		uint32_t n = rd32(in + pos), n_first = rd32(in + pos + 4);

		pos += 8;
		if (n > 65536 || pos + 2u * n > in_len) {
			fprintf(stderr, "mcubert_runner: inputs truncated\n");
			rc = 1;
			break;
		}
		for (uint32_t j = 0; j < n; j++) {
			ids[j] = (uint16_t)(in[pos + 2 * j] | (in[pos + 2 * j + 1] << 8));
		}
		pos += 2u * n;
		memset(logits, 0, sizeof(int32_t) * labels);
		mcubert_icount_start();
		uint64_t t0 = mcubert_icount_now();
#ifdef MCUBERT_RUNNER_NAIVE
		/* the benchmark's naive baseline, after the same mcubert_init() checks */
		int32_t status = mcubert_naive_classify(&sched, blob, ids, n,
							n_first == RUNNER_SINGLE ? n : n_first, logits,
							naive_work);
#else
		int32_t status = n_first == RUNNER_SINGLE
					 ? mcubert_classify(&ctx, ids, n, logits)
					 : mcubert_classify_pair(&ctx, ids, n, n_first, logits);
#endif
		uint64_t spent = mcubert_icount_now() - t0;

		if (!guards_ok(arena, arena_len)) {
			fprintf(stderr, "mcubert_runner: input %u wrote outside the arena\n", (unsigned)i);
			rc = 3;
		}
		fwrite(&status, sizeof(status), 1, out);
		fwrite(logits, sizeof(int32_t), labels, out);
		if (counts != NULL) {
			wr64(counts, spent);
		}
	}
	if (counts != NULL) {
		fclose(counts);
	}
	fclose(out);
	free(ids);
	free(logits);
	free(arena_base);
	free(in_base);
	free(blob_base);
	free(sched_base);
	return rc;
}
