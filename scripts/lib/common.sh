# Shared by scripts/*.sh: installing what pgtq needs, building it, and running a private
# PostgreSQL 15 server in a temporary directory. Source it; it defines functions only.

PGTQ_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PGTQ_PG_BIN="${PGTQ_PG_BIN:-/usr/lib/postgresql/15/bin}"
PGTQ_BUILD_PACKAGES=(g++ cmake make pkg-config libpq-dev rapidjson-dev libspdlog-dev
                     libcli11-dev libsystemd-dev libmicrohttpd-dev doctest-dev systemd)
PGTQ_SERVER_PACKAGES=(postgresql-15 postgresql-client-15)
# Only the tests: a transaction-mode pooler in front of the test server; promtool (in the
# prometheus package) to check the metrics page and the example alert rules; chromium, node
# and npm for the dashboard's browser test (tests/browser: npm ci installs playwright-core).
PGTQ_TEST_PACKAGES=(pgbouncer prometheus chromium nodejs)
# Debian's nodejs comes without npm (a package of its own); NodeSource's has it built in and
# conflicts with Debian's npm.
command -v npm >/dev/null || PGTQ_TEST_PACKAGES+=(npm)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs the Debian packages that are missing (apt-get; as root, or through sudo).
ensure_packages() {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; return 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null ||
    { "${sudo[@]}" apt-get update -q >/dev/null && "${sudo[@]}" apt-get install -y -q "${missing[@]}" >/dev/null; }
}

# build_pgtq BUILD_DIR [cmake options...]: configure (once) and build with every core.
build_pgtq() {
  local dir="$1"; shift
  say "building pgtq in $dir"
  cmake -S "$PGTQ_ROOT" -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)" -- --no-print-directory >/dev/null ||
    cmake --build "$dir" -j1   # again, to show the error plainly
}

# The server refuses to run as root; then it runs as the "postgres" user.
pg_run() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# start_private_postgres [extra postgres -c settings...]
# Starts a throwaway cluster listening only on a Unix socket in a new temporary directory,
# stops it (and removes the directory) when the calling shell exits, and exports
#   PGTQ_PG_DIR   the directory;  PGTQ_PG_DATA  its data directory
#   PGTQ_PG_DSN   a conninfo for it (database "postgres", user "postgres")
start_private_postgres() {
  PGTQ_PG_DIR="$(mktemp -d /tmp/pgtq-pg.XXXXXX)"
  PGTQ_PG_DATA="$PGTQ_PG_DIR/data"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$PGTQ_PG_DIR"
  chmod 755 "$PGTQ_PG_DIR"
  export PGTQ_PG_DIR PGTQ_PG_DATA
  trap stop_private_postgres EXIT
  say "starting a private PostgreSQL in $PGTQ_PG_DIR"
  pg_run "$PGTQ_PG_BIN/initdb" -D "$PGTQ_PG_DATA" -U postgres -A trust -E UTF8 --locale=C \
    >"$PGTQ_PG_DIR/initdb.log" 2>&1 || { cat "$PGTQ_PG_DIR/initdb.log" >&2; return 1; }
  local options="-c listen_addresses='' -c unix_socket_directories=$PGTQ_PG_DIR -c port=5432"
  options+=" -c max_connections=300 -c shared_buffers=256MB"
  local setting
  for setting in "$@"; do options+=" -c $setting"; done
  pg_run "$PGTQ_PG_BIN/pg_ctl" -D "$PGTQ_PG_DATA" -o "$options" -l "$PGTQ_PG_DIR/server.log" \
    -w -t 60 start >/dev/null || { cat "$PGTQ_PG_DIR/server.log" >&2; return 1; }
  export PGTQ_PG_DSN="host=$PGTQ_PG_DIR port=5432 user=postgres dbname=postgres"
}

stop_private_postgres() {
  [ -n "${PGTQ_PG_DATA:-}" ] && [ -d "$PGTQ_PG_DATA" ] || return 0
  pg_run "$PGTQ_PG_BIN/pg_ctl" -D "$PGTQ_PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PGTQ_PG_DIR"
}
