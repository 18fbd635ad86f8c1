#!/usr/bin/env bash
# Stop a server started by scripts/start-minio.sh and delete its folder.
# Usage: scripts/stop-minio.sh DIR [--keep]   (--keep leaves the folder, e.g. to read the log)
set -euo pipefail
DIR="${1:?usage: stop-minio.sh DIR [--keep]}"
[ -f "$DIR/minio.pid" ] || { echo "no MinIO server was started in $DIR" >&2; exit 1; }
DIR="$(cd "$DIR" && pwd)"
pid="$(cat "$DIR/minio.pid")"
# Only signal the process if it still is this folder's server (the pid may have been reused).
if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "server $DIR/data"; then
  kill "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
fi
rm -f "$DIR/minio.pid"
[ "${2:-}" = "--keep" ] || rm -rf "$DIR"
