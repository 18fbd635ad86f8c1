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
# EU DSS gives the reference verdict on our PAdES signatures (tests/signing, the `dss` fixture);
# built once from scripts/dss-validator into a cache folder. Same rules as veraPDF.
if [ -z "${DSS_VALIDATOR:-}" ]; then
  if DSS_VALIDATOR="$(bash scripts/install-dss.sh)"; then
    export DSS_VALIDATOR
  elif [ -n "${CI:-}" ]; then
    exit 1
  else
    echo "== the DSS validator could not be built; the DSS verdict tests will be skipped" >&2
  fi
fi
# The ETSI TS 119 102-2 report schema (and its imports) from the DSS specs jars on Maven Central,
# unpacked once into a cache folder; tests/etsi_schema.py validates the XML reports against it.
if [ -z "${ETSI_XSD_DIR:-}" ]; then
  if ETSI_XSD_DIR="$(bash scripts/install-etsi-xsd.sh)"; then
    export ETSI_XSD_DIR
  elif [ -n "${CI:-}" ]; then
    exit 1
  else
    echo "== the ETSI schemas could not be fetched; the report schema tests will be skipped" >&2
  fi
fi
# The S3 contract and attack tests run against a MinIO server built from source (pinned) once
# into a cache folder; tests/storage/minio.py starts it. Under CI a failed build fails the run.
if [ -z "${MINIO_BINARY:-}" ]; then
  if MINIO_BINARY="$(bash scripts/install-minio.sh)"; then
    export MINIO_BINARY
  elif [ -n "${CI:-}" ]; then
    exit 1
  else
    echo "== MinIO could not be built; its storage tests will be skipped" >&2
  fi
fi
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
