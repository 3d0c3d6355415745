/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Instruction counter for runs under QEMU with -icount shift=0, where each guest
 * instruction advances virtual time by exactly 1 ns: SysTick on the processor clock then
 * counts instructions, in steps of MCUBERT_ICOUNT_PER_TICK. On the host it reads 0.
 */
#ifndef MCUBERT_ICOUNT_H
#define MCUBERT_ICOUNT_H

#include <stdint.h>

/*
 * QEMU's mps2 boards clock SysTick (CLKSOURCE = processor clock) at 25 MHz, so one tick
 * is 40 ns = 40 instructions: counts are exact multiples of 40, resolution 40 instructions
 * (checked by timing a loop of known length).
 */
#define MCUBERT_ICOUNT_PER_TICK 40u

/*
 * (Re)starts SysTick from zero (reload 0xFFFFFF, an interrupt per wrap). Called right
 * before a measurement it lines the tick grid up with it, so the same code gives the same
 * count wherever it runs. Interrupts must be enabled.
 */
void mcubert_icount_start(void);

/* Instructions since mcubert_icount_start; the difference of two reads times the code between. */
uint64_t mcubert_icount_now(void);

#endif /* MCUBERT_ICOUNT_H */
