#!/usr/bin/env bash
# Run the whole test suite, installing what it needs first. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/venv.sh
ensure_venv "test"
echo "== ruff" >&2
ruff check archive_service tests scripts
echo "== pytest" >&2
exec python -m pytest "$@"
