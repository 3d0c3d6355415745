# SPDX-License-Identifier: Apache-2.0
#
# mcubert_add_model(<target> MODEL <file.mcubert> [NAME <c_name>] [MAX_SEQ_LEN <L>]
#                   [SCHEDULE fine|layerwise] [INPUTS <sentences.txt>] [TOKENIZER])
#
# Generates, during the build, a model's weight blob (a const array in flash), its schedule,
# labels and arena as <name>_model.h/.c, plus <name>_inputs.h when INPUTS is given and
# <name>_vocab.h/.c (the vocabulary blob of mcubert_tokenize(), needs CONFIG_MCUBERT_TOKENIZER)
# with TOKENIZER, into ${CMAKE_CURRENT_BINARY_DIR}/mcubert/<name>/, and adds them to <target>. The decisions
# (dependencies, fit against the board) are made by python/mcubert/targets/zephyr.py, which CI tests;
# this file only gathers devicetree and Kconfig facts and wires the commands.
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
  if(CONFIG_MCUBERT_ARENA_DTCM)
    set(arena_chosen zephyr,dtcm)
  else()
    set(arena_chosen zephyr,sram)
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
  string(REPLACE "\n" ";" msg_lines "${msg}")
  foreach(line ${msg_lines})
    message(STATUS "${line}")
  endforeach()
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
