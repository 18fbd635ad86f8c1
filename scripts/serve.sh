#!/usr/bin/env bash
# Run the service on the embedded default: SQLite, a write-once folder and a local TEST PKI,
# all in ./var, serving on 127.0.0.1:8080 (HOST / PORT override).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/venv.sh
ensure_venv ""
archive-service init
exec archive-service serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8080}"
