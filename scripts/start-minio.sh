#!/usr/bin/env bash
# Start a throw-away MinIO server on 127.0.0.1 and print its storage URL on stdout:
#   s3+http://ROOT_USER:ROOT_PASSWORD@127.0.0.1:PORT/BUCKET
# (the bucket is not created: `archive-service storage init` does that, with Object Lock).
# Usage: scripts/start-minio.sh DIR [PORT]
#   DIR   server folder (data, log, pid); stop with scripts/stop-minio.sh DIR
#   PORT  S3 port (default: a free one); the console gets another free loopback port
# Environment:
#   MINIO_BINARY        the server to run (default: built by scripts/install-minio.sh)
#   MINIO_ROOT_USER     root credentials (default: archive-root and a random password); they are
#   MINIO_ROOT_PASSWORD for this throw-away server only and must be URL-safe
#   MINIO_BUCKET        bucket name put in the printed URL (default: journal-archive)
# The server listens on loopback only and keeps no data worth keeping: it is for tests and demos.
set -euo pipefail

DIR="${1:?usage: start-minio.sh DIR [PORT]}"
here="$(cd "$(dirname "$0")" && pwd)"
binary="${MINIO_BINARY:-$(bash "$here/install-minio.sh")}"
[ -x "$binary" ] || { echo "start-minio: $binary is not an executable MinIO server" >&2; exit 1; }

mkdir -p "$DIR/data" "$DIR/certs"
DIR="$(cd "$DIR" && pwd)"
if [ -f "$DIR/minio.pid" ] && kill -0 "$(cat "$DIR/minio.pid")" 2>/dev/null; then
  echo "start-minio: a server is already running for $DIR (pid $(cat "$DIR/minio.pid"))" >&2
  exit 1
fi

read -r free_port console_port < <(python3 - <<'PY'
import socket
probes = [socket.socket() for _ in range(2)]
for probe in probes:
    probe.bind(("127.0.0.1", 0))
print(*(probe.getsockname()[1] for probe in probes))
PY
)
PORT="${2:-$free_port}"
user="${MINIO_ROOT_USER:-archive-root}"
password="${MINIO_ROOT_PASSWORD:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}"
bucket="${MINIO_BUCKET:-journal-archive}"

# --certs-dir keeps a ~/.minio/certs of the user from silently switching the server to TLS;
# update checks and the web console are off: the server must not reach beyond loopback.
MINIO_ROOT_USER="$user" MINIO_ROOT_PASSWORD="$password" MINIO_UPDATE=off MINIO_BROWSER=off \
  nohup "$binary" server "$DIR/data" --quiet --certs-dir "$DIR/certs" \
    --address "127.0.0.1:$PORT" --console-address "127.0.0.1:$console_port" \
    >"$DIR/minio.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$DIR/minio.pid"
echo "$PORT" >"$DIR/port"

ready=""
for _ in $(seq 1 240); do  # bounded readiness wait (60 s)
  kill -0 "$pid" 2>/dev/null || break
  if curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/minio/health/ready"; then
    ready=yes
    break
  fi
  sleep 0.25
done
if [ -z "$ready" ]; then
  echo "start-minio: MinIO did not become ready on 127.0.0.1:$PORT; log tail:" >&2
  tail -n 40 "$DIR/minio.log" >&2 || true
  kill "$pid" 2>/dev/null || true
  exit 1
fi
echo "== MinIO running in $DIR on 127.0.0.1:$PORT (stop: bash scripts/stop-minio.sh $DIR)" >&2
echo "s3+http://$user:$password@127.0.0.1:$PORT/$bucket"
