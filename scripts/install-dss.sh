#!/usr/bin/env bash
# Build the EU DSS validator of the test suite (scripts/dss-validator: a small Maven project on a
# pinned DSS release from Maven Central) into a cache folder and write a `dss-validator` launcher
# there. Needs only Java (>= 17) and Maven. Idempotent: when this DSS version was already built
# from these very sources it only prints the launcher's path; editing the sources (or the pin)
# builds into a new folder.
#
# Prints the launcher's absolute path on stdout (progress goes to stderr), so callers can do
#   export DSS_VALIDATOR="$(bash scripts/install-dss.sh)"
#
# Environment:
#   DSS_VALIDATOR_HOME  install folder (default
#                       ${XDG_CACHE_HOME:-$HOME/.cache}/journal-archive/dss-validator-<version>-<hash>,
#                       the hash being of the project's sources; tests/signing/dss.py computes
#                       the same name)
set -euo pipefail

project="$(cd "$(dirname "$0")/dss-validator" && pwd)"
# The pin lives in the POM (dss.version), the one source of truth.
version="$(sed -n 's|^ *<dss.version>\([^<]*\)</dss.version>.*|\1|p' "$project/pom.xml" | head -n 1)"
if [ -z "$version" ]; then
  echo "install-dss: no <dss.version> in $project/pom.xml" >&2
  exit 1
fi
# What is built: the POM and everything under src/ (sha256sum lines of the sorted relative paths,
# hashed again; tests/signing/dss.py:source_hash() does the same).
hash="$(cd "$project" && find pom.xml src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum \
  | sha256sum | cut -c1-16)"
stamp_value="$version-$hash"
home="${DSS_VALIDATOR_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/journal-archive/dss-validator-$stamp_value}"
launcher="$home/dss-validator"
stamp="$home/.installed"

if [ -x "$launcher" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_value" ]; then
  echo "$launcher"
  exit 0
fi

for tool in java mvn; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "install-dss: '$tool' is not on PATH; the DSS validator needs Java 17+ and Maven 3" >&2
    exit 1
  }
done

echo "install-dss: building the DSS $version validator (sources $hash) into $home" >&2
mkdir -p "$(dirname "$home")"
staging="$(mktemp -d "$home.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
chmod 755 "$staging"

# Build from a copy, so that the working tree gets no target/ folder.
mkdir "$staging/build"
cp -R "$project/pom.xml" "$project/src" "$staging/build/"
if ! mvn -q -B -f "$staging/build/pom.xml" package >"$staging/mvn.log" 2>&1; then
  cat "$staging/mvn.log" >&2
  echo "install-dss: Maven could not build scripts/dss-validator (DSS $version)" >&2
  exit 1
fi
mv "$staging/build/target/dss-validator.jar" "$staging/build/target/lib" "$staging/"
rm -rf "$staging/build" "$staging/mvn.log"

cat >"$staging/dss-validator" <<'EOF'
#!/bin/sh
# EU DSS validator (built by scripts/install-dss.sh): JSON requests on stdin, one report per line
# on stdout. Extra JVM options: DSS_JAVA_OPTS.
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck disable=SC2086
exec java ${DSS_JAVA_OPTS:-} -cp "$here/dss-validator.jar:$here/lib/*" \
  local.journalarchive.dss.DssValidatorServer "$@"
EOF
chmod +x "$staging/dss-validator"

# Started once: loads the default validation policy and the PDF machinery.
if ! "$staging/dss-validator" --check 2>&1 | grep -q "EU DSS $version) ok"; then
  "$staging/dss-validator" --check >&2 || true
  echo "install-dss: the built DSS validator does not start" >&2
  exit 1
fi
echo "$stamp_value" >"$staging/.installed"

# A concurrent installer that finished first wins; anything else in the folder is a broken install.
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$stamp_value" ]; then
  rm -rf "$home"
  mv "$staging" "$home"
  trap - EXIT
fi
echo "install-dss: built the DSS $version validator" >&2
echo "$launcher"
