#!/usr/bin/env bash
# Install libfaketime's `faketime` command (Debian package `faketime`) when it is missing, and
# print its path on stdout (progress on stderr). The time-line tests run the real CLI and server
# under a shifted clock with it: `faketime -f +2d archive-service verify ID`.
set -euo pipefail
. "$(dirname "$0")/lib/debian.sh"

if ! command -v faketime >/dev/null 2>&1; then
  apt_install "libfaketime (faketime)" faketime
fi
path="$(command -v faketime)" || { echo "install-faketime: faketime not found after install" >&2; exit 1; }
# A shifted clock must really be shifted: a broken preload would silently test "now".
shifted="$("$path" -f +3650d date -u +%Y)"
if [ "$shifted" -lt "$(( $(date -u +%Y) + 9 ))" ]; then
  echo "install-faketime: faketime does not shift the clock (got year $shifted)" >&2
  exit 1
fi
echo "$path"
