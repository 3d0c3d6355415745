/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * SysTick-based instruction counter (see mcubert_icount.h).
 */
#include "mcubert_icount.h"

#if defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t *)0xE000ED04u)
#define CSR_ENABLE_TICKINT_CPUCLK 0x7u
#define ICSR_PENDSTSET (1u << 26)
#define ICSR_PENDSTCLR (1u << 25)
#define RELOAD 0xFFFFFFu

static volatile uint32_t wraps;

/* Overrides picolibc's weak vector-table entry. */
void arm_systick_isr(void);
void arm_systick_isr(void)
{
	wraps++;
}

void mcubert_icount_start(void)
{
	SYST_CSR = 0;
	SCB_ICSR = ICSR_PENDSTCLR; /* a wrap left pending by the last run must not count */
	SYST_RVR = RELOAD;
	SYST_CVR = 0;
	SYST_CSR = CSR_ENABLE_TICKINT_CPUCLK;
	/* The counter reads 0 until its first reload: start counting after that. */
	while (SYST_CVR == 0) {
	}
	wraps = 0;
}

uint64_t mcubert_icount_now(void)
{
	uint32_t w, v;

	/*
	 * A wrap between reading `wraps` and the counter pairs an old wrap count with a
	 * new counter value. Its interrupt is then either done (`wraps` moved) or still
	 * pending: read again in both cases.
	 */
	do {
		w = wraps;
		v = SYST_CVR;
	} while (w != wraps || (SCB_ICSR & ICSR_PENDSTSET) != 0);
	/*
	 * The counter runs RELOAD, ..., 1, 0, RELOAD, ... and interrupts on reaching 0, so
	 * while it reads 0 the wrap of the period now ending is already in `wraps`.
	 */
	uint64_t ticks = ((uint64_t)w << 24) + (RELOAD - v) - (v == 0 ? RELOAD + 1u : 0u);

	return ticks * MCUBERT_ICOUNT_PER_TICK;
}

#else

void mcubert_icount_start(void)
{
}

uint64_t mcubert_icount_now(void)
{
	return 0;
}

#endif
