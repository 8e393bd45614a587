# The example at the top of plugin.h, between " * --- example.c ---" and
# " * --- end of example.c ---", each line without the comment's leading " * ".
#   cmake -DHEADER=plugin.h -DOUTPUT=example.c -P extract_example.cmake
#     writes it as a C file, so that the build compiles the very text a C author copies;
#   cmake -DHEADER=plugin.h -DREADME=README.md -P extract_example.cmake
#     fails unless README.md shows it verbatim in a ```c block.
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

if(DEFINED README)
  file(READ "${README}" readme)
  string(FIND "${readme}" "```c\n${example}\n```" found)
  if(found EQUAL -1)
    message(FATAL_ERROR "${README} does not show the example of ${HEADER} as it is; copy it "
                        "from there into the ```c block of the section on C plugins")
  endif()
else()
  file(WRITE "${OUTPUT}" "/* Generated from ${HEADER}; edit the example there. */\n${example}\n")
endif()
