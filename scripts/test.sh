#!/usr/bin/env bash
# Run the whole test suite, installing what it needs first. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/venv.sh
ensure_venv "test"
echo "== ruff" >&2
ruff check archive_service tests scripts
echo "== mypy" >&2
mypy archive_service scripts
# Real tools the tests use, each installed once into a cache folder (or from Debian) by its
# script, which prints the path to export. Outside CI a machine that cannot install one still
# runs the rest of the suite (those tests then skip, saying why); under CI a failure fails the run.
#   VERAPDF        veraPDF proves the PDF/A claims (tests/pdfa)
#   DSS_VALIDATOR  EU DSS gives the reference verdict on our signatures (tests/signing, `dss`)
#   ETSI_XSD_DIR   the official ETSI TS 119 102-2 report schema and its imports (tests/etsi_schema.py)
#   MINIO_BINARY   MinIO built from source (pinned) for the S3 contract and attack tests
#   FAKETIME       libfaketime, to run the real CLI and server under a shifted clock
install_tool() {
  local variable="$1" script="$2" what="$3" found
  [ -n "${!variable:-}" ] && return 0
  if found="$(bash "scripts/$script")"; then
    export "$variable=$found"
  elif [ -n "${CI:-}" ]; then
    exit 1
  else
    echo "== $what could not be installed; the tests that need it will be skipped" >&2
  fi
}
install_tool VERAPDF install-verapdf.sh "veraPDF"
install_tool DSS_VALIDATOR install-dss.sh "the EU DSS validator"
install_tool ETSI_XSD_DIR install-etsi-xsd.sh "the ETSI report schemas"
install_tool MINIO_BINARY install-minio.sh "MinIO"
install_tool FAKETIME install-faketime.sh "libfaketime"
echo "== pytest (SQLite)" >&2
sqlite_status=0
env -u ARCHIVE_DATABASE_URL python -m pytest "$@" || sqlite_status=$?
if [ "$sqlite_status" != 0 ] || [ -z "${CI:-}${ARCHIVE_TEST_POSTGRES:-}" ]; then
  exit "$sqlite_status"
fi

# CI runs the suite a second time on a throw-away PostgreSQL cluster; each test gets its own
# database (tests/conftest.py). tests/pdfa, tests/render and tests/journal never touch the
# database, so they are not repeated.
pg_dir="$(mktemp -d "${TMPDIR:-/tmp}/journal-archive-pg.XXXXXX")"
trap 'bash scripts/stop-postgres.sh "$pg_dir" >/dev/null 2>&1 || rm -rf "$pg_dir"' EXIT
postgres_url="$(bash scripts/start-postgres.sh "$pg_dir")"
echo "== pytest (PostgreSQL)" >&2
ARCHIVE_DATABASE_URL="$postgres_url" python -m pytest \
  --ignore=tests/pdfa --ignore=tests/render --ignore=tests/journal "$@"
