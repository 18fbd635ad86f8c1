#!/usr/bin/env bash
# Start a throw-away PostgreSQL cluster on 127.0.0.1 and print its SQLAlchemy URL on stdout.
# Usage: scripts/start-postgres.sh [DIR] [PORT]
#   DIR   cluster folder (default: a new temp folder); stop with scripts/stop-postgres.sh DIR
#   PORT  TCP port (default: a free one)
# Installs the Debian `postgresql` package when no server binaries are found. The cluster trusts
# local connections and runs without fsync: it is for tests only, never for data worth keeping.
set -euo pipefail
. "$(dirname "$0")/lib/debian.sh"

find_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null && command -v pg_ctl >/dev/null \
    && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

if ! BINDIR="$(find_bindir)"; then
  apt_install PostgreSQL postgresql
  BINDIR="$(find_bindir)" || { echo "PostgreSQL server binaries not found after install" >&2; exit 1; }
fi

DIR="${1:-$(mktemp -d "${TMPDIR:-/tmp}/journal-archive-pg.XXXXXX")}"
PORT="${2:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
DB="journal_archive"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"

# PostgreSQL refuses to run as root: run it as the `postgres` user the Debian package creates.
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  chown postgres "$DIR"
  chmod 700 "$DIR"
fi
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
USER_NAME="$(as_owner id -un)"

if [ ! -f "$DIR/data/PG_VERSION" ]; then
  as_owner "$BINDIR/initdb" -D "$DIR/data" -U "$USER_NAME" --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
fi
as_owner "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start -o \
  "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$DIR \
   -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  >&2 || { cat "$DIR/server.log" >&2; exit 1; }
echo "$PORT" >"$DIR/port"

for _ in $(seq 1 60); do  # bounded readiness wait
  pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$PORT" >&2 || { cat "$DIR/server.log" >&2; exit 1; }

if ! psql -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -tAc \
  "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
  psql -q -h 127.0.0.1 -p "$PORT" -U "$USER_NAME" -d postgres -c "CREATE DATABASE $DB" >&2
fi
echo "== PostgreSQL running in $DIR (stop: bash scripts/stop-postgres.sh $DIR)" >&2
echo "postgresql+psycopg://$USER_NAME@127.0.0.1:$PORT/$DB"
