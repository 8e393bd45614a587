#!/bin/bash
# deb_test.sh [BUILD_DIR]
# The Debian packages, installed for real on this machine (root; run by .ci/run on a fresh
# machine, never by ctest, as it changes the system):
#  1. builds them: cmake with prefix /usr into BUILD_DIR (default build-deb), cpack -G DEB;
#  2. dpkg -i pgtqd, pgtq-dev and pgtq-examples (apt-get satisfies their dependencies);
#  3. checks the installed files, the pgtq system user, the unit and /etc/pgtq, and runs the
#     installed binaries;
#  4. systemd-analyze security of the installed unit: exposure at most 1.1;
#  5. builds a third-party plugin and an enqueueing program against the installed pgtq-dev
#     only, with the README's CMake (find_package(pgtq), pgtq_add_plugin()), and dlopen()s
#     the plugin through the ABI handshake;
#  6. dpkg --purge: no file of the packages is left, nor /etc/pgtq, nor the plugin directory. The
#     pgtq user stays, as Debian's policy asks of system users (files it owned elsewhere would
#     otherwise pass to a reused uid).
# Refuses to run where pgtq packages are installed already: it would replace them.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/common.sh

build_dir="${1:-$PGTQ_ROOT/build-deb}"
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deb_test.sh installs packages: run it as root" >&2; exit 1; }
  exec sudo "$0" "$@"
fi
for pkg in pgtqd pgtq-dev pgtq-examples; do
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
    echo "$pkg is installed on this machine; deb_test.sh would replace it" >&2
    exit 1
  fi
done
ensure_packages "${PGTQ_BUILD_PACKAGES[@]}"

failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
tmp="$(mktemp -d)"
purge() { dpkg --purge pgtq-examples pgtq-dev pgtqd >/dev/null 2>&1 || true; }
trap 'purge; rm -rf "$tmp"' EXIT

# 1. Build.
say "building the Debian packages in $build_dir"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DBUILD_TESTING=OFF >/dev/null
cmake --build "$build_dir" -j"$(nproc)" -- --no-print-directory >/dev/null
(cd "$build_dir" && cpack -G DEB -B "$tmp/debs" >"$tmp/cpack.log") ||
  { cat "$tmp/cpack.log"; exit 1; }
debs=("$tmp"/debs/pgtqd_*.deb "$tmp"/debs/pgtq-dev_*.deb "$tmp"/debs/pgtq-examples_*.deb)
for deb in "${debs[@]}"; do
  [ -f "$deb" ] || { echo "cpack made no ${deb##*/}: $(ls "$tmp/debs")" >&2; exit 1; }
done

# 2. Install, as an operator would.
say "installing ${debs[*]##*/}"
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${debs[@]}" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; fail "apt-get install of the packages failed"; exit 1; }

# 3. What they installed.
say "checking the installed packages"
for path in /usr/sbin/pgtqd /usr/bin/pgtqctl; do
  [ -x "$path" ] || fail "$path is missing or not executable"
done
for path in /usr/lib/systemd/system/pgtqd@.service /usr/lib/sysusers.d/pgtq.conf \
            /usr/share/pgtq/sql/0001_init.sql /usr/include/pgtq/plugin.h \
            /usr/include/pgtq/plugin.hpp /usr/include/pgtq/client.hpp \
            /usr/share/bash-completion/completions/pgtqctl \
            /usr/share/doc/pgtq/examples/pgtq-alerts.yml \
            /etc/pgtq/example.conf.sample; do
  # Merged /usr: /lib/systemd and /usr/lib/systemd are one directory.
  [ -f "$path" ] || [ -f "${path#/usr}" ] || fail "$path is missing"
done
unit="$(dpkg -L pgtqd | grep 'pgtqd@.service$' | head -1 || true)"
[ -n "$unit" ] || fail "pgtqd does not own the unit"
getent passwd pgtq >/dev/null || fail "no pgtq system user after the install"
pgtq_uid="$(id -u pgtq 2>/dev/null || echo 0)"
[ "$pgtq_uid" -gt 0 ] && [ "$pgtq_uid" -lt 1000 ] || fail "pgtq is not a system user (uid $pgtq_uid)"
[ -d /etc/pgtq ] || fail "no /etc/pgtq"
grep -q '^ExecStart=/usr/sbin/pgtqd ' "$unit" ||
  fail "the unit does not start /usr/sbin/pgtqd"
version="$(/usr/bin/pgtqctl --version)"
grep -q '^pgtqctl ' <<<"$version" || fail "pgtqctl --version: $version"
# The example plugins, where pgtqd looks by default (found from its own location).
echo_so="$(dpkg -L pgtq-examples | grep '/pgtq/plugins/echo\.so$' || true)"
if [ -z "$echo_so" ] || [ ! -f "$echo_so" ]; then
  fail "pgtq-examples installed no echo.so"
else
  # Captured first: grep -q ends the pipe early, and pipefail would count that as a failure.
  help="$(/usr/sbin/pgtqd --help)"
  grep -qF "$(dirname "$echo_so")" <<<"$help" ||
    fail "pgtqd --help does not name $(dirname "$echo_so") as its plugin directory"
fi
status="$(dpkg -s pgtqd)"
grep -q '^Depends:.*libmicrohttpd' <<<"$status" || fail "pgtqd does not depend on libmicrohttpd"

# 4. The installed unit's hardening.
cp "$unit" "$tmp/pgtqd@example.service"
security="$(systemd-analyze security --offline=yes "$tmp/pgtqd@example.service" 2>&1)" || true
score="$(grep -o 'Overall exposure level for [^:]*: [0-9.]*' <<<"$security" | grep -o '[0-9.]*$' || true)"
echo "systemd-analyze security of the installed unit: exposure ${score:-unknown}"
if [ -z "$score" ] || awk -v s="$score" 'BEGIN { exit !(s > 1.1) }'; then
  printf '%s\n' "$security" >&2
  fail "exposure ${score:-unknown} above 1.1"
fi

# 5. A third-party project against the installed pgtq-dev only.
say "building a third-party plugin against the installed pgtq-dev"
if cmake -S packaging/tests/thirdparty_plugin -B "$tmp/thirdparty" \
     -DCMAKE_BUILD_TYPE=Release >"$tmp/tp.log" 2>&1 &&
   cmake --build "$tmp/thirdparty" >>"$tmp/tp.log" 2>&1; then
  grep -q 'pgtq found: /usr/lib/.*cmake/pgtq' "$tmp/tp.log" ||
    fail "find_package(pgtq) did not find the installed package: $(grep 'pgtq found' "$tmp/tp.log")"
  for name in hello greet; do
    "$tmp/thirdparty/probe" "$tmp/thirdparty/$name.so" "$name" ||
      fail "$name.so built against pgtq-dev did not pass the handshake"
  done
  [ -x "$tmp/thirdparty/enqueue" ] || fail "the enqueueing program did not link pgtq::client"
else
  cat "$tmp/tp.log" >&2
  fail "the third-party project did not configure or build against pgtq-dev"
fi

# 6. Purge: nothing of the packages is left.
say "purging the packages"
mapfile -t owned < <(dpkg -L pgtqd pgtq-dev pgtq-examples | sort -u)
dpkg --purge pgtq-examples pgtq-dev pgtqd >"$tmp/purge.log" 2>&1 ||
  { cat "$tmp/purge.log"; fail "dpkg --purge failed"; }
for path in "${owned[@]}"; do
  # Directories the packages share with the system (/usr, /etc, ...) stay, as they should.
  if [ -f "$path" ] || [ -L "$path" ]; then
    fail "$path is left after the purge"
  fi
done
for dir in /etc/pgtq "$(dirname "$(dirname "${echo_so:-/usr/lib/pgtq/plugins/x}")")" \
           /usr/share/pgtq /usr/include/pgtq /usr/share/doc/pgtq; do
  [ ! -e "$dir" ] || fail "$dir is left after the purge: $(find "$dir" | head -5 | tr '\n' ' ')"
done

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
say "the Debian packages install, work and purge cleanly"
