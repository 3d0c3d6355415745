/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The runtime's only contact with its OS: log and profile hooks. Under Zephyr they map to
 * the logging subsystem and src/zephyr/mcubert_zephyr.c; elsewhere they compile away, so
 * the runtime stays portable C.
 */
#ifndef MCUBERT_PORT_H_
#define MCUBERT_PORT_H_

#include <stdint.h>

#if defined(__ZEPHYR__)
#include <zephyr/logging/log.h>
#define MCUBERT_LOG_DECLARE() LOG_MODULE_DECLARE(mcubert, CONFIG_MCUBERT_LOG_LEVEL)
#define MCUBERT_LOG_ERR(...) LOG_ERR(__VA_ARGS__)
#define MCUBERT_LOG_INF(...) LOG_INF(__VA_ARGS__)
#define MCUBERT_LOG_DBG(...) LOG_DBG(__VA_ARGS__)
#else
#define MCUBERT_LOG_DECLARE() struct mcubert_log_unused
#define MCUBERT_LOG_ERR(...) ((void)0)
#define MCUBERT_LOG_INF(...) ((void)0)
#define MCUBERT_LOG_DBG(...) ((void)0)
#endif

#if defined(CONFIG_MCUBERT_PROFILE)
/* stage 0 starts a run; stage k > 0 closes stage k - 1 (see mcubert_profile_get()). */
void mcubert_profile_mark(uint32_t stage);
#define MCUBERT_PROFILE_MARK(stage) mcubert_profile_mark(stage)
#else
#define MCUBERT_PROFILE_MARK(stage) ((void)0)
#endif

#endif /* MCUBERT_PORT_H_ */
