#!/usr/bin/env bash
# Prove the README's first command on a fresh clone: `git clone` this checkout into a temp folder,
# run ./scripts/serve.sh there with no virtualenv active (so it creates .venv and installs the
# package WITHOUT extras) on a free loopback port, then upload the example journal as an archivist
# and download the signed PDF. Also imports every module of the installed package. Fails (non-zero,
# with the server's log) on any problem; needs only git, curl and Python >= 3.11, no test extras.
# CI runs it from .ci/run. The clone is of the committed HEAD: uncommitted changes are not tested.
# Environment: SMOKE_TIMEOUT  seconds to wait for install + start (default 900)
#              SMOKE_KEEP=1   keep the temp folder (clone, .venv, var, server.log) for a look
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
example="schemas/examples/journal-7b.json"
timeout="${SMOKE_TIMEOUT:-900}"
start=$SECONDS

say() { echo "smoke: [$((SECONDS - start))s] $*" >&2; }
for tool in git curl python3; do
  command -v "$tool" >/dev/null || { echo "smoke: '$tool' is not on PATH" >&2; exit 1; }
done

# The embedded default, as a newcomer gets it: no virtualenv and no ARCHIVE_* configuration.
unset VIRTUAL_ENV PYTHONPATH PYTHONHOME
while read -r name; do unset "$name"; done < <(compgen -e | grep '^ARCHIVE_' || true)

work="$(mktemp -d "${TMPDIR:-/tmp}/journal-archive-smoke.XXXXXX")"
clone="$work/journal-archive"
log="$work/server.log"
server_pid=""
ok=""

stop_server() {
  [ -n "$server_pid" ] || return 0
  # serve.sh runs in its own session (setsid), so the group holds pip or gunicorn and its workers.
  kill -TERM -- "-$server_pid" 2>/dev/null || kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.5
  done
  kill -KILL -- "-$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

cleanup() {
  local status=$?
  stop_server
  if [ -z "$ok" ]; then
    echo "smoke: FAILED (exit $status) after $((SECONDS - start))s; server log ($log):" >&2
    if [ -f "$log" ]; then tail -n 80 "$log" | sed 's/^/  | /' >&2; else echo "  (none)" >&2; fi
    [ "$status" != 0 ] || status=1
  fi
  if [ -n "${SMOKE_KEEP:-}" ]; then
    echo "smoke: kept $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "smoke: $*" >&2; exit 1; }

if [ -n "$(git -C "$here" status --porcelain --untracked-files=no)" ]; then
  say "note: uncommitted changes in $here are not part of the clone"
fi
git clone --quiet "$here" "$clone"
say "cloned $(git -C "$clone" rev-parse --short HEAD) into $clone"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cd "$clone"
say "running ./scripts/serve.sh on 127.0.0.1:$port (creates .venv, installs, init, serve)"
PORT="$port" HOST=127.0.0.1 setsid ./scripts/serve.sh >"$log" 2>&1 </dev/null &
server_pid=$!

base="http://127.0.0.1:$port"
while ! curl -fs -o /dev/null --max-time 5 "$base/healthz"; do
  kill -0 "$server_pid" 2>/dev/null || fail "serve.sh exited before /healthz answered"
  [ $((SECONDS - start)) -lt "$timeout" ] || fail "/healthz did not answer within ${timeout}s"
  sleep 1
done
say "/healthz answers: $(curl -fs --max-time 5 "$base/healthz")"
[ -f var/archive.sqlite3 ] || fail "the server did not put its database in the clone's ./var"

edrpou="$(.venv/bin/python -c 'import json, sys; print(json.load(open(sys.argv[1]))["institution"]["edrpou"])' "$example")"
# Run from the clone's folder: with no ARCHIVE_DATA_DIR the CLI uses ./var, like the server.
token="$(.venv/bin/archive-service tokens create --role archivist --institution "$edrpou" --name smoke)" \
  || fail "archive-service tokens create failed"
[ -n "$token" ] || fail "archive-service tokens create printed no token"

status="$(curl -s -o "$work/upload.json" -w '%{http_code}' --max-time 300 -X POST "$base/api/v1/journals" \
  -H "Authorization: Bearer $token" -H "Content-Type: application/json" --data-binary "@$example")" \
  || fail "POST /api/v1/journals: curl failed"
[ "$status" = 201 ] || fail "POST /api/v1/journals answered $status, not 201: $(head -c 2000 "$work/upload.json")"
doc="$(.venv/bin/python -c 'import json, sys; print(json.load(open(sys.argv[1]))["document_id"])' \
  "$work/upload.json")" || fail "no document_id in the upload answer: $(head -c 2000 "$work/upload.json")"
say "uploaded $example: 201, document $doc"

status="$(curl -s -o "$work/journal.pdf" -w '%{http_code}' --max-time 120 "$base/api/v1/documents/$doc/pdf" \
  -H "Authorization: Bearer $token" -H "X-Purpose: smoke test")" \
  || fail "GET /api/v1/documents/$doc/pdf: curl failed"
[ "$status" = 200 ] || fail "GET /api/v1/documents/$doc/pdf answered $status: $(head -c 2000 "$work/journal.pdf")"
[ "$(head -c 5 "$work/journal.pdf")" = "%PDF-" ] || fail "the download is not a PDF"
say "downloaded the signed PDF: $(wc -c <"$work/journal.pdf") bytes"

stop_server
say "server stopped"

# Every module must import with the runtime dependencies alone. Run in a folder of its own:
# importing archive_service.wsgi builds an app on ./var. The migrations' env.py only runs inside
# alembic, so it is left out.
mkdir "$work/imports"
(cd "$work/imports" && "$clone/.venv/bin/python" - <<'PY') || fail "a module of archive_service does not import without extras"
import importlib, pkgutil, sys
import archive_service
skip = {"archive_service.db.migrations.env"}
names = [m.name for m in pkgutil.walk_packages(archive_service.__path__, "archive_service.")]
failed = 0
for name in names:
    if name in skip:
        continue
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed += 1
        print(f"smoke: cannot import {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
print(f"smoke: imported {len(names) - len(skip)} modules, {failed} failed", file=sys.stderr)
sys.exit(1 if failed else 0)
PY

ok=yes
say "OK: fresh clone, ./scripts/serve.sh, upload 201, signed PDF downloaded, every module imports"
