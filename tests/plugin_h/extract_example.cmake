# Writes the example at the top of plugin.h to OUTPUT as a C file, so that the build compiles
# the very text a C author copies: the example cannot rot unnoticed.
#   cmake -DHEADER=plugin.h -DOUTPUT=example.c -P extract_example.cmake
# The example sits between " * --- example.c ---" and " * --- end of example.c ---"; each
# of its lines loses the comment's leading " * ".
file(READ "${HEADER}" text)
set(begin_marker " * --- example.c ---\n")
set(end_marker "\n * --- end of example.c ---")
string(FIND "${text}" "${begin_marker}" begin)
string(FIND "${text}" "${end_marker}" end)
if(begin EQUAL -1 OR end EQUAL -1 OR end LESS begin)
  message(FATAL_ERROR "${HEADER}: no example between \"${begin_marker}\" and \"${end_marker}\"")
endif()
string(LENGTH "${begin_marker}" marker_length)
math(EXPR begin "${begin} + ${marker_length}")
math(EXPR length "${end} - ${begin}")
string(SUBSTRING "${text}" ${begin} ${length} example)
# " * code" -> "code", " *" -> "": first the star, then the one space after it.
string(REGEX REPLACE "\n \\*" "\n" example "\n${example}")
string(REGEX REPLACE "\n " "\n" example "${example}")
string(SUBSTRING "${example}" 1 -1 example)
file(WRITE "${OUTPUT}" "/* Generated from ${HEADER}; edit the example there. */\n${example}\n")
