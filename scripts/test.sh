#!/usr/bin/env bash
# Runs every pgtq test: installs what is missing (apt-get), builds, starts a private
# PostgreSQL 15 in a temporary directory, runs the unit and integration tests with ctest,
# and stops the server. Extra arguments go to ctest (e.g. -L unit, -R push).
# Environment: PGTQ_BUILD_DIR (default build), PGTQ_SANITIZE (e.g. "address;undefined").
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

build_dir="${PGTQ_BUILD_DIR:-$PGTQ_ROOT/build}"
ensure_packages "${PGTQ_BUILD_PACKAGES[@]}" "${PGTQ_SERVER_PACKAGES[@]}" "${PGTQ_TEST_PACKAGES[@]}"
build_pgtq "$build_dir" -DPGTQ_WARNINGS_AS_ERRORS=ON "-DPGTQ_SANITIZE=${PGTQ_SANITIZE:-}"

# Durability settings off: these tests check behaviour, not crash safety of the server.
start_private_postgres fsync=off synchronous_commit=off full_page_writes=off
export PGTQ_TEST_DSN="$PGTQ_PG_DSN"

say "running the tests"
ctest --test-dir "$build_dir" --output-on-failure -j"$(nproc)" "$@"
