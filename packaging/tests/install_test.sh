#!/bin/bash
# shellcheck disable=SC2154 # most variables come from LAYOUT_ENV
# install_test.sh LAYOUT_ENV
# Installs the build into a temporary tree and checks it the way its users meet it:
#  1. the install layout (binaries, headers, schema, systemd files, CMake and pkg-config);
#  2. every installed plugin is mode 0644 and exports only pgtq_plugin_entry;
#  3. a third-party project builds against the installed tree alone: plugins in C and (with
#     plugin.hpp) C++ through find_package(pgtq) + pgtq_add_plugin(), which export only
#     pgtq_plugin_entry and pass the ABI handshake when dlopen()ed; pgtq::client links;
#  4. pkg-config finds pgtq and pgtq-plugin, and their flags compile the headers;
#  5. every installed path follows the prefix given to "cmake --install", not the configured
#     one: installed to two prefixes, each pgtqd's default plugin directory (pgtqd --help),
#     the unit's ExecStart and --config, and the example config's plugin-dir name that prefix.
set -euo pipefail
# shellcheck source=/dev/null
source "$1"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
check_file() { [ -f "$1" ] || fail "missing ${1#"$tmp"/}"; }
check_exe() { if [ ! -f "$1" ] || [ ! -x "$1" ]; then fail "missing or not executable: ${1#"$tmp"/}"; fi; }
# A path as installed: relative ones under the prefix, absolute ones (e.g. /etc/pgtq for
# prefix /usr) under DESTDIR only.
at() { case "$1" in /*) echo "$root$1" ;; *) echo "$prefix/$1" ;; esac; }
exports_only_entry() {
  local symbols
  symbols="$(nm -D --defined-only "$1" | awk '{ print $NF }' | sort -u | tr '\n' ' ')"
  [ "$symbols" = "pgtq_plugin_entry " ] ||
    fail "${1#"$tmp"/} exports [${symbols% }], expected only pgtq_plugin_entry"
}

# DESTDIR as well as --prefix: an absolute install destination then still lands in $tmp
# instead of the live system.
root="$tmp/root"
prefix="$root/opt/pgtq"
DESTDIR="$root" "$cmake" --install "$build_dir" --prefix /opt/pgtq >"$tmp/install.log" ||
  { cat "$tmp/install.log"; fail "cmake --install failed"; exit 1; }

# 1. Layout.
check_exe "$prefix/$bindir/pgtqctl"
if [ "$has_pgtqd" = 1 ]; then
  check_exe "$prefix/$sbindir/pgtqd"
else
  echo "note: no pgtqd target in this build, not checking $sbindir/pgtqd"
fi
check_file "$prefix/$includedir/pgtq/plugin.h"
migrations=("$source_dir"/sql/migrations/*.sql)
for sql in "${migrations[@]}"; do
  cmp -s "$sql" "$prefix/$sqldir/$(basename "$sql")" ||
    fail "schema $(basename "$sql") not installed to $sqldir"
done
for file in pgtqConfig.cmake pgtqConfigVersion.cmake pgtqTargets.cmake pgtqPlugin.cmake; do
  check_file "$prefix/$cmakedir/$file"
done
check_file "$prefix/$libdir/pkgconfig/pgtq.pc"
check_file "$prefix/$libdir/pkgconfig/pgtq-plugin.pc"
# The files naming installed paths, for an install to PREFIX staged under ROOT (or not).
check_paths() { # ROOT PREFIX CONFDIR
  local stage="$1" to="$2" conf="$3" unit help
  case "$unitdir" in /*) unit="$stage$unitdir/pgtqd@.service" ;; *) unit="$stage$to/$unitdir/pgtqd@.service" ;; esac
  check_file "$unit"
  grep -q "^ExecStart=$to/$sbindir/pgtqd --queue %i --config $conf/%i.conf\$" "$unit" 2>/dev/null ||
    fail "$to: pgtqd@.service: ExecStart is not $to/$sbindir/pgtqd --queue %i --config $conf/%i.conf" \
         "but: $(grep '^ExecStart=' "$unit")"
  check_file "$stage$to/$docdir/example.conf"
  check_file "$stage$conf/example.conf.sample"
  [ ! -e "$stage$conf/example.conf" ] ||
    fail "example.conf in the config dir: pgtqd@example would read it as its config"
  grep -q "^#plugin-dir = \"$to/$plugindir\"\$" "$stage$conf/example.conf.sample" 2>/dev/null ||
    fail "$to: example.conf: plugin-dir is not $to/$plugindir"
  if [ "$has_pgtqd" = 1 ]; then
    # Run from where it was installed: its default follows its own location.
    help="$("$stage$to/$sbindir/pgtqd" --help)" || fail "$to: pgtqd --help failed"
    grep -q -- "--plugin-dir TEXT=$stage$to/$plugindir\$" <<<"$help" ||
      fail "$to: pgtqd --help: default plugin dir is not $stage$to/$plugindir but" \
           "$(grep -A0 -- '--plugin-dir ' <<<"$help")"
  fi
}
# /opt/pgtq: etc is /etc/opt/pgtq (GNUInstallDirs), wherever it was configured to go.
check_paths "$root" /opt/pgtq /etc/opt/pgtq/pgtq
grep -q '^u pgtq ' "$(at "$sysusersdir")/pgtq.conf" 2>/dev/null ||
  fail "sysusers file does not create user pgtq"

# 2. Installed plugins (the examples, once they exist).
shopt -s nullglob
installed_plugins=("$prefix/$plugindir"/*.so)
echo "installed plugins: ${#installed_plugins[@]}"
for plugin in "${installed_plugins[@]}"; do
  [ "$(stat -c %a "$plugin")" = 644 ] ||
    fail "${plugin#"$tmp"/} has mode $(stat -c %a "$plugin"), expected 644"
  exports_only_entry "$plugin"
done
shopt -u nullglob

# 3. A third-party project against the installed tree only.
tp_build="$tmp/thirdparty-build"
tp_prefix="$tmp/thirdparty-install"
if "$cmake" -S "$fixture_dir" -B "$tp_build" -G "$generator" \
     -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_INSTALL_PREFIX="$tp_prefix" \
     -DCMAKE_C_COMPILER="$c_compiler" -DCMAKE_CXX_COMPILER="$cxx_compiler" \
     -DCMAKE_BUILD_TYPE=Release >"$tmp/tp-configure.log" 2>&1 &&
   "$cmake" --build "$tp_build" >"$tmp/tp-build.log" 2>&1 &&
   "$cmake" --install "$tp_build" >"$tmp/tp-install.log" 2>&1; then
  grep -q "pgtq found: $prefix/" "$tmp/tp-configure.log" ||
    fail "the fixture did not find pgtq in the test prefix"
  expected=(hello)
  [ -f "$source_dir/plugin-api/include/pgtq/plugin.hpp" ] && expected+=(greet)
  for name in "${expected[@]}"; do
    # Into the plugin directory of the pgtq it found, not under its own prefix.
    plugin="$prefix/$plugindir/$name.so"
    if [ ! -f "$plugin" ]; then
      fail "pgtq_add_plugin($name ... INSTALL) did not install $name.so to $plugindir of the" \
           "pgtq it found: $(find "$tmp" -name "$name.so" | tr '\n' ' ')"
      continue
    fi
    [ "$(stat -c %a "$plugin")" = 644 ] ||
      fail "installed $name.so has mode $(stat -c %a "$plugin"), expected 644"
    exports_only_entry "$plugin"
    "$tp_build/probe" "$plugin" "$name" || fail "$name.so did not pass the handshake"
  done
else
  cat "$tmp"/tp-*.log >&2
  fail "the third-party plugin project did not configure, build or install"
fi

# 4. pkg-config.
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
for pc in pgtq pgtq-plugin; do
  if cflags="$(pkg-config --cflags "$pc")"; then
    echo "pkg-config --cflags $pc: $cflags"
    # shellcheck disable=SC2086 # word splitting of the flags is intended
    echo '#include <pgtq/plugin.h>' | "$c_compiler" $cflags -fsyntax-only -x c - ||
      fail "pkg-config --cflags $pc does not find <pgtq/plugin.h>"
  else
    fail "pkg-config does not find $pc"
  fi
done
# The C++ headers, when they exist: each through the .pc file meant for it.
compile_cxx() { # PC HEADER
  [ -f "$prefix/$includedir/$2" ] || return 0
  # shellcheck disable=SC2046 # word splitting of the flags is intended
  echo "#include <$2>" |
    "$cxx_compiler" -std=c++20 $(pkg-config --cflags "$1") -fsyntax-only -x c++ - ||
    fail "<$2> does not compile with pkg-config --cflags $1"
}
compile_cxx pgtq-plugin pgtq/plugin.hpp
compile_cxx pgtq pgtq/client.hpp
pc_plugindir="$(pkg-config --variable=plugindir pgtq-plugin)"
[ "$(realpath -m "$pc_plugindir")" = "$(realpath -m "$prefix/$plugindir")" ] ||
  fail "pgtq-plugin.pc plugindir is $pc_plugindir, expected $prefix/$plugindir"
pkg-config --print-requires pgtq | grep -q '^libpq' || fail "pgtq.pc does not require libpq"

# 5. A second install, to another prefix and without DESTDIR.
second="$tmp/second"
"$cmake" --install "$build_dir" --prefix "$second" >"$tmp/install-second.log" ||
  { cat "$tmp/install-second.log"; fail "cmake --install --prefix $second failed"; }
check_paths "" "$second" "$second/etc/pgtq"
second_pc="$(PKG_CONFIG_PATH="$second/$libdir/pkgconfig" pkg-config --variable=plugindir pgtq-plugin)"
[ "$(realpath -m "$second_pc")" = "$second/$plugindir" ] ||
  fail "$second: pgtq-plugin.pc plugindir is $second_pc"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "PASS"
