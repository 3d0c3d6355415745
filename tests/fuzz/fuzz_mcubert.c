/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * libFuzzer target over mcubert_init() + mcubert_classify() + mcubert_classify_pair().
 *
 * Raw bytes as a blob almost never get past the CRC, so the target starts from a valid
 * seed model: MCUBERT_FUZZ_BLOB names its blob and MCUBERT_FUZZ_SCHEDULE its schedule, the
 * raw struct mcubert_schedule words as `mcubert generate` writes <name>_schedule.bin. The
 * schedule file may hold more schedules of the same model back to back (other modes,
 * per_head); they reach classify paths that patches to one schedule cannot.
 *
 * Input byte 0: bits 0-1 pick what the rest of the input changes, bits 2-6 a schedule
 * (modes 2, 3), bit 7 shortens the arena by MCUBERT_ALIGN bytes (MCUBERT_ERR_ARENA):
 *
 *   0  raw blob, first schedule           (header parsing up to the CRC)
 *   1  (u32 offset, u8 xor) patches to the blob, CRC recomputed  (everything behind the CRC)
 *   2  (u32 offset, u8 xor) patches to the schedule, hash recomputed (a patch to the hash
 *      word stays a corruption of it) and the true hash written into the blob, CRC
 *      recomputed, so the schedule itself, not the blob's hash check, is what gets tested
 *   3  valid model; u16 n_tokens and u16 ids for classify, as given (0, > max, >= vocab)
 *
 * Whenever init succeeds, classify runs twice over arenas pre-filled with different bytes:
 * the guard bytes around the arena must hold and the logits must not differ (a difference
 * means the runtime read arena bytes it never wrote). Then mcubert_classify_pair() runs the
 * same way on the same ids, with n_first = (last two input bytes, u16) % (n_tokens + 2):
 * 0 and n_tokens + 1 (MCUBERT_ERR_N_FIRST) as well as every split; n_first == n_tokens
 * must give exactly the single-sentence logits. Any abort here is a runtime bug.
 */
#define _POSIX_C_SOURCE 200112L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcubert/mcubert.h"

#define GUARD 64
#define GUARD_BYTE 0xA5
/* Larger arena_size values (mode 2) get a capped arena: init must answer ERR_ARENA. */
#define ARENA_CAP (16u << 20)
#define PATCH_LEN 5
#define MODE_MASK 3u
#define SCHED_SHIFT 2
#define SCHED_MASK 0x1Fu
#define SHORT_ARENA 0x80u

/* Blob header fields the target rewrites (src/mcubert_blob.h). */
#define BLOB_TOTAL_OFF 8
#define BLOB_CRC_OFF 12
#define BLOB_HASH_OFF 16

enum fuzz_mode { MODE_RAW_BLOB, MODE_PATCH_BLOB, MODE_PATCH_SCHEDULE, MODE_TOKENS };

static uint8_t *seed_blob;
static size_t seed_blob_len;
static struct mcubert_schedule *seed_scheds;
static size_t n_scheds;
static uint32_t crc_table[256];

static void die(const char *msg)
{
	fprintf(stderr, "fuzz_mcubert: %s\n", msg);
	abort();
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static void wr32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;

	for (size_t i = 0; i < n; i++) {
		c = crc_table[(c ^ p[i]) & 0xFFu] ^ (c >> 8);
	}
	return ~c;
}

/* CRC of [16, total length), the length clamped to the buffer, as the runtime computes it. */
static void fix_crc(uint8_t *blob, size_t len)
{
	size_t total;

	if (len < BLOB_HASH_OFF) {
		return;
	}
	total = rd32(blob + BLOB_TOTAL_OFF);
	if (total > len) {
		total = len;
	}
	if (total < BLOB_HASH_OFF) {
		total = BLOB_HASH_OFF;
	}
	wr32(blob + BLOB_CRC_OFF, crc32_ieee(blob + BLOB_HASH_OFF, total - BLOB_HASH_OFF));
}

/* FNV-1a 32 over every word but the hash (word 1), bytes little-endian. */
static uint32_t schedule_hash(const struct mcubert_schedule *s)
{
	const uint32_t *w = (const uint32_t *)s;
	uint32_t h = 0x811C9DC5u;

	for (size_t i = 0; i < MCUBERT_SCHEDULE_WORDS; i++) {
		if (i == 1) {
			continue;
		}
		for (unsigned b = 0; b < 4; b++) {
			h = (h ^ ((w[i] >> (8 * b)) & 0xFFu)) * 0x01000193u;
		}
	}
	return h;
}

/* Exactly len bytes (no slack), so ASan flags any read past the end of the blob. */
static uint8_t *aligned_copy(const uint8_t *src, size_t len)
{
	void *p = NULL;

	if (posix_memalign(&p, MCUBERT_ALIGN, len > 0 ? len : 1) != 0) {
		die("out of memory");
	}
	if (len > 0) {
		memcpy(p, src, len);
	}
	return p;
}

static void apply_patches(uint8_t *dst, size_t dst_len, const uint8_t *in, size_t in_len)
{
	if (dst_len == 0) {
		return;
	}
	for (size_t i = 0; i + PATCH_LEN <= in_len; i += PATCH_LEN) {
		dst[rd32(in + i) % dst_len] ^= in[i + 4];
	}
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	long n;

	if (f == NULL) {
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	data = malloc((size_t)n > 0 ? (size_t)n : 1);
	if (data == NULL || fread(data, 1, (size_t)n, f) != (size_t)n) {
		free(data);
		fclose(f);
		return NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return data;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *blob_path = getenv("MCUBERT_FUZZ_BLOB");
	const char *sched_path = getenv("MCUBERT_FUZZ_SCHEDULE");
	uint8_t *raw;
	size_t len;

	if (blob_path == NULL || sched_path == NULL) {
		die("set MCUBERT_FUZZ_BLOB and MCUBERT_FUZZ_SCHEDULE to a valid blob and its "
		    "schedule (<name>_blob.bin, <name>_schedule.bin from `mcubert generate`)");
	}
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (unsigned k = 0; k < 8; k++) {
			c = (c & 1u) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		}
		crc_table[i] = c;
	}
	raw = read_file(sched_path, &len);
	if (raw == NULL || len == 0 || len % sizeof(*seed_scheds) != 0) {
		die("cannot read MCUBERT_FUZZ_SCHEDULE (or it is not whole struct mcubert_schedule)");
	}
	seed_scheds = malloc(len);
	if (seed_scheds == NULL) {
		die("out of memory");
	}
	memcpy(seed_scheds, raw, len);
	n_scheds = len / sizeof(*seed_scheds);
	free(raw);
	raw = read_file(blob_path, &len);
	if (raw == NULL) {
		die("cannot read MCUBERT_FUZZ_BLOB");
	}
	seed_blob = aligned_copy(raw, len);
	seed_blob_len = len;
	free(raw);
	/* which kernel path this build fuzzes (the SIMD one on the host: MCUBERT_HOST_DSP) */
	fprintf(stderr, "fuzz_mcubert: kernels %s, %zu schedules\n", mcubert_kernel_variant(), n_scheds);
	return 0;
}

struct arena {
	uint8_t *raw;
	uint8_t *p;
	size_t len;
};

static void arena_alloc(struct arena *a, size_t len)
{
	a->raw = malloc(len + 2 * GUARD + MCUBERT_ALIGN);
	if (a->raw == NULL) {
		die("out of memory");
	}
	a->p = a->raw + GUARD;
	a->p += (MCUBERT_ALIGN - (uintptr_t)a->p % MCUBERT_ALIGN) % MCUBERT_ALIGN;
	a->len = len;
	memset(a->p - GUARD, GUARD_BYTE, len + 2 * GUARD);
}

static void arena_check(const struct arena *a, const char *when)
{
	for (size_t i = 0; i < GUARD; i++) {
		if (a->p[-1 - (long)i] != GUARD_BYTE || a->p[a->len + i] != GUARD_BYTE) {
			fprintf(stderr, "fuzz_mcubert: %s wrote outside the arena (%s guard, byte %zu)\n",
				when, a->p[-1 - (long)i] != GUARD_BYTE ? "low" : "high", i);
			abort();
		}
	}
}

/* Modes 0-2: valid ids from the input bytes, 1..max_seq_len of them, so classify must succeed. */
static uint16_t *ids_from_bytes(const struct mcubert_schedule *s, const uint8_t *in, size_t len,
				size_t *n)
{
	size_t count = len / 2;
	uint16_t *ids;

	if (count > s->max_seq_len) {
		count = s->max_seq_len;
	}
	if (count == 0) {
		count = 1;
	}
	ids = calloc(count, sizeof(*ids));
	if (ids == NULL) {
		die("out of memory");
	}
	for (size_t i = 0; i < count && 2 * i + 1 < len; i++) {
		ids[i] = (uint16_t)((in[2 * i] | (in[2 * i + 1] << 8)) % s->vocab_size);
	}
	*n = count;
	return ids;
}

/* Mode 3: n_tokens and ids exactly as given; missing ids are 0. */
static uint16_t *ids_as_given(const uint8_t *in, size_t len, size_t *n)
{
	size_t count = len >= 2 ? (size_t)(in[0] | (in[1] << 8)) : (len == 1 ? in[0] : 0);
	uint16_t *ids = calloc(count > 0 ? count : 1, sizeof(*ids));

	if (ids == NULL) {
		die("out of memory");
	}
	for (size_t i = 0; i < count && 2 * i + 3 < len; i++) {
		ids[i] = (uint16_t)(in[2 + 2 * i] | (in[3 + 2 * i] << 8));
	}
	*n = count;
	return ids;
}

/* mcubert_classify() when n_first is SINGLE, else mcubert_classify_pair(). */
#define SINGLE SIZE_MAX

/* The documented error order: n_tokens, n_first, then the ids. */
static int expected_status(const struct mcubert_schedule *s, const uint16_t *ids, size_t n,
			   size_t n_first)
{
	if (n == 0 || n > s->max_seq_len) {
		return MCUBERT_ERR_N_TOKENS;
	}
	if (n_first != SINGLE && (n_first == 0 || n_first > n)) {
		return MCUBERT_ERR_N_FIRST;
	}
	for (size_t i = 0; i < n; i++) {
		if (ids[i] >= s->vocab_size) {
			return MCUBERT_ERR_TOKEN_ID;
		}
	}
	return MCUBERT_OK;
}

/* Classifies twice (a pair unless n_first is SINGLE); the first run's logits go to out. */
static int classify_twice(struct mcubert_ctx *ctx, const struct mcubert_schedule *s,
			  struct arena *a, const uint16_t *ids, size_t n, size_t n_first,
			  int32_t *out)
{
	const int want = expected_status(s, ids, n, n_first);
	int32_t *logits[2];
	int err = MCUBERT_OK;

	for (int run = 0; run < 2; run++) {
		logits[run] = calloc(s->labels, sizeof(int32_t));
		if (logits[run] == NULL) {
			die("out of memory");
		}
		/* different stale bytes each run: results must not depend on them */
		memset(a->p, run == 0 ? 0x00 : 0xFF, a->len);
		if (n_first == SINGLE) {
			err = mcubert_classify(ctx, ids, n, logits[run]);
			arena_check(a, "mcubert_classify");
		} else {
			err = mcubert_classify_pair(ctx, ids, n, n_first, logits[run]);
			arena_check(a, "mcubert_classify_pair");
		}
		if (err != want) {
			fprintf(stderr,
				"fuzz_mcubert: classify(n=%zu, n_first=%zu) returned %d (%s), "
				"expected %d\n",
				n, n_first, err, mcubert_strerror(err), want);
			abort();
		}
	}
	if (memcmp(logits[0], logits[1], s->labels * sizeof(int32_t)) != 0) {
		die("logits depend on stale arena contents (read of bytes never written)");
	}
	memcpy(out, logits[0], s->labels * sizeof(int32_t));
	free(logits[0]);
	free(logits[1]);
	return err;
}

/* n_first from the input's last two bytes: 0..n + 1, both bad values included. */
static size_t n_first_from(const uint8_t *data, size_t size, size_t n)
{
	const size_t v = size >= 2 ? (size_t)(data[size - 2] | (data[size - 1] << 8)) : 0;

	return v % (n + 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcubert_schedule sched;
	struct mcubert_ctx ctx;
	struct arena arena;
	const uint8_t *in;
	size_t in_len, blob_len, n_ids, arena_len;
	uint8_t *blob;
	uint16_t *ids = NULL;
	int err;

	if (size == 0) {
		return 0;
	}
	in = data + 1;
	in_len = size - 1;
	sched = seed_scheds[0];
	if ((data[0] & MODE_MASK) >= MODE_PATCH_SCHEDULE) {
		sched = seed_scheds[((data[0] >> SCHED_SHIFT) & SCHED_MASK) % n_scheds];
	}
	switch (data[0] & MODE_MASK) {
	case MODE_RAW_BLOB:
		blob = aligned_copy(in, in_len);
		blob_len = in_len;
		break;
	case MODE_PATCH_BLOB:
		blob = aligned_copy(seed_blob, seed_blob_len);
		blob_len = seed_blob_len;
		apply_patches(blob, blob_len, in, in_len);
		fix_crc(blob, blob_len);
		break;
	default: {
		uint8_t words[sizeof(sched)];
		const uint32_t hash = sched.hash;
		uint32_t true_hash;

		if ((data[0] & MODE_MASK) == MODE_PATCH_SCHEDULE) {
			memcpy(words, &sched, sizeof(sched));
			apply_patches(words, sizeof(words), in, in_len);
			memcpy(&sched, words, sizeof(sched));
		}
		true_hash = schedule_hash(&sched);
		sched.hash = true_hash ^ sched.hash ^ hash;
		/* the blob follows the (other or patched) schedule */
		blob = aligned_copy(seed_blob, seed_blob_len);
		blob_len = seed_blob_len;
		if (blob_len >= BLOB_HASH_OFF + 4) {
			wr32(blob + BLOB_HASH_OFF, true_hash);
			fix_crc(blob, blob_len);
		}
		break;
	}
	}

	arena_len = sched.arena_size < ARENA_CAP ? sched.arena_size : ARENA_CAP;
	if ((data[0] & SHORT_ARENA) != 0) {
		arena_len = arena_len > MCUBERT_ALIGN ? arena_len - MCUBERT_ALIGN : 0;
	}
	arena_alloc(&arena, arena_len);

	err = mcubert_init(&ctx, &sched, blob, blob_len, arena.p, arena.len);
	arena_check(&arena, "mcubert_init");
	if (err == MCUBERT_OK) {
		if (mcubert_num_labels(&ctx) != sched.labels) {
			die("mcubert_num_labels() disagrees with the schedule");
		}
		if ((data[0] & MODE_MASK) == MODE_TOKENS) {
			ids = ids_as_given(in, in_len, &n_ids);
		} else {
			ids = ids_from_bytes(&sched, in, in_len, &n_ids);
		}
		int32_t *single = calloc(sched.labels, sizeof(int32_t));
		int32_t *pair = calloc(sched.labels, sizeof(int32_t));
		const size_t n_first = n_first_from(data, size, n_ids);

		if (single == NULL || pair == NULL) {
			die("out of memory");
		}
		const int st = classify_twice(&ctx, &sched, &arena, ids, n_ids, SINGLE, single);
		const int pst = classify_twice(&ctx, &sched, &arena, ids, n_ids, n_first, pair);

		/* n_first == n_tokens is one sentence: all segment A, the same bits */
		if (st == MCUBERT_OK && pst == MCUBERT_OK && n_first == n_ids &&
		    memcmp(single, pair, sched.labels * sizeof(int32_t)) != 0) {
			die("mcubert_classify_pair(n_first = n_tokens) differs from mcubert_classify()");
		}
		free(single);
		free(pair);
	} else {
		uint16_t id = 0;
		int32_t logit;

		/* a failed init must leave a context that classify refuses */
		if (err > MCUBERT_OK || err < MCUBERT_ERR_N_FIRST ||
		    mcubert_classify(&ctx, &id, 1, &logit) != MCUBERT_ERR_ARG ||
		    mcubert_classify_pair(&ctx, &id, 1, 1, &logit) != MCUBERT_ERR_ARG) {
			die("failed init left a usable context or returned an unknown code");
		}
	}

	free(ids);
	free(arena.raw);
	free(blob);
	return 0;
}
