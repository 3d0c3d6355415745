/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * Which kernel path this build uses. It lives with the kernels because it must be compiled
 * with their flags (the Zephyr module can build the kernels alone with the DSP extension).
 */
#include "mcubert/mcubert.h"
#include "../mcubert_support.h"

const char *mcubert_kernel_variant(void)
{
	return MCUBERT_DSP ? "dsp" : "portable";
}
