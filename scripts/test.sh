#!/usr/bin/env bash
# Run the whole test suite, installing what it needs first. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/venv.sh
ensure_venv "test"
echo "== ruff" >&2
ruff check archive_service tests scripts
# veraPDF proves the PDF/A claims (tests/pdfa); installed once into a cache folder. Outside CI a
# machine without Java/Maven still runs the rest of the suite (those tests then skip, saying why).
if [ -z "${VERAPDF:-}" ]; then
  if VERAPDF="$(bash scripts/install-verapdf.sh)"; then
    export VERAPDF
  elif [ -n "${CI:-}" ]; then
    exit 1
  else
    echo "== veraPDF could not be installed; the PDF/A conformance tests will be skipped" >&2
  fi
fi
echo "== pytest" >&2
exec python -m pytest "$@"
