/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Zephyr glue: the log module and the per-layer profile. Everything else is portable C.
 */
#include <string.h>

#include <zephyr/kernel.h>
#include <zephyr/logging/log.h>

#include <mcubert/zephyr.h>

#include "../mcubert_port.h"

LOG_MODULE_REGISTER(mcubert, CONFIG_MCUBERT_LOG_LEVEL);

#if defined(CONFIG_MCUBERT_PROFILE)
static uint32_t stamp[MCUBERT_PROFILE_STAGES + 1];
static uint32_t last_cycles[MCUBERT_PROFILE_STAGES];
static size_t last_stages;

void mcubert_profile_mark(uint32_t stage)
{
	if (stage > MCUBERT_PROFILE_STAGES) {
		return;
	}
	stamp[stage] = k_cycle_get_32();
	if (stage == 0) {
		return;
	}
	/* Close the run at every mark: the last mark (head) leaves the full profile. */
	for (uint32_t s = 0; s < stage; s++) {
		last_cycles[s] = stamp[s + 1] - stamp[s];
	}
	last_stages = stage;
	LOG_DBG("stage %u: %u cycles", stage - 1, last_cycles[stage - 1]);
}

size_t mcubert_profile_get(uint32_t *cycles, size_t n)
{
	if (cycles != NULL) {
		memcpy(cycles, last_cycles, MIN(n, last_stages) * sizeof(uint32_t));
	}
	return last_stages;
}
#else
size_t mcubert_profile_get(uint32_t *cycles, size_t n)
{
	ARG_UNUSED(cycles);
	ARG_UNUSED(n);
	return 0;
}
#endif
