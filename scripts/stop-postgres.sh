#!/usr/bin/env bash
# Stop a cluster started by scripts/start-postgres.sh and delete its folder.
# Usage: scripts/stop-postgres.sh DIR [--keep]   (--keep leaves the folder, e.g. to read the log)
set -euo pipefail
DIR="${1:?usage: stop-postgres.sh DIR [--keep]}"
[ -f "$DIR/data/PG_VERSION" ] || { echo "no PostgreSQL cluster in $DIR" >&2; exit 1; }
BINDIR="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r | head -n1)"
PG_CTL="${BINDIR:+$BINDIR/}pg_ctl"
if [ "$(id -u)" = 0 ]; then
  runuser -u "$(stat -c %U "$DIR/data")" -- "$PG_CTL" -D "$DIR/data" -m fast -w stop >&2 || true
else
  "$PG_CTL" -D "$DIR/data" -m fast -w stop >&2 || true
fi
[ "${2:-}" = "--keep" ] || rm -rf "$DIR"
