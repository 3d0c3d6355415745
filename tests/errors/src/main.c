/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The error codes of mcubert_init(), mcubert_classify() and mcubert_classify_pair()
 * (src/mcubert_init.c, src/mcubert_classify.c) for corrupted, truncated and foreign blobs,
 * small or misaligned arenas and bad inputs. After every error a good call must work again
 * and give the reference logits: an error leaves no state behind.
 */
#include <string.h>

#include <zephyr/ztest.h>

#include <mcubert/mcubert.h>
#include <mcubert/zephyr.h>

#include "tiny_inputs.h"
#include "tiny_model.h"

/* A RAM copy to corrupt; 16-byte aligned like the flash blob. */
static uint8_t blob_copy[TINY_BLOB_SIZE] __aligned(MCUBERT_ALIGN);
/* Room to offset the arena from its alignment while keeping its full size. */
MCUBERT_ARENA_DEFINE(spare_arena, TINY_ARENA_SIZE + MCUBERT_ALIGN);
static uint16_t ids[TINY_MAX_SEQ_LEN + 1];
static struct mcubert_ctx ctx;

static int init_blob(const uint8_t *blob, size_t len)
{
	return mcubert_init(&ctx, &tiny_schedule, blob, len, tiny_arena, sizeof(tiny_arena));
}

static int classify_input(uint32_t i, int32_t *logits)
{
	return mcubert_classify(&ctx, &tiny_input_tokens[tiny_input_offset[i]], tiny_input_len[i],
				logits);
}

/* ctx classifies every input with the reference logits. */
static void assert_classifies(void)
{
	for (uint32_t i = 0; i < TINY_NUM_INPUTS; i++) {
		int32_t logits[TINY_NUM_LABELS];
		int err = classify_input(i, logits);

		zassert_equal(err, MCUBERT_OK, "input %u: %s", i, mcubert_strerror(err));
		zassert_mem_equal(logits, tiny_input_logits[i], sizeof(logits), "input %u", i);
	}
}

/* After a failed init: the context is unusable, and a good init brings it back. */
static void assert_init_fails(int err, int want, const char *what)
{
	int32_t logits[TINY_NUM_LABELS];

	zassert_equal(err, want, "%s: got %d (%s), want %d (%s)", what, err, mcubert_strerror(err),
		      want, mcubert_strerror(want));
	zassert_equal(classify_input(0, logits), MCUBERT_ERR_ARG, "%s: context still usable", what);
	zassert_equal(mcubert_num_labels(&ctx), 0);
	zassert_equal(init_blob(tiny_blob, sizeof(tiny_blob)), MCUBERT_OK, "%s: no recovery", what);
	assert_classifies();
}

static void *setup(void)
{
	/* the longest input (MAX_SEQ_LEN tokens), so ids[] can go one past the limit */
	for (uint32_t i = 0; i < TINY_NUM_INPUTS; i++) {
		if (tiny_input_len[i] == TINY_MAX_SEQ_LEN) {
			memcpy(ids, &tiny_input_tokens[tiny_input_offset[i]],
			       TINY_MAX_SEQ_LEN * sizeof(uint16_t));
		}
	}
	ids[TINY_MAX_SEQ_LEN] = ids[TINY_MAX_SEQ_LEN - 1];
	return NULL;
}

static void before(void *fixture)
{
	ARG_UNUSED(fixture);
	memcpy(blob_copy, tiny_blob, sizeof(blob_copy));
	zassert_equal(init_blob(tiny_blob, sizeof(tiny_blob)), MCUBERT_OK);
}

ZTEST(mcubert_errors, test_good_ram_copy)
{
	zassert_equal(init_blob(blob_copy, sizeof(blob_copy)), MCUBERT_OK);
	assert_classifies();
}

ZTEST(mcubert_errors, test_crc)
{
	/* a weight byte in the middle, the last byte, and the stored CRC itself */
	static const size_t at[] = {TINY_BLOB_SIZE / 2, TINY_BLOB_SIZE - 1, 12};

	for (size_t k = 0; k < ARRAY_SIZE(at); k++) {
		blob_copy[at[k]] ^= 0x01;
		assert_init_fails(init_blob(blob_copy, sizeof(blob_copy)), MCUBERT_ERR_CRC, "flipped bit");
		blob_copy[at[k]] ^= 0x01;
		zassert_equal(init_blob(blob_copy, sizeof(blob_copy)), MCUBERT_OK, "restored copy");
	}
}

ZTEST(mcubert_errors, test_truncated)
{
	assert_init_fails(init_blob(tiny_blob, sizeof(tiny_blob) - 1), MCUBERT_ERR_TRUNCATED,
			  "one byte short");
	assert_init_fails(init_blob(tiny_blob, sizeof(tiny_blob) / 2), MCUBERT_ERR_TRUNCATED, "half");
	/* shorter than the 72-byte header */
	assert_init_fails(init_blob(tiny_blob, 71), MCUBERT_ERR_TRUNCATED, "71 bytes");
	assert_init_fails(init_blob(tiny_blob, 0), MCUBERT_ERR_TRUNCATED, "empty");
}

ZTEST(mcubert_errors, test_bad_magic)
{
	blob_copy[0] ^= 0xFF;
	assert_init_fails(init_blob(blob_copy, sizeof(blob_copy)), MCUBERT_ERR_MAGIC, "byte 0");
	blob_copy[0] ^= 0xFF;
	blob_copy[3] ^= 0x01;
	assert_init_fails(init_blob(blob_copy, sizeof(blob_copy)), MCUBERT_ERR_MAGIC, "byte 3");
}

ZTEST(mcubert_errors, test_bad_version)
{
	blob_copy[4] ^= 0x02; /* blob version */
	assert_init_fails(init_blob(blob_copy, sizeof(blob_copy)), MCUBERT_ERR_VERSION, "version");
	blob_copy[4] ^= 0x02;
	blob_copy[6] ^= 0x03; /* weight layout: K8 -> OC2_K4, which mcubert_init no longer reads */
	assert_init_fails(init_blob(blob_copy, sizeof(blob_copy)), MCUBERT_ERR_VERSION, "layout");
}

/* A schedule the blob was not generated for. */
ZTEST(mcubert_errors, test_foreign_schedule)
{
	struct mcubert_schedule s = tiny_schedule;

	s.max_seq_len = TINY_MAX_SEQ_LEN / 2;
	assert_init_fails(mcubert_init(&ctx, &s, tiny_blob, sizeof(tiny_blob), tiny_arena,
				       sizeof(tiny_arena)),
			  MCUBERT_ERR_SCHEDULE, "schedule without its hash");
}

ZTEST(mcubert_errors, test_arena_too_small)
{
	assert_init_fails(mcubert_init(&ctx, &tiny_schedule, tiny_blob, sizeof(tiny_blob),
				       tiny_arena, TINY_ARENA_SIZE - 1),
			  MCUBERT_ERR_ARENA, "arena one byte short");
	assert_init_fails(mcubert_init(&ctx, &tiny_schedule, tiny_blob, sizeof(tiny_blob),
				       tiny_arena, 0),
			  MCUBERT_ERR_ARENA, "no arena");
	/* exactly the schedule's size is enough */
	zassert_equal(mcubert_init(&ctx, &tiny_schedule, tiny_blob, sizeof(tiny_blob), spare_arena,
				   TINY_ARENA_SIZE),
		      MCUBERT_OK);
	assert_classifies();
}

ZTEST(mcubert_errors, test_misaligned)
{
	for (size_t off = 1; off < MCUBERT_ALIGN; off += 7) {
		assert_init_fails(mcubert_init(&ctx, &tiny_schedule, tiny_blob, sizeof(tiny_blob),
					       spare_arena + off, TINY_ARENA_SIZE),
				  MCUBERT_ERR_ALIGN, "arena");
		assert_init_fails(init_blob(tiny_blob + off, sizeof(tiny_blob) - off),
				  MCUBERT_ERR_ALIGN, "blob");
	}
}

ZTEST(mcubert_errors, test_null_arguments)
{
	int32_t logits[TINY_NUM_LABELS];

	zassert_equal(mcubert_init(NULL, &tiny_schedule, tiny_blob, sizeof(tiny_blob), tiny_arena,
				   sizeof(tiny_arena)),
		      MCUBERT_ERR_ARG);
	assert_init_fails(mcubert_init(&ctx, NULL, tiny_blob, sizeof(tiny_blob), tiny_arena,
				       sizeof(tiny_arena)),
			  MCUBERT_ERR_ARG, "no schedule");
	assert_init_fails(init_blob(NULL, sizeof(tiny_blob)), MCUBERT_ERR_ARG, "no blob");
	assert_init_fails(mcubert_init(&ctx, &tiny_schedule, tiny_blob, sizeof(tiny_blob), NULL,
				       sizeof(tiny_arena)),
			  MCUBERT_ERR_ARG, "no arena");
	zassert_equal(mcubert_classify(NULL, ids, 1, logits), MCUBERT_ERR_ARG);
	zassert_equal(mcubert_classify(&ctx, NULL, 1, logits), MCUBERT_ERR_ARG);
	zassert_equal(mcubert_classify(&ctx, ids, 1, NULL), MCUBERT_ERR_ARG);
	assert_classifies();
}

ZTEST(mcubert_errors, test_n_tokens)
{
	int32_t logits[TINY_NUM_LABELS];

	zassert_equal(mcubert_classify(&ctx, ids, 0, logits), MCUBERT_ERR_N_TOKENS, "zero tokens");
	assert_classifies();
	zassert_equal(mcubert_classify(&ctx, ids, TINY_MAX_SEQ_LEN + 1, logits),
		      MCUBERT_ERR_N_TOKENS, "MAX_SEQ_LEN + 1 tokens");
	assert_classifies();
	zassert_equal(mcubert_classify(&ctx, ids, SIZE_MAX, logits), MCUBERT_ERR_N_TOKENS);
	/* the limit itself is fine */
	zassert_equal(mcubert_classify(&ctx, ids, TINY_MAX_SEQ_LEN, logits), MCUBERT_OK);
	assert_classifies();
}

ZTEST(mcubert_errors, test_token_id)
{
	const uint16_t bad[] = {(uint16_t)tiny_schedule.vocab_size, 0xFFFF};
	const uint16_t saved = ids[3];
	int32_t logits[TINY_NUM_LABELS];

	for (size_t k = 0; k < ARRAY_SIZE(bad); k++) {
		/* in the middle of a full-length input: the whole sequence is checked */
		ids[3] = bad[k];
		zassert_equal(mcubert_classify(&ctx, ids, TINY_MAX_SEQ_LEN, logits),
			      MCUBERT_ERR_TOKEN_ID, "token %u", bad[k]);
		ids[3] = saved;
		assert_classifies();
	}
	/* the last id of the vocabulary is valid */
	ids[3] = (uint16_t)(tiny_schedule.vocab_size - 1);
	zassert_equal(mcubert_classify(&ctx, ids, TINY_MAX_SEQ_LEN, logits), MCUBERT_OK);
	ids[3] = saved;
}

ZTEST(mcubert_errors, test_n_first)
{
	const uint16_t saved = ids[3];
	int32_t logits[TINY_NUM_LABELS];
	int32_t single[TINY_NUM_LABELS];

	zassert_equal(mcubert_classify_pair(&ctx, ids, TINY_MAX_SEQ_LEN, 0, logits),
		      MCUBERT_ERR_N_FIRST, "n_first 0");
	assert_classifies();
	zassert_equal(mcubert_classify_pair(&ctx, ids, TINY_MAX_SEQ_LEN, TINY_MAX_SEQ_LEN + 1,
					    logits),
		      MCUBERT_ERR_N_FIRST, "n_first above n_tokens");
	assert_classifies();
	zassert_equal(mcubert_classify_pair(&ctx, ids, 4, SIZE_MAX, logits), MCUBERT_ERR_N_FIRST);
	/* the error order: n_tokens, then n_first, then the ids */
	zassert_equal(mcubert_classify_pair(&ctx, ids, 0, 0, logits), MCUBERT_ERR_N_TOKENS);
	zassert_equal(mcubert_classify_pair(&ctx, ids, TINY_MAX_SEQ_LEN + 1, 0, logits),
		      MCUBERT_ERR_N_TOKENS);
	ids[3] = (uint16_t)tiny_schedule.vocab_size;
	zassert_equal(mcubert_classify_pair(&ctx, ids, TINY_MAX_SEQ_LEN, 0, logits),
		      MCUBERT_ERR_N_FIRST, "bad id and bad n_first");
	zassert_equal(mcubert_classify_pair(&ctx, ids, TINY_MAX_SEQ_LEN, 1, logits),
		      MCUBERT_ERR_TOKEN_ID);
	ids[3] = saved;
	assert_classifies();
	/* the limits are fine, and n_first == n_tokens is mcubert_classify() */
	zassert_equal(mcubert_classify_pair(&ctx, ids, TINY_MAX_SEQ_LEN, 1, logits), MCUBERT_OK);
	zassert_equal(mcubert_classify(&ctx, ids, TINY_MAX_SEQ_LEN, single), MCUBERT_OK);
	zassert_equal(mcubert_classify_pair(&ctx, ids, TINY_MAX_SEQ_LEN, TINY_MAX_SEQ_LEN, logits),
		      MCUBERT_OK);
	zassert_mem_equal(logits, single, sizeof(logits));
	zassert_equal(mcubert_classify_pair(NULL, ids, 1, 1, logits), MCUBERT_ERR_ARG);
	assert_classifies();
}

ZTEST(mcubert_errors, test_garbage_context)
{
	/* A context mcubert_init() never set up, as stack garbage would leave it: refused. */
	struct mcubert_ctx junk;
	int32_t logits[TINY_NUM_LABELS];
	uint32_t x = 12345u;

	for (int fill = 0; fill < 3; fill++) {
		for (size_t i = 0; i < sizeof(junk); i++) {
			x = x * 1103515245u + 12345u; /* any bytes but the magic word */
			((uint8_t *)&junk)[i] = fill == 0 ? 0xA5 : fill == 1 ? 0xFF : (uint8_t)(x >> 16);
		}
		zassert_equal(mcubert_classify(&junk, ids, 1, logits), MCUBERT_ERR_ARG, "fill %d", fill);
		zassert_equal(mcubert_num_labels(&junk), 0, "fill %d", fill);
	}
	assert_classifies();
}

ZTEST_SUITE(mcubert_errors, NULL, setup, before, NULL, NULL);
