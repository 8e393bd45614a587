# pgtq_add_plugin(): build a pgtqd handler plugin the way pgtqd expects to load it.
#
#   pgtq_add_plugin(<name> SOURCES <file>... [OUTPUT_DIRECTORY <dir>]
#                   [INSTALL [DESTINATION <dir>] [COMPONENT <component>]])
#
# Creates a MODULE library <name>.so (no "lib" prefix: pgtqd names plugins by file name)
# that exports only pgtq_plugin_entry (hidden visibility plus a linker version script):
# everything else stays inside, so two plugins can use different versions of the same
# library without their symbols colliding in pgtqd.
# Undefined symbols fail the link here rather than the dlopen() in production.
#
# OUTPUT_DIRECTORY puts the built .so there, e.g. one directory for all of a project's
# plugins so that a development pgtqd can load them all with --plugin-dir.
#
# INSTALL installs it, mode 0644 (a plugin is loaded, never executed), to DESTINATION, by
# default into the plugin directory of the pgtq that find_package(pgtq) found,
# ${pgtq_PLUGIN_DIR} (an absolute path, computed from where that pgtq's CMake package is
# installed), so that its pgtqd loads it whatever your own install prefix is. DESTDIR
# still applies (DESTDIR=stage cmake --install build), so a distribution package can stage
# it; CPack needs CPACK_SET_DESTDIR ON for an absolute destination. Inside pgtq's own build
# the default is ${PGTQ_PLUGIN_INSTALL_DIR}, relative to the prefix.
#
# Shipped with pgtq's CMake package (find_package(pgtq)); pgtq's own build can include it too.
include_guard(GLOBAL)

function(pgtq_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 arg
    "INSTALL" "OUTPUT_DIRECTORY;DESTINATION;COMPONENT" "SOURCES")
  if(arg_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "pgtq_add_plugin(${name}): unknown arguments: ${arg_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "pgtq_add_plugin(${name}): SOURCES is required")
  endif()
  if((arg_DESTINATION OR arg_COMPONENT) AND NOT arg_INSTALL)
    message(FATAL_ERROR "pgtq_add_plugin(${name}): DESTINATION and COMPONENT need INSTALL")
  endif()

  add_library(${name} MODULE ${arg_SOURCES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  if(arg_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${arg_OUTPUT_DIRECTORY}")
  endif()
  target_link_libraries(${name} PRIVATE pgtq::plugin_api)
  # plugin.hpp needs C++20; C sources are unaffected, and a C-only project has no CXX.
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if("CXX" IN_LIST languages)
    target_compile_features(${name} PRIVATE cxx_std_20)
  endif()
  if(NOT APPLE)
    # Hidden visibility is not enough for C++: libstdc++ declares namespace std with default
    # visibility, so inline template statics (std::to_chars tables, ...) would still be
    # exported, as GNU unique symbols at that. The version script makes them local.
    set(map "${CMAKE_BINARY_DIR}/pgtq/plugin.map")
    file(CONFIGURE OUTPUT "${map}" CONTENT [[
/* pgtq plugins export pgtq_plugin_entry and nothing else. */
{
  global:
    pgtq_plugin_entry;
  local:
    *;
};
]])
    target_link_options(${name} PRIVATE "LINKER:--no-undefined" "LINKER:--version-script=${map}")
    set_property(TARGET ${name} APPEND PROPERTY LINK_DEPENDS "${map}")
  endif()

  if(arg_INSTALL)
    set(destination "${arg_DESTINATION}")
    if(NOT destination)
      if(PGTQ_PLUGIN_INSTALL_DIR)
        set(destination "${PGTQ_PLUGIN_INSTALL_DIR}")
      elseif(pgtq_PLUGIN_DIR)
        set(destination "${pgtq_PLUGIN_DIR}")
      else()
        include(GNUInstallDirs)
        set(destination "${CMAKE_INSTALL_LIBDIR}/pgtq/plugins")
      endif()
    endif()
    set(component)
    if(arg_COMPONENT)
      set(component COMPONENT "${arg_COMPONENT}")
    endif()
    install(TARGETS ${name}
            LIBRARY DESTINATION "${destination}"
                    PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
                    ${component})
  endif()
endfunction()
