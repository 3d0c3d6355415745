/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * mcubert_classify() on the board against the Python integer reference: tiny_inputs.h
 * holds sentences.txt tokenized at build time and the reference logits for each, so any
 * difference in any kernel, schedule step or blob section shows up as a logit mismatch.
 */
#include <string.h>

#include <zephyr/ztest.h>

#include <mcubert/mcubert.h>
#include <mcubert/zephyr.h>

#include "mcubert_expected_variant.h"
#include "tiny_inputs.h"
#include "tiny_model.h"

#if defined(MCUBERT_TEST_LAYERWISE)
#define EXPECTED_MODE MCUBERT_MODE_LAYERWISE
#else
#define EXPECTED_MODE MCUBERT_MODE_FINE
#endif

#if defined(CONFIG_MCUBERT_ARENA_EXTERNAL)
/* The application's own arena: testcase.yaml names it with CONFIG_MCUBERT_ARENA_NAME. */
MCUBERT_ARENA_DEFINE(test_arena, TINY_ARENA_SIZE);
#endif

static struct mcubert_ctx ctx;
static int init_err;

static void *setup(void)
{
	init_err = mcubert_init(&ctx, &tiny_schedule, tiny_blob, sizeof(tiny_blob), tiny_arena,
				TINY_ARENA_SIZE);
	return NULL;
}

static void before(void *fixture)
{
	ARG_UNUSED(fixture);
	zassert_equal(init_err, MCUBERT_OK, "mcubert_init: %s", mcubert_strerror(init_err));
}

static void classify_and_compare(uint32_t i)
{
	int32_t logits[TINY_NUM_LABELS];

	/* 0x5A5A5A5A is far outside this model's logits: a skipped store cannot pass */
	memset(logits, 0x5A, sizeof(logits));
	int err = mcubert_classify(&ctx, &tiny_input_tokens[tiny_input_offset[i]],
				   tiny_input_len[i], logits);

	zassert_equal(err, MCUBERT_OK, "input %u: %s", i, mcubert_strerror(err));
	zassert_mem_equal(logits, tiny_input_logits[i], sizeof(logits),
			  "input %u (%u tokens): logits differ from the reference", i,
			  tiny_input_len[i]);
}

/* Twister's console reader takes ASCII only: other bytes are printed as \xNN. */
static void print_ascii(const char *s)
{
	for (; *s != '\0'; s++) {
		const unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c < 0x7F) {
			TC_PRINT("%c", c);
		} else {
			TC_PRINT("\\x%02x", c);
		}
	}
}

ZTEST(mcubert_runtime, test_kernel_variant)
{
	TC_PRINT("kernels: %s, schedule: %s\n", mcubert_kernel_variant(),
		 tiny_schedule.mode == MCUBERT_MODE_LAYERWISE ? "layerwise" : "fine");
	zassert_str_equal(mcubert_kernel_variant(), MCUBERT_EXPECTED_VARIANT);
	zassert_equal(tiny_schedule.mode, EXPECTED_MODE, "the build used another schedule");
}

ZTEST(mcubert_runtime, test_model_shape)
{
	zassert_equal(mcubert_num_labels(&ctx), TINY_NUM_LABELS);
	zassert_equal(tiny_schedule.max_seq_len, TINY_MAX_SEQ_LEN);
	zassert_true(TINY_NUM_INPUTS >= 4, "sentences.txt lost its sentences");
}

/* The inputs must cover 1-token-of-text to full-length sequences, or the test is weaker. */
ZTEST(mcubert_runtime, test_inputs_cover_lengths)
{
	uint32_t shortest = UINT32_MAX, longest = 0;

	for (uint32_t i = 0; i < TINY_NUM_INPUTS; i++) {
		shortest = MIN(shortest, tiny_input_len[i]);
		longest = MAX(longest, tiny_input_len[i]);
	}
	zassert_equal(longest, TINY_MAX_SEQ_LEN, "no input reaches MAX_SEQ_LEN");
	zassert_true(shortest <= 4, "no short input (shortest %u tokens)", shortest);
}

ZTEST(mcubert_runtime, test_logits_bit_exact)
{
	for (uint32_t i = 0; i < TINY_NUM_INPUTS; i++) {
		classify_and_compare(i);
	}
}

/* Reverse order: nothing left in the arena by one call may change the next one. */
ZTEST(mcubert_runtime, test_logits_bit_exact_reversed)
{
	for (uint32_t i = TINY_NUM_INPUTS; i-- > 0;) {
		classify_and_compare(i);
	}
}

ZTEST(mcubert_runtime, test_labels)
{
	for (uint32_t i = 0; i < TINY_NUM_INPUTS; i++) {
		int32_t logits[TINY_NUM_LABELS];
		uint32_t best = 0;

		zassert_equal(mcubert_classify(&ctx, &tiny_input_tokens[tiny_input_offset[i]],
					       tiny_input_len[i], logits),
			      MCUBERT_OK);
		for (uint32_t c = 1; c < TINY_NUM_LABELS; c++) {
			best = logits[c] > logits[best] ? c : best;
		}
		zassert_equal(best, tiny_input_label[i], "input %u", i);
		TC_PRINT("input %u: \"", i);
		print_ascii(tiny_input_text[i]);
		TC_PRINT("\" -> %s\n", tiny_labels[best]);
	}
}

ZTEST(mcubert_runtime, test_arena_placement)
{
#if defined(CONFIG_MCUBERT_ARENA_EXTERNAL)
	zassert_equal_ptr(tiny_arena, test_arena, "the generated code must use the app's arena");
#endif
	TC_PRINT("arena: %u bytes at %p\n", (unsigned int)TINY_ARENA_SIZE, (void *)tiny_arena);
	zassert_equal((uintptr_t)tiny_arena % MCUBERT_ALIGN, 0);
}

ZTEST(mcubert_runtime, test_profile)
{
	uint32_t cycles[MCUBERT_PROFILE_STAGES];

	classify_and_compare(0);
	const size_t n = mcubert_profile_get(cycles, ARRAY_SIZE(cycles));

#if defined(CONFIG_MCUBERT_PROFILE)
	uint64_t total = 0;

	/* embedding, each layer, head */
	zassert_equal(n, tiny_schedule.layers + 2, "%u profile stages", (unsigned int)n);
	for (size_t i = 0; i < n; i++) {
		TC_PRINT("profile stage %u: %u cycles\n", (unsigned int)i, cycles[i]);
		total += cycles[i];
	}
	zassert_true(total > 0, "no cycles recorded");
#else
	zassert_equal(n, 0, "profiling is off, yet %u stages", (unsigned int)n);
#endif
}

ZTEST_SUITE(mcubert_runtime, NULL, setup, before, NULL, NULL);
