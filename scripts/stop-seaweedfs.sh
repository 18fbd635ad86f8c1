#!/usr/bin/env bash
# Stop a server started by scripts/start-seaweedfs.sh (and its S3 forwarder) and delete its folder.
# Usage: scripts/stop-seaweedfs.sh DIR [--keep]   (--keep leaves the folder, e.g. to read the log)
set -euo pipefail
DIR="${1:?usage: stop-seaweedfs.sh DIR [--keep]}"
[ -f "$DIR/weed.pid" ] || { echo "no SeaweedFS server was started in $DIR" >&2; exit 1; }
DIR="$(cd "$DIR" && pwd)"

# Only signal a process that still is this folder's (the pid may have been reused).
stop() {  # PIDFILE MARKER
  local pid
  [ -f "$1" ] || return 0
  pid="$(cat "$1")"
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.25
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$1"
}
stop "$DIR/forward.pid" "tcp_forward.py"
stop "$DIR/weed.pid" "-dir=$DIR/data"
[ "${2:-}" = "--keep" ] || rm -rf "$DIR"
