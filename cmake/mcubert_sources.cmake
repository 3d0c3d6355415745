# SPDX-License-Identifier: Apache-2.0
# The runtime's sources, shared by the Zephyr module and the host build.
set(MCUBERT_DIR ${CMAKE_CURRENT_LIST_DIR}/..)
# The kernels include no OS headers, so they can be built with other CPU flags than the rest.
set(MCUBERT_KERNEL_SOURCES
  ${MCUBERT_DIR}/src/kernels/mcubert_variant.c
  ${MCUBERT_DIR}/src/kernels/mcubert_linear_s8.c
  ${MCUBERT_DIR}/src/kernels/mcubert_attn_qk_s8.c
  ${MCUBERT_DIR}/src/kernels/mcubert_attn_pv_s8.c
  ${MCUBERT_DIR}/src/kernels/mcubert_softmax_s8.c
  ${MCUBERT_DIR}/src/kernels/mcubert_lut_s8.c
  ${MCUBERT_DIR}/src/kernels/mcubert_residual_add_s8.c
  ${MCUBERT_DIR}/src/kernels/mcubert_layernorm_s8.c
  ${MCUBERT_DIR}/src/kernels/mcubert_embedding_s8.c
)
set(MCUBERT_CORE_SOURCES
  ${MCUBERT_DIR}/src/mcubert_init.c
  ${MCUBERT_DIR}/src/mcubert_classify.c
  ${MCUBERT_KERNEL_SOURCES}
)
# The WordPiece tokenizer: in every host build; in a Zephyr build only with
# CONFIG_MCUBERT_TOKENIZER (CMakeLists.txt).
set(MCUBERT_TOKENIZER_SOURCES
  ${MCUBERT_DIR}/src/mcubert_tokenize.c
  ${MCUBERT_DIR}/src/mcubert_unicode_tables.c
)
set(MCUBERT_SOURCES
  ${MCUBERT_CORE_SOURCES}
  ${MCUBERT_TOKENIZER_SOURCES}
)
set(MCUBERT_INCLUDE_DIRS ${MCUBERT_DIR}/include)
