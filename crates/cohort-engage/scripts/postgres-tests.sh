#!/usr/bin/env bash
# Runs the engage PostgreSQL case on a throwaway PostgreSQL server.
#
# Needs the PostgreSQL server binaries (Debian: `apt-get install -y postgresql`).
# The server runs as a non-root user on a loopback port in a temp dir and is
# stopped on exit. Extra arguments go to `cargo test`.
set -euo pipefail

PORT="${COHORT_PG_PORT:-55433}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$BIN/initdb" ] || { echo "postgresql server binaries not found (apt-get install -y postgresql)" >&2; exit 1; }

DIR="$(mktemp -d /tmp/cohort-pg.XXXXXX)"
RUN_AS=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$DIR"
  RUN_AS=(runuser -u postgres --)
fi
cleanup() {
  "${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT

"${RUN_AS[@]}" "$BIN/initdb" -D "$DIR/data" -A trust -U cohort >/dev/null
"${RUN_AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null

export COHORT_TEST_POSTGRES_URL="postgres://cohort@127.0.0.1:$PORT/postgres"
cd "$(dirname "$0")/../../.."
cargo test --release -p cohort-engage --test engage "$@" postgres -- --nocapture
