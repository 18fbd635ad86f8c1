#!/usr/bin/env bash
# Install libfaketime's `faketime` command (Debian package `faketime`) when it is missing, and
# print its path on stdout (progress on stderr). The time-line tests run the real CLI and server
# under a shifted clock with it: `faketime -f +2d archive-service verify ID`.
set -euo pipefail

if ! command -v faketime >/dev/null 2>&1; then
  echo "== installing libfaketime (faketime) from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q faketime >&2; then
    apt-get update -q >&2
    apt-get install -y -q faketime >&2
  fi
fi
path="$(command -v faketime)" || { echo "install-faketime: faketime not found after install" >&2; exit 1; }
# A shifted clock must really be shifted: a broken preload would silently test "now".
shifted="$("$path" -f +3650d date -u +%Y)"
if [ "$shifted" -lt "$(( $(date -u +%Y) + 9 ))" ]; then
  echo "install-faketime: faketime does not shift the clock (got year $shifted)" >&2
  exit 1
fi
echo "$path"
