/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Classifies the sentences of sentences.txt (sentence pairs, one `a<TAB>b` per line, for a
 * pair model), which mcubert_add_model() tokenized at build time (bert_inputs.h), and checks
 * every result against the Python integer reference.
 */
#include <stdint.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/sys/printk.h>

#include <mcubert/mcubert.h>

/* bert_blob, bert_schedule, bert_labels and bert_arena (placed by CONFIG_MCUBERT_ARENA_*). */
#include "bert_model.h"
#include "bert_inputs.h"

#if defined(CONFIG_MCUBERT_SHELL)
/* shell.conf: 'mcubert classify <text...>' at the prompt, tokenized on the device. */
#include <mcubert/mcubert_shell.h>
#include "bert_vocab.h"

static const struct mcubert_shell_model shell_model = MCUBERT_SHELL_MODEL(bert, BERT);
#endif

static struct mcubert_ctx ctx;

/* Four decimals by hand: CONFIG_CBPRINTF_FP_SUPPORT would cost flash for one format. */
static void print_fixed4(float v)
{
	char sign = v < 0.0f ? '-' : '+';
	float a = v < 0.0f ? -v : v;

	if (a >= 400000.0f) { /* keeps a * 10000 inside uint32_t */
		printk("%c>400000", sign);
		return;
	}
	uint32_t q = (uint32_t)(a * 10000.0f + 0.5f);

	printk("%c%u.%04u", sign, q / 10000u, q % 10000u);
}

static uint32_t argmax(const int32_t *v, uint32_t n)
{
	uint32_t best = 0;

	for (uint32_t i = 1; i < n; i++) {
		if (v[i] > v[best]) { /* first maximum wins, like numpy.argmax */
			best = i;
		}
	}
	return best;
}

int main(void)
{
	int32_t logits[BERT_NUM_LABELS];
	uint32_t matches = 0;
	float scale;
	int err;

	printk("bert_classify: kernels %s, max_seq_len %u, %u labels\n", mcubert_kernel_variant(),
	       (unsigned int)BERT_MAX_SEQ_LEN, (unsigned int)BERT_NUM_LABELS);
	printk("bert_classify: model blob %u bytes (flash), arena %u bytes at %p\n",
	       (unsigned int)BERT_BLOB_SIZE, (unsigned int)BERT_ARENA_SIZE, (void *)bert_arena);

	err = mcubert_init(&ctx, &bert_schedule, bert_blob, BERT_BLOB_SIZE, bert_arena,
			   BERT_ARENA_SIZE);
	if (err != MCUBERT_OK) {
		printk("bert_classify: mcubert_init: %s\n", mcubert_strerror(err));
		return 0;
	}

	/* The blob stores the logit scale as float32 bits; the runtime itself has no float. */
	uint32_t scale_bits = mcubert_logit_scale_bits(&ctx);

	memcpy(&scale, &scale_bits, sizeof(scale));

	for (uint32_t i = 0; i < BERT_NUM_INPUTS; i++) {
		const uint16_t *ids = &bert_input_tokens[bert_input_offset[i]];
		uint32_t t0 = k_cycle_get_32();

#if BERT_TEXT_PAIR
		err = mcubert_classify_pair(&ctx, ids, bert_input_len[i], bert_input_n_first[i], logits);
#else
		err = mcubert_classify(&ctx, ids, bert_input_len[i], logits);
#endif

		uint32_t us = (uint32_t)k_cyc_to_us_floor64(k_cycle_get_32() - t0);

		printk("sentence %u: %s\n", (unsigned int)(i + 1), bert_input_text[i]);
		if (err != MCUBERT_OK) {
			printk("  error: %s\n", mcubert_strerror(err));
			continue;
		}
		printk("  label: %s (%u tokens, %u us)\n", bert_labels[argmax(logits, BERT_NUM_LABELS)],
		       (unsigned int)bert_input_len[i], (unsigned int)us);
		for (uint32_t j = 0; j < BERT_NUM_LABELS; j++) {
			printk("  score %s: logit %d = ", bert_labels[j], (int)logits[j]);
			print_fixed4((float)logits[j] * scale);
			printk("\n");
		}
		/* Bit-exact against the build-time Python reference, or the port is broken. */
		if (memcmp(logits, bert_input_logits[i], sizeof(logits)) == 0) {
			matches++;
		} else {
			printk("  MISMATCH: the integer reference says %s\n",
			       bert_labels[bert_input_label[i]]);
		}
	}

	size_t unused = 0;
	const struct k_thread *self = k_current_get();

	if (k_thread_stack_space_get(self, &unused) == 0) {
		printk("bert_classify: main stack high-water %u of %u bytes\n",
		       (unsigned int)(self->stack_info.size - unused),
		       (unsigned int)self->stack_info.size);
	}
	printk("bert_classify: %u/%u sentences match the integer reference\n",
	       (unsigned int)matches, (unsigned int)BERT_NUM_INPUTS);
#if defined(CONFIG_MCUBERT_SHELL)
	/* The shell takes the model over (its own context on the same arena): main is done with it. */
	err = mcubert_shell_register(&shell_model);
	if (err == MCUBERT_OK) {
		printk("bert_classify: shell ready, type 'mcubert classify <text>'\n");
	} else {
		printk("bert_classify: mcubert_shell_register: %s\n", mcubert_strerror(err));
	}
#endif
	return 0;
}
