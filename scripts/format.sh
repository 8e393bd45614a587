#!/usr/bin/env bash
# Formats every C and C++ file git tracks with clang-format (.clang-format: the house style).
#   scripts/format.sh           rewrites the files in place
#   scripts/format.sh --check   changes nothing; lists the files that differ and fails if any
# Debian 12's clang-format (14) is the reference: another version may break lines otherwise.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
ensure_packages clang-format

cd "$PGTQ_ROOT"
mapfile -t files < <(git ls-files -- '*.c' '*.h' '*.cpp' '*.hpp' '*.hpp.in')
if [ "${1:-}" = "--check" ]; then
  unformatted=()
  for file in "${files[@]}"; do
    clang-format --dry-run --Werror "$file" >/dev/null 2>&1 || unformatted+=("$file")
  done
  if [ "${#unformatted[@]}" -gt 0 ]; then
    printf 'not formatted (run scripts/format.sh): %s\n' "${unformatted[@]}" >&2
    exit 1
  fi
  say "all ${#files[@]} C and C++ files are formatted"
else
  clang-format -i "${files[@]}"
  say "formatted ${#files[@]} C and C++ files"
fi
