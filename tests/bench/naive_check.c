/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Host driver for the naive reference loop, with the batch runner's file formats
 * (tests/runner/mcubert_runner.c) so python/mcubert/targets/host.py can pack inputs and parse
 * outputs for both:
 *
 *   naive_check SCHEDULE.bin BLOB.bin INPUTS.bin OUTPUTS.bin
 *
 * INPUTS.bin : as tests/runner/mcubert_runner.c reads it (n_tokens, n_first, ids).
 * OUTPUTS.bin: per input i32 status and `labels` i32 logits.
 * The blob first goes through the real mcubert_init(), because the naive code trusts a
 * validated blob. Guard bytes around the work memory are checked after every call.
 * Exit status: 0 ok, 1 usage/io error, 2 init error, 3 guard overwritten.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcubert/mcubert.h"
#include "mcubert_naive.h"

#define GUARD 64 /* a multiple of MCUBERT_ALIGN */
#define GUARD_BYTE 0x5A

static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	long size;

	if (f == NULL) {
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		data = malloc((size_t)size + 1);
		if (data != NULL && fread(data, 1, (size_t)size, f) != (size_t)size) {
			free(data);
			data = NULL;
		}
		*len = (size_t)size;
	}
	fclose(f);
	return data;
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static unsigned char *align_up(unsigned char *p)
{
	return p + (MCUBERT_ALIGN - (uintptr_t)p % MCUBERT_ALIGN) % MCUBERT_ALIGN;
}

static int guards_ok(const unsigned char *work, size_t len)
{
	for (size_t i = 0; i < GUARD; i++) {
		if (work[-1 - (long)i] != GUARD_BYTE || work[len + i] != GUARD_BYTE) {
			return 0;
		}
	}
	return 1;
}

int main(int argc, char **argv)
{
	size_t sched_len = 0, blob_len = 0, in_len = 0;
	struct mcubert_schedule sched;
	struct mcubert_ctx ctx;

	if (argc != 5) {
		fprintf(stderr, "usage: %s SCHEDULE.bin BLOB.bin INPUTS.bin OUTPUTS.bin\n", argv[0]);
		return 1;
	}
	unsigned char *sched_raw = read_file(argv[1], &sched_len);
	unsigned char *blob_raw = read_file(argv[2], &blob_len);
	unsigned char *in = read_file(argv[3], &in_len);

	if (sched_raw == NULL || blob_raw == NULL || in == NULL || sched_len != sizeof(sched) ||
	    in_len < 4) {
		fprintf(stderr, "naive_check: cannot read inputs\n");
		return 1;
	}
	memcpy(&sched, sched_raw, sizeof(sched));

	unsigned char *blob_base = malloc(blob_len + MCUBERT_ALIGN);
	unsigned char *arena_base = malloc((size_t)sched.arena_size + MCUBERT_ALIGN);
	size_t work_len = mcubert_naive_work_size(&sched);
	unsigned char *work_base = malloc(work_len + 2 * GUARD + MCUBERT_ALIGN);

	if (blob_base == NULL || arena_base == NULL || work_base == NULL || work_len == 0) {
		fprintf(stderr, "naive_check: out of memory\n");
		return 1;
	}
	unsigned char *blob = align_up(blob_base);
	unsigned char *work = align_up(work_base) + GUARD;

	memcpy(blob, blob_raw, blob_len);
	memset(work - GUARD, GUARD_BYTE, work_len + 2 * GUARD);

	/* the naive loop assumes a validated blob: reject bad ones with the real checks */
	int err = mcubert_init(&ctx, &sched, blob, blob_len, align_up(arena_base), sched.arena_size);

	if (err != MCUBERT_OK) {
		fprintf(stderr, "naive_check: init: %s\n", mcubert_strerror(err));
		return 2;
	}
	FILE *out = fopen(argv[4], "wb");
	uint32_t count = rd32(in), labels = sched.labels;
	int32_t *logits = malloc(sizeof(int32_t) * labels);
	uint16_t *ids = malloc(sizeof(uint16_t) * 65536);
	size_t pos = 4;
	int rc = 0;

	if (out == NULL || logits == NULL || ids == NULL) {
		fprintf(stderr, "naive_check: cannot write outputs\n");
		return 1;
	}
	for (uint32_t i = 0; i < count && pos + 8 <= in_len; i++) {
		/* INPUTS.bin as the runner reads it; n_first 0xFFFFFFFF is one sentence */
		uint32_t n = rd32(in + pos), n_first = rd32(in + pos + 4);

		pos += 8;
		if (n > 65536 || pos + 2u * n > in_len) {
			fprintf(stderr, "naive_check: inputs truncated\n");
			rc = 1;
			break;
		}
		for (uint32_t j = 0; j < n; j++) {
			ids[j] = (uint16_t)(in[pos + 2 * j] | (in[pos + 2 * j + 1] << 8));
		}
		pos += 2u * n;
		memset(logits, 0, sizeof(int32_t) * labels);
		int32_t status = mcubert_naive_classify(&sched, blob, ids, n,
							n_first == 0xFFFFFFFFu ? n : n_first, logits, work);

		if (!guards_ok(work, work_len)) {
			fprintf(stderr, "naive_check: input %u wrote outside the work memory\n", (unsigned)i);
			rc = 3;
		}
		fwrite(&status, sizeof(status), 1, out);
		fwrite(logits, sizeof(int32_t), labels, out);
	}
	fclose(out);
	free(ids);
	free(logits);
	free(work_base);
	free(arena_base);
	free(blob_base);
	free(blob_raw);
	free(sched_raw);
	free(in);
	return rc;
}
