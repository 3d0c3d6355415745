/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The 'mcubert' shell command group (CONFIG_MCUBERT_SHELL): text in, label out, on the device.
 *
 *   uart:~$ mcubert classify A gripping, beautifully acted film
 *   label: positive
 *   score negative: logit -1403 = -2.7402
 *   score positive: logit 1290 = +2.5195
 *   tokens: 8, tokenize 95 us, classify 10512 us
 *   uart:~$ mcubert info
 *
 * The text after 'classify' reaches the handler raw (SHELL_OPT_ARG_RAW): quotes and
 * apostrophes stay part of it. Zephyr's shell only accepts printable ASCII at the prompt.
 */
#include <stdint.h>
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/shell/shell.h>

#include <mcubert/mcubert.h>
#include <mcubert/mcubert_shell.h>
#include <mcubert/mcubert_tokenize.h>

static const struct mcubert_shell_model *shell_model;
static struct mcubert_ctx shell_ctx;
static struct mcubert_vocab shell_vocab;
static uint8_t shell_scratch[MCUBERT_TOKENIZE_BUFFER_SIZE];
static uint16_t shell_ids[CONFIG_MCUBERT_SHELL_MAX_SEQ_LEN];
static int32_t shell_logits[CONFIG_MCUBERT_SHELL_MAX_LABELS];
static char shell_text[CONFIG_SHELL_CMD_BUFF_SIZE];
/* One command at a time, even with several shell backends. */
static K_MUTEX_DEFINE(shell_lock);

int mcubert_shell_register(const struct mcubert_shell_model *model)
{
	int err;

	if (model == NULL || model->labels == NULL || model->n_labels == 0u ||
	    model->n_labels > CONFIG_MCUBERT_SHELL_MAX_LABELS) {
		return MCUBERT_ERR_ARG;
	}
	k_mutex_lock(&shell_lock, K_FOREVER);
	shell_model = NULL;
	err = mcubert_init(&shell_ctx, model->schedule, model->blob, model->blob_len, model->arena,
			   model->arena_len);
	if (err == MCUBERT_OK && mcubert_num_labels(&shell_ctx) != model->n_labels) {
		err = MCUBERT_ERR_CONFIG;
	}
	if (err == MCUBERT_OK) {
		err = mcubert_vocab_init(&shell_vocab, model->vocab, model->vocab_len, shell_scratch,
					 sizeof(shell_scratch));
	}
	if (err == MCUBERT_OK) {
		shell_model = model;
	}
	k_mutex_unlock(&shell_lock);
	return err;
}

/* Longest sequence the shell classifies: the model's and the buffer's limit. */
static size_t max_ids(void)
{
	uint32_t model_max = shell_model->schedule->max_seq_len;

	return model_max < CONFIG_MCUBERT_SHELL_MAX_SEQ_LEN ? model_max
							     : CONFIG_MCUBERT_SHELL_MAX_SEQ_LEN;
}

/* "+1.2345": the logit times the float scale, four decimals, without printf's float support. */
static void format_fixed4(char *out, size_t size, int32_t logit, float scale)
{
	float v = (float)logit * scale;
	char sign = v < 0.0f ? '-' : '+';
	float a = v < 0.0f ? -v : v;

	if (a >= 400000.0f) { /* keeps a * 10000 inside uint32_t */
		snprintk(out, size, "%c>400000", sign);
		return;
	}
	uint32_t q = (uint32_t)(a * 10000.0f + 0.5f);

	snprintk(out, size, "%c%u.%04u", sign, q / 10000u, q % 10000u);
}

static int cmd_classify(const struct shell *sh, size_t argc, char **argv)
{
	size_t len = 0, n = 0;
	uint32_t best = 0;
	int ret = 0;
	int err;

	if (argc < 2) {
		shell_error(sh, "usage: mcubert classify <text...>");
		return -EINVAL;
	}
	k_mutex_lock(&shell_lock, K_FOREVER);
	if (shell_model == NULL) {
		shell_error(sh, "mcubert: no model registered (mcubert_shell_register)");
		ret = -ENODEV;
		goto out;
	}
	/* The words, joined by single spaces: whitespace only separates words anyway. */
	for (size_t i = 1; i < argc; i++) {
		size_t w = strlen(argv[i]);

		if (len + w + 1u > sizeof(shell_text)) {
			w = sizeof(shell_text) - 1u - len;
		}
		memcpy(&shell_text[len], argv[i], w);
		len += w;
		if (i + 1u < argc && len + 1u < sizeof(shell_text)) {
			shell_text[len++] = ' ';
		}
	}
	shell_text[len] = '\0';

	uint32_t t0 = k_cycle_get_32();
	int tok = mcubert_tokenize(&shell_vocab, shell_text, len, shell_ids, max_ids(), &n);
	uint32_t t1 = k_cycle_get_32();

	if (tok < 0) {
		shell_error(sh, "mcubert_tokenize: %s", mcubert_strerror(tok));
		ret = -EIO;
		goto out;
	}
	err = mcubert_classify(&shell_ctx, shell_ids, n, shell_logits);
	uint32_t t2 = k_cycle_get_32();

	if (err != MCUBERT_OK) {
		shell_error(sh, "mcubert_classify: %s", mcubert_strerror(err));
		ret = -EIO;
		goto out;
	}
	for (uint32_t j = 1; j < shell_model->n_labels; j++) {
		if (shell_logits[j] > shell_logits[best]) { /* first maximum wins, like numpy.argmax */
			best = j;
		}
	}

	uint32_t scale_bits = mcubert_logit_scale_bits(&shell_ctx);
	float scale;
	char fixed[16];

	memcpy(&scale, &scale_bits, sizeof(scale));
	shell_print(sh, "label: %s", shell_model->labels[best]);
	for (uint32_t j = 0; j < shell_model->n_labels; j++) {
		format_fixed4(fixed, sizeof(fixed), shell_logits[j], scale);
		shell_print(sh, "score %s: logit %d = %s", shell_model->labels[j], (int)shell_logits[j],
			    fixed);
	}
	shell_print(sh, "tokens: %u%s, tokenize %u us, classify %u us", (unsigned int)n,
		    tok == MCUBERT_TOKENIZE_TRUNCATED ? " (truncated)" : "",
		    (unsigned int)k_cyc_to_us_floor64(t1 - t0),
		    (unsigned int)k_cyc_to_us_floor64(t2 - t1));
out:
	k_mutex_unlock(&shell_lock);
	return ret;
}

static int cmd_info(const struct shell *sh, size_t argc, char **argv)
{
	ARG_UNUSED(argc);
	ARG_UNUSED(argv);

	k_mutex_lock(&shell_lock, K_FOREVER);
	if (shell_model == NULL) {
		k_mutex_unlock(&shell_lock);
		shell_error(sh, "mcubert: no model registered (mcubert_shell_register)");
		return -ENODEV;
	}
	shell_print(sh, "model: %s", shell_model->name ? shell_model->name : "?");
	shell_print(sh, "blob: %u bytes", (unsigned int)shell_model->blob_len);
	shell_print(sh, "vocab blob: %u bytes", (unsigned int)shell_model->vocab_len);
	shell_print(sh, "arena: %u bytes", (unsigned int)shell_model->arena_len);
	shell_print(sh, "max seq len: %u", (unsigned int)max_ids());
	shell_print(sh, "kernels: %s", mcubert_kernel_variant());
	shell_fprintf(sh, SHELL_NORMAL, "labels (%u):", (unsigned int)shell_model->n_labels);
	for (uint32_t j = 0; j < shell_model->n_labels; j++) {
		shell_fprintf(sh, SHELL_NORMAL, " %s", shell_model->labels[j]);
	}
	shell_fprintf(sh, SHELL_NORMAL, "\n");
	k_mutex_unlock(&shell_lock);
	return 0;
}

SHELL_STATIC_SUBCMD_SET_CREATE(mcubert_cmds,
	SHELL_CMD_ARG(classify, NULL,
		      "Tokenize and classify text: mcubert classify <text...>",
		      cmd_classify, 1, SHELL_OPT_ARG_RAW),
	SHELL_CMD(info, NULL, "Model, sizes and labels", cmd_info),
	SHELL_SUBCMD_SET_END);

SHELL_CMD_REGISTER(mcubert, &mcubert_cmds, "mcubert int8 BERT classifier", NULL);
