# Run at install time (install(CODE) in packaging/CMakeLists.txt): writes and installs the
# files whose text names installed paths -- the systemd unit, the example config and the
# pkg-config files -- for the prefix this install goes to. "cmake --install build --prefix P"
# changes CMAKE_INSTALL_PREFIX after configuring, so paths baked in at configure time would
# still point at the old prefix. The result equals configuring with -DCMAKE_INSTALL_PREFIX=P.
#
# Set by the caller: PGTQ_INSTALL_PART (daemon: the unit and example config; dev: the .pc
# files), PGTQ_TEMPLATE_DIR (the source's packaging/), PGTQ_PC_TEMPLATE_DIR (cmake/),
# PGTQ_STAGE_DIR, PGTQ_PROJECT_VERSION, PGTQ_PROJECT_DESCRIPTION, and the install layout
# relative to the prefix (or absolute):
# PGTQ_REL_SBINDIR, PGTQ_REL_SYSCONFDIR, PGTQ_REL_DOCDIR, PGTQ_REL_INCLUDEDIR,
# PGTQ_REL_LIBDIR, PGTQ_REL_PLUGINDIR, PGTQ_REL_SQLDIR, PGTQ_REL_UNITDIR.

# An absolute directory as GNUInstallDirs computes CMAKE_INSTALL_FULL_<kind>, for the prefix
# of this install (its special cases: etc under /usr and /, /etc/opt/... for /opt/...).
function(pgtq_full_dir out dir kind)
  set(prefix "${CMAKE_INSTALL_PREFIX}")
  set(state_dir FALSE)
  if(kind STREQUAL "SYSCONFDIR")
    set(state_dir TRUE)
  endif()
  if(IS_ABSOLUTE "${dir}")
    set(full "${dir}")
  elseif(prefix STREQUAL "/")
    if(state_dir OR dir MATCHES "^usr/")
      set(full "/${dir}")
    else()
      set(full "/usr/${dir}")
    endif()
  elseif(prefix MATCHES "^/usr/?$")
    if(state_dir)
      set(full "/${dir}")
    else()
      set(full "/usr/${dir}")
    endif()
  elseif(prefix MATCHES "^/opt/" AND NOT prefix MATCHES "^/opt/homebrew/" AND state_dir)
    set(full "/${dir}${prefix}")
  else()
    set(full "${prefix}/${dir}")
  endif()
  set(${out} "${full}" PARENT_SCOPE)
endfunction()

pgtq_full_dir(PGTQ_SBIN_DIR "${PGTQ_REL_SBINDIR}" SBINDIR)
pgtq_full_dir(_pgtq_sysconf_dir "${PGTQ_REL_SYSCONFDIR}" SYSCONFDIR)
set(PGTQ_CONF_DIR "${_pgtq_sysconf_dir}/pgtq")
pgtq_full_dir(PGTQ_DOC_DIR "${PGTQ_REL_DOCDIR}" DOCDIR)
pgtq_full_dir(PGTQ_PLUGIN_DIR "${PGTQ_REL_PLUGINDIR}" LIBDIR)
pgtq_full_dir(_pgtq_unit_dir "${PGTQ_REL_UNITDIR}" LIBDIR)
pgtq_full_dir(_pgtq_pc_dir "${PGTQ_REL_LIBDIR}/pkgconfig" LIBDIR)

set(PROJECT_VERSION "${PGTQ_PROJECT_VERSION}")
set(PROJECT_DESCRIPTION "${PGTQ_PROJECT_DESCRIPTION}")

if(PGTQ_INSTALL_PART STREQUAL "daemon")
  configure_file("${PGTQ_TEMPLATE_DIR}/systemd/pgtqd@.service.in" "${PGTQ_STAGE_DIR}/pgtqd@.service"
                 @ONLY)
  configure_file("${PGTQ_TEMPLATE_DIR}/systemd/example.conf.in" "${PGTQ_STAGE_DIR}/example.conf"
                 @ONLY)
  file(INSTALL "${PGTQ_STAGE_DIR}/pgtqd@.service" DESTINATION "${_pgtq_unit_dir}")
  file(INSTALL "${PGTQ_STAGE_DIR}/example.conf" DESTINATION "${PGTQ_DOC_DIR}")
  # Next to the real configs for convenience, under a name pgtqd never reads, so that an
  # install or upgrade cannot overwrite an operator's QUEUE.conf.
  file(INSTALL "${PGTQ_STAGE_DIR}/example.conf" DESTINATION "${PGTQ_CONF_DIR}"
       RENAME example.conf.sample)
  return()
endif()

# pkg-config: relocatable (${pcfiledir}) unless installed to /usr, where a computed path
# would spell -I/usr/include in a roundabout way and defeat pkg-config's system-directory
# filtering.
if(CMAKE_INSTALL_PREFIX MATCHES "^/usr/?$")
  set(PGTQ_PC_PREFIX "/usr")
else()
  file(RELATIVE_PATH _pgtq_pc_up "/root/${PGTQ_REL_LIBDIR}/pkgconfig" "/root")
  string(REGEX REPLACE "/$" "" _pgtq_pc_up "${_pgtq_pc_up}")
  set(PGTQ_PC_PREFIX "\${pcfiledir}/${_pgtq_pc_up}")
endif()
function(pgtq_pc_path out dir)
  if(IS_ABSOLUTE "${dir}")
    set(${out} "${dir}" PARENT_SCOPE)
  else()
    set(${out} "\${prefix}/${dir}" PARENT_SCOPE)
  endif()
endfunction()
pgtq_pc_path(PGTQ_PC_INCLUDEDIR "${PGTQ_REL_INCLUDEDIR}")
pgtq_pc_path(PGTQ_PC_PLUGINDIR "${PGTQ_REL_PLUGINDIR}")
pgtq_pc_path(PGTQ_PC_SQLDIR "${PGTQ_REL_SQLDIR}")
foreach(pc IN ITEMS pgtq pgtq-plugin)
  configure_file("${PGTQ_PC_TEMPLATE_DIR}/${pc}.pc.in" "${PGTQ_STAGE_DIR}/${pc}.pc" @ONLY)
  file(INSTALL "${PGTQ_STAGE_DIR}/${pc}.pc" DESTINATION "${_pgtq_pc_dir}")
endforeach()
