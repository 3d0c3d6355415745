/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * mcubert_shell: the Zephyr shell commands 'mcubert classify <text...>' and 'mcubert info'
 * (CONFIG_MCUBERT_SHELL, which selects CONFIG_MCUBERT_TOKENIZER). Zephyr only.
 *
 * The application generates its model with the vocabulary,
 *     mcubert_add_model(app MODEL model/my.mcubert NAME bert TOKENIZER)
 * and registers it once, before anyone types a command:
 *
 *   #include <mcubert/mcubert_shell.h>
 *   #include "bert_model.h"
 *   #include "bert_vocab.h"
 *
 *   static const struct mcubert_shell_model model = MCUBERT_SHELL_MODEL(bert, BERT);
 *   int err = mcubert_shell_register(&model);   // mcubert_init() + mcubert_vocab_init()
 *
 * The shell owns the context, the vocabulary context, the tokenizer scratch, a token buffer of
 * CONFIG_MCUBERT_SHELL_MAX_SEQ_LEN ids and a logits buffer of CONFIG_MCUBERT_SHELL_MAX_LABELS.
 * The model's arena stays the application's; while it is registered, the application must not
 * run its own mcubert_classify() on the same arena from another thread.
 */
#ifndef MCUBERT_MCUBERT_SHELL_H_
#define MCUBERT_MCUBERT_SHELL_H_

#include <stddef.h>
#include <stdint.h>

#include "mcubert/mcubert.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What `mcubert generate --c-source --tokenizer` writes for one model, gathered. */
struct mcubert_shell_model {
	const char *name;
	const struct mcubert_schedule *schedule;
	const uint8_t *blob;
	size_t blob_len;
	uint8_t *arena;
	size_t arena_len;
	const uint8_t *vocab;
	size_t vocab_len;
	const char *const *labels;
	uint32_t n_labels;
};

/*
 * Initialiser for the model generated as mcubert_add_model(... NAME prefix TOKENIZER), from
 * <prefix>_model.h and <prefix>_vocab.h: MCUBERT_SHELL_MODEL(bert, BERT).
 */
#define MCUBERT_SHELL_MODEL(prefix, PREFIX)                                                        \
	{                                                                                          \
		.name = #prefix, .schedule = &prefix##_schedule, .blob = prefix##_blob,            \
		.blob_len = PREFIX##_BLOB_SIZE, .arena = prefix##_arena,                           \
		.arena_len = PREFIX##_ARENA_SIZE, .vocab = prefix##_vocab,                         \
		.vocab_len = PREFIX##_VOCAB_SIZE, .labels = prefix##_labels,                       \
		.n_labels = PREFIX##_NUM_LABELS,                                                   \
	}

/*
 * Initialise the model and its vocabulary for the shell. Returns MCUBERT_OK, MCUBERT_ERR_ARG
 * (NULL, or more labels than CONFIG_MCUBERT_SHELL_MAX_LABELS), or what mcubert_init() or
 * mcubert_vocab_init() returned; on an error no model is registered. The struct is kept by
 * pointer: it must outlive the registration (make it static const).
 */
int mcubert_shell_register(const struct mcubert_shell_model *model);

#ifdef __cplusplus
}
#endif

#endif /* MCUBERT_MCUBERT_SHELL_H_ */
