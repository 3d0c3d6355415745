/*
 * SPDX-License-Identifier: Apache-2.0
 *
 * The kernel path mcubert_kernel_variant() must report on this build's CPU, from Kconfig
 * alone, so a test cannot pass on the wrong path (say portable kernels on the Cortex-M33).
 */
#ifndef MCUBERT_EXPECTED_VARIANT_H_
#define MCUBERT_EXPECTED_VARIANT_H_

#if defined(CONFIG_MCUBERT_KERNELS_PORTABLE)
#define MCUBERT_EXPECTED_VARIANT "portable"
#elif defined(CONFIG_CPU_CORTEX_M4) || defined(CONFIG_CPU_CORTEX_M7) || defined(CONFIG_ARMV8_M_DSP)
#define MCUBERT_EXPECTED_VARIANT "dsp"
#else
#define MCUBERT_EXPECTED_VARIANT "portable"
#endif

#endif /* MCUBERT_EXPECTED_VARIANT_H_ */
