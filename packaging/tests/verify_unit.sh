#!/bin/bash
# verify_unit.sh SYSTEMD_ANALYZE UNIT INSTALLED_PGTQD STANDIN
# Runs "systemd-analyze verify" on the configured pgtqd@.service. The installed pgtqd does
# not exist on a build machine and verify checks ExecStart, so a copy names STANDIN (any
# built executable) instead. Fails on any diagnostic, not only on a non-zero status:
# verify reports unknown keys and bad values as warnings and still exits 0.
set -euo pipefail
analyze="$1" unit="$2" pgtqd="$3" standin="$4"

if [ -z "$analyze" ] || [ ! -x "$analyze" ]; then
  echo "FAIL: systemd-analyze not found; install the Debian package 'systemd' and" \
       "re-run cmake (it is needed to check packaging/systemd/pgtqd@.service)" >&2
  exit 1
fi
grep -q "^ExecStart=$pgtqd " "$unit" ||
  { echo "FAIL: $unit: ExecStart is not $pgtqd" >&2; exit 1; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# An instance name, as systemd would load it for "systemctl start pgtqd@example".
sed "s|^ExecStart=$pgtqd |ExecStart=$standin |" "$unit" >"$tmp/pgtqd@example.service"

status=0
output="$("$analyze" verify "$tmp/pgtqd@example.service" 2>&1)" || status=$?
echo "systemd-analyze verify: status $status"
[ -z "$output" ] || printf '%s\n' "$output"
if [ "$status" -ne 0 ] || [ -n "$output" ]; then
  echo "FAIL: the unit does not verify cleanly" >&2
  exit 1
fi

# The hardening is part of the unit's contract: keep the exposure score low. Offline mode
# reads only the file, so this works in containers without a running systemd.
security="$("$analyze" security --offline=yes "$tmp/pgtqd@example.service" 2>&1)" || true
score_line="$(grep 'Overall exposure level' <<<"$security" || true)"
echo "systemd-analyze security: ${score_line:-no score}"
score="$(sed -n 's/.*: \([0-9.]*\) .*/\1/p' <<<"$score_line")"
if [ -z "$score" ] || ! awk -v s="$score" 'BEGIN { exit !(s <= 1.1) }'; then
  printf '%s\n' "$security"
  echo "FAIL: exposure score '${score}' above 1.1; was a hardening setting dropped?" >&2
  exit 1
fi
echo "PASS"
