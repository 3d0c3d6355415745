/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Zephyr-only helpers for the mcubert module: arena placement from Kconfig and the
 * per-layer profile (CONFIG_MCUBERT_PROFILE).
 */
#ifndef MCUBERT_ZEPHYR_H_
#define MCUBERT_ZEPHYR_H_

#include <stddef.h>
#include <stdint.h>

#include <zephyr/linker/section_tags.h>
#include <zephyr/toolchain.h>

#include <mcubert/mcubert.h>

/*
 * With CONFIG_MCUBERT_ARENA_AUTO, mcubert_add_model() defines MCUBERT_ARENA_IN_DTCM for the
 * generated <name>_model.c of a model whose arena it placed in DTCM.
 */
#if defined(CONFIG_MCUBERT_ARENA_DTCM) ||                                                  \
	(defined(CONFIG_MCUBERT_ARENA_AUTO) && defined(MCUBERT_ARENA_IN_DTCM))
#define MCUBERT_ARENA_PLACEMENT __dtcm_noinit_section
#elif defined(CONFIG_MCUBERT_ARENA_SECTION_CUSTOM)
#define MCUBERT_ARENA_PLACEMENT __attribute__((section(CONFIG_MCUBERT_ARENA_SECTION)))
#else
/* The runtime writes every byte it reads, so zeroing the arena at boot is wasted time. */
#define MCUBERT_ARENA_PLACEMENT __noinit
#endif

/* An arena of `size` bytes where CONFIG_MCUBERT_ARENA_* puts it: `MCUBERT_ARENA_DEFINE(a, N);` */
#define MCUBERT_ARENA_DEFINE(name, size)                                                   \
	uint8_t name[size] __aligned(MCUBERT_ALIGN) MCUBERT_ARENA_PLACEMENT

#ifdef __cplusplus
extern "C" {
#endif

/* Stages of the profile: embedding, each encoder layer, then the classifier head. */
#define MCUBERT_PROFILE_STAGES (MCUBERT_MAX_LAYERS + 2u)

/*
 * Cycles (k_cycle_get_32 ticks) each stage of the last mcubert_classify() took.
 * Copies at most `n` values and returns how many stages the last call had (layers + 2),
 * or 0 if profiling is off or nothing ran yet.
 */
size_t mcubert_profile_get(uint32_t *cycles, size_t n);

#ifdef __cplusplus
}
#endif

#endif /* MCUBERT_ZEPHYR_H_ */
