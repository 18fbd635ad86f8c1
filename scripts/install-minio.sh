#!/usr/bin/env bash
# Build the MinIO server (community edition, which ships as source only) at a pinned version with
# `go install` into a cache folder, once. Needs only Go (>= 1.24); no cgo. Idempotent: when the
# pinned version is already built it only prints the binary's path.
#
# Prints the binary's absolute path on stdout (progress goes to stderr), so callers can do
#   export MINIO_BINARY="$(bash scripts/install-minio.sh)"
#
# Environment:
#   MINIO_HOME     install folder (default ${XDG_CACHE_HOME:-$HOME/.cache}/journal-archive/minio-<version>)
#   MINIO_VERSION  override the pinned module version (for trying an upgrade; tests are proven on the pin)
set -euo pipefail

# github.com/minio/minio has no tagged Go module versions; this pseudo-version is the commit the
# storage tests (contract suite and root-credential attacks) were proven on.
PINNED_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MODULE=github.com/minio/minio

version="${MINIO_VERSION:-$PINNED_VERSION}"
home="${MINIO_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/journal-archive/minio-$version}"
binary="$home/bin/minio"
stamp="$home/.installed"

if [ -x "$binary" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
  echo "$binary"
  exit 0
fi

# The official Go tarball installs to /usr/local/go; a non-login shell may not have it on PATH.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || {
  echo "install-minio: 'go' is not on PATH; building MinIO needs Go 1.24 or newer" >&2
  exit 1
}

echo "install-minio: building $MODULE@$version into $home (minutes when the Go caches are cold)" >&2
mkdir -p "$(dirname "$home")"
staging="$(mktemp -d "$home.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
chmod 755 "$staging"

# GOFLAGS is cleared so a caller's -mod=vendor or similar cannot change what gets built.
if ! CGO_ENABLED=0 GOFLAGS= GOBIN="$staging/bin" \
    go install "$MODULE@$version" >"$staging/go.log" 2>&1; then
  cat "$staging/go.log" >&2
  echo "install-minio: go install $MODULE@$version failed" >&2
  exit 1
fi

if ! "$staging/bin/minio" --version >"$staging/version.log" 2>&1; then
  cat "$staging/version.log" >&2
  echo "install-minio: the built MinIO server does not start" >&2
  exit 1
fi
rm -f "$staging/go.log" "$staging/version.log"
echo "$version" >"$staging/.installed"

# A concurrent installer that finished first wins; anything else in the folder is a broken install.
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$version" ]; then
  rm -rf "$home"
  mv "$staging" "$home"
  trap - EXIT
fi
echo "install-minio: installed MinIO $version" >&2
echo "$binary"
