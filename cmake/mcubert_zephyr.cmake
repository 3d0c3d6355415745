# SPDX-License-Identifier: Apache-2.0
#
# mcubert_add_model(<target> MODEL <file.mcubert> [NAME <c_name>] [MAX_SEQ_LEN <L>]
#                   [SCHEDULE fine|layerwise] [INPUTS <sentences.txt>] [TOKENIZER])
#
# Generates, during the build, a model's weight blob (a const array in flash), its schedule,
# labels and arena as <name>_model.h/.c, plus <name>_inputs.h when INPUTS is given and
# <name>_vocab.h/.c (the vocabulary blob of mcubert_tokenize(), needs CONFIG_MCUBERT_TOKENIZER)
# with TOKENIZER, into ${CMAKE_CURRENT_BINARY_DIR}/mcubert/<name>/, and adds them to <target>. The decisions
# (dependencies, the arena's region, fit against the board) are made by python/mcubert/targets/zephyr.py
# and memory.py, which CI tests; this file only gathers devicetree and Kconfig facts and wires the commands.
#
# The arena goes, with CONFIG_MCUBERT_ARENA_AUTO (the default), to the fastest RAM region that holds
# it beside what the rest of the image declares there (.config: stacks, heaps, buffers, a reserve),
# in the board profile's order: DTCM before SRAM on the F746. After the link, the mcubert_memcheck
# target reads zephyr.elf, confirms the arena's region and prints the memory summary by region.
#
# For apps that generate more (the kernel tests' golden vectors) it also sets:
#   MCUBERT_PYTHON             the interpreter (Zephyr's)
#   MCUBERT_PYTHON_ENV         command prefix that puts the module's python/ on PYTHONPATH
#   MCUBERT_GENERATOR_DEPENDS  the generator's sources and templates (after one mcubert_add_model()
#                              or mcubert_generator_setup() call)

get_filename_component(MCUBERT_PYTHON_DIR ${CMAKE_CURRENT_LIST_DIR}/../python ABSOLUTE)
set(MCUBERT_PYTHON_DIR ${MCUBERT_PYTHON_DIR} CACHE INTERNAL "mcubert: the module's Python package")
set(MCUBERT_PYTHON ${Python3_EXECUTABLE} CACHE INTERNAL "mcubert: Python for the generator")
# The module's own generator, never another installed version of it.
set(MCUBERT_PYTHON_ENV ${CMAKE_COMMAND} -E env PYTHONPATH=${MCUBERT_PYTHON_DIR}
    CACHE INTERNAL "mcubert: generator environment")

# Checks the build requirements once per configure and sets MCUBERT_GENERATOR_DEPENDS.
function(mcubert_generator_setup)
  get_property(done GLOBAL PROPERTY MCUBERT_GENERATOR_SETUP_DONE)
  if(done)
    return()
  endif()
  execute_process(
    COMMAND ${MCUBERT_PYTHON_ENV} ${MCUBERT_PYTHON} -m mcubert.targets.zephyr deps
    OUTPUT_VARIABLE deps ERROR_VARIABLE err RESULT_VARIABLE rc
    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${err}")
  endif()
  set(MCUBERT_GENERATOR_DEPENDS ${deps} CACHE INTERNAL "mcubert: generator sources and templates")
  set_property(GLOBAL PROPERTY MCUBERT_GENERATOR_SETUP_DONE TRUE)
endfunction()

# "zephyr,sram=<base>:<size>" for a devicetree chosen node, or nothing if it is not chosen.
function(mcubert_dt_fact out chosen)
  dt_chosen(path PROPERTY "${chosen}")
  if(path)
    dt_reg_addr(addr PATH ${path})
    dt_reg_size(size PATH ${path})
    set(${out} "${chosen}=${addr}:${size}" PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

# The post-link check: mcubert_memcheck (part of the default build) reads zephyr.elf and
# prints each devicetree region's use, the arenas in theirs; it fails when an arena is not in the
# region it was placed for. logical_target_for_zephyr_elf is the final ELF's target, which
# Zephyr's CMakeLists.txt hands up to the application's scope.
function(mcubert_memcheck_target)
  if(NOT logical_target_for_zephyr_elf OR TARGET mcubert_memcheck)
    return()
  endif()
  get_property(args GLOBAL PROPERTY MCUBERT_MEMCHECK_ARGS)
  get_property(dt GLOBAL PROPERTY MCUBERT_MEMCHECK_DT)
  get_property(declared GLOBAL PROPERTY MCUBERT_MEMCHECK_DECLARED)
  list(REMOVE_DUPLICATES declared)
  foreach(d ${declared})
    list(APPEND args --expected-other ${d})
  endforeach()
  # A stamp, so that a build with nothing changed runs nothing; naming the ELF's target in
  # DEPENDS re-runs the check whenever the image is linked again.
  set(stamp ${CMAKE_CURRENT_BINARY_DIR}/mcubert/memcheck.stamp)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${MCUBERT_PYTHON_ENV} ${MCUBERT_PYTHON} -m mcubert.targets.zephyr memcheck
            --elf $<TARGET_FILE:${logical_target_for_zephyr_elf}> ${dt} ${args}
            --board ${BOARD} --board-target ${BOARD}${BOARD_QUALIFIERS}
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    DEPENDS ${logical_target_for_zephyr_elf} ${MCUBERT_GENERATOR_DEPENDS}
    COMMENT "mcubert: memory check of the linked image"
    VERBATIM)
  add_custom_target(mcubert_memcheck ALL DEPENDS ${stamp})
endfunction()

# The fit check's stdout: report lines, then the decision as the last line,
# `arena_chosen=<node> arena_bytes=<n> declared=<n>`. python/tests/test_zephyr_arena.py runs this
# in CMake script mode on the check's real output.
function(mcubert_parse_check_output msg chosen_var bytes_var declared_var lines_var)
  if(NOT msg MATCHES "arena_chosen=([^ \n]+) arena_bytes=([0-9]+) declared=([0-9]+)$")
    message(FATAL_ERROR "mcubert: unexpected output of the fit check:\n${msg}")
  endif()
  set(${chosen_var} ${CMAKE_MATCH_1} PARENT_SCOPE)
  set(${bytes_var} ${CMAKE_MATCH_2} PARENT_SCOPE)
  set(${declared_var} ${CMAKE_MATCH_3} PARENT_SCOPE)
  string(REGEX REPLACE "\n?arena_chosen=[^\n]*$" "" msg "${msg}")
  string(REPLACE "\n" ";" lines "${msg}")
  set(${lines_var} "${lines}" PARENT_SCOPE)
endfunction()

function(mcubert_add_model target)
  cmake_parse_arguments(arg "TOKENIZER" "MODEL;NAME;MAX_SEQ_LEN;SCHEDULE;INPUTS" "" ${ARGN})
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "mcubert_add_model: unknown arguments ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_MODEL)
    message(FATAL_ERROR "mcubert_add_model(${target} MODEL <file.mcubert> ...): MODEL is required")
  endif()
  if(NOT CONFIG_MCUBERT)
    message(FATAL_ERROR "mcubert_add_model: set CONFIG_MCUBERT=y in prj.conf")
  endif()
  if(arg_TOKENIZER AND NOT CONFIG_MCUBERT_TOKENIZER)
    message(FATAL_ERROR "mcubert_add_model(${target} ... TOKENIZER): the vocabulary needs the tokenizer: "
                        "set CONFIG_MCUBERT_TOKENIZER=y in prj.conf (CONFIG_MCUBERT_SHELL=y selects it)")
  endif()
  get_filename_component(model ${arg_MODEL} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  if(NOT EXISTS ${model})
    message(FATAL_ERROR "mcubert_add_model: model file ${model} not found")
  endif()
  if(arg_NAME)
    set(name ${arg_NAME})
  else()
    get_filename_component(name ${model} NAME_WE)
  endif()
  string(MAKE_C_IDENTIFIER "${name}" name)
  if(NOT arg_MAX_SEQ_LEN)
    set(arg_MAX_SEQ_LEN 128)
  endif()
  if(NOT arg_SCHEDULE)
    set(arg_SCHEDULE fine)
  endif()

  mcubert_generator_setup()

  # Fit check at configure time, so a model that cannot fit stops the build with numbers.
  mcubert_dt_fact(sram zephyr,sram)
  mcubert_dt_fact(flash zephyr,flash)
  mcubert_dt_fact(dtcm zephyr,dtcm)
  set(dt_args)
  foreach(fact ${sram} ${flash} ${dtcm})
    list(APPEND dt_args --dt ${fact})
  endforeach()
  set(check_args)
  if(arg_TOKENIZER)
    list(APPEND check_args --tokenizer)
  endif()
  # Where the arena goes: CONFIG_MCUBERT_ARENA_AUTO lets the check pick the fastest region that
  # holds it (the board profile's order); an explicit choice is checked as it is.
  if(CONFIG_MCUBERT_ARENA_AUTO)
    set(arena_chosen auto)
  elseif(CONFIG_MCUBERT_ARENA_DTCM)
    set(arena_chosen zephyr,dtcm)
  else()
    set(arena_chosen zephyr,sram)
  endif()
  # The RAM the rest of the image declares (stacks, heaps, buffers: the .config) and the arenas
  # of earlier mcubert_add_model() calls count against the region too.
  get_property(arenas_so_far GLOBAL PROPERTY MCUBERT_ARENAS_USED)
  foreach(used ${arenas_so_far})
    list(APPEND check_args --arena-used ${used})
  endforeach()
  if(DOTCONFIG AND EXISTS ${DOTCONFIG})
    list(APPEND check_args --dotconfig ${DOTCONFIG})
  endif()
  # On a re-configure, what the last link put in each region besides the arenas counts too.
  if(CONFIG_MCUBERT_ARENA_EXTERNAL)
    set_property(GLOBAL APPEND PROPERTY MCUBERT_ARENA_SYMBOLS ${CONFIG_MCUBERT_ARENA_NAME})
  else()
    set_property(GLOBAL APPEND PROPERTY MCUBERT_ARENA_SYMBOLS ${name}_arena)
  endif()
  get_property(arena_symbols GLOBAL PROPERTY MCUBERT_ARENA_SYMBOLS)
  foreach(sym ${arena_symbols})
    list(APPEND check_args --arena-symbol ${sym})
  endforeach()
  set(previous_elf ${CMAKE_BINARY_DIR}/zephyr/${CONFIG_KERNEL_BIN_NAME}.elf)
  if(EXISTS ${previous_elf})
    list(APPEND check_args --previous-elf ${previous_elf})
  endif()
  execute_process(
    COMMAND ${MCUBERT_PYTHON_ENV} ${MCUBERT_PYTHON} -m mcubert.targets.zephyr check
            --model ${model} --name ${name} --max-seq-len ${arg_MAX_SEQ_LEN} --schedule ${arg_SCHEDULE}
            --board ${BOARD} --board-target ${BOARD}${BOARD_QUALIFIERS} --arena-chosen ${arena_chosen}
            ${dt_args} ${check_args}
    OUTPUT_VARIABLE msg ERROR_VARIABLE err RESULT_VARIABLE rc
    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_STRIP_TRAILING_WHITESPACE)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${err}")
  endif()
  mcubert_parse_check_output("${msg}" placed arena_bytes declared msg_lines)
  foreach(line ${msg_lines})
    message(STATUS "${line}")
  endforeach()
  if(NOT CONFIG_MCUBERT_ARENA_EXTERNAL)
    set_property(GLOBAL APPEND PROPERTY MCUBERT_ARENAS_USED "${placed}=${arena_bytes}")
  endif()
  # After the link, zephyr.elf must show the arena where it was placed, and every region within
  # its size: mcubert_memcheck (below) prints the memory summary by region.
  if(CONFIG_MCUBERT_ARENA_EXTERNAL)
    set_property(GLOBAL APPEND PROPERTY MCUBERT_MEMCHECK_ARGS --arena "${CONFIG_MCUBERT_ARENA_NAME}=")
  elseif(CONFIG_MCUBERT_ARENA_SECTION_CUSTOM)
    set_property(GLOBAL APPEND PROPERTY MCUBERT_MEMCHECK_ARGS --arena "${name}_arena=")
  else()
    set_property(GLOBAL APPEND PROPERTY MCUBERT_MEMCHECK_ARGS --arena "${name}_arena=${placed}")
  endif()
  set_property(GLOBAL APPEND PROPERTY MCUBERT_MEMCHECK_DECLARED "${placed}=${declared}")
  set_property(GLOBAL PROPERTY MCUBERT_MEMCHECK_DT ${dt_args})
  get_property(memcheck_deferred GLOBAL PROPERTY MCUBERT_MEMCHECK_DEFERRED)
  if(NOT memcheck_deferred)
    # Once, after every mcubert_add_model() call of the application.
    cmake_language(DEFER DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR} CALL mcubert_memcheck_target)
    set_property(GLOBAL PROPERTY MCUBERT_MEMCHECK_DEFERRED TRUE)
  endif()
  # A new model file must pass the check again.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${model})

  set(out ${CMAKE_CURRENT_BINARY_DIR}/mcubert/${name})
  set(outputs ${out}/${name}_model.h ${out}/${name}_model.c ${out}/${name}_blob.inc)
  set(gen_args)
  set(gen_depends ${model})
  if(arg_INPUTS)
    get_filename_component(inputs ${arg_INPUTS} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    if(NOT EXISTS ${inputs})
      message(FATAL_ERROR "mcubert_add_model: INPUTS file ${inputs} not found")
    endif()
    list(APPEND outputs ${out}/${name}_inputs.h)
    list(APPEND gen_args --inputs ${inputs})
    list(APPEND gen_depends ${inputs})
  endif()
  if(CONFIG_MCUBERT_ARENA_EXTERNAL)
    list(APPEND gen_args --arena-extern ${CONFIG_MCUBERT_ARENA_NAME})
  endif()
  set(sources ${out}/${name}_model.c)
  if(arg_TOKENIZER)
    list(APPEND outputs ${out}/${name}_vocab.h ${out}/${name}_vocab.c)
    list(APPEND sources ${out}/${name}_vocab.c)
    list(APPEND gen_args --tokenizer)
  endif()
  if(CONFIG_MCUBERT_ARENA_AUTO AND placed STREQUAL "zephyr,dtcm")
    # include/mcubert/zephyr.h: MCUBERT_ARENA_DEFINE() then uses __dtcm_noinit_section.
    set_source_files_properties(${out}/${name}_model.c PROPERTIES COMPILE_DEFINITIONS MCUBERT_ARENA_IN_DTCM=1)
  endif()
  get_filename_component(model_file ${model} NAME)
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${MCUBERT_PYTHON_ENV} ${MCUBERT_PYTHON} -m mcubert generate ${model}
            --max-seq-len ${arg_MAX_SEQ_LEN} --schedule ${arg_SCHEDULE} --out-dir ${out} --name ${name}
            --header-name ${name}_schedule.h --c-source ${gen_args}
    DEPENDS ${gen_depends} ${MCUBERT_GENERATOR_DEPENDS}
    COMMENT "mcubert: generating ${name} from ${model_file} (MAX_SEQ_LEN ${arg_MAX_SEQ_LEN}, ${arg_SCHEDULE})"
    VERBATIM)
  target_sources(${target} PRIVATE ${sources})
  target_include_directories(${target} PRIVATE ${out})
  # The headers are generated too: make sure they exist before any of the target's sources compile.
  add_custom_target(mcubert_${name}_generated DEPENDS ${outputs})
  add_dependencies(${target} mcubert_${name}_generated)
endfunction()
