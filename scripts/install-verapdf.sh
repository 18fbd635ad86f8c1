#!/usr/bin/env bash
# Install the veraPDF PDF/A validator (pinned release, from Maven Central) into a cache folder and
# write a `verapdf` launcher there. Needs only Java (>= 11) and Maven. Idempotent: when the pinned
# version is already installed it only prints the launcher's path.
#
# Prints the launcher's absolute path on stdout (progress goes to stderr), so callers can do
#   export VERAPDF="$(bash scripts/install-verapdf.sh)"
#
# Environment:
#   VERAPDF_HOME     install folder (default ${XDG_CACHE_HOME:-$HOME/.cache}/journal-archive/verapdf-<version>)
#   VERAPDF_VERSION  override the pinned release (for trying an upgrade; tests are proven on the pin)
set -euo pipefail

# The newest greenfield-apps release on Maven Central when pinned (1.28.x line, July 2025).
PINNED_VERSION=1.28.2
# Maven's dependency plugin, pinned too so the install does not change under us.
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1
MAIN_CLASS=org.verapdf.apps.GreenfieldCliWrapper

version="${VERAPDF_VERSION:-$PINNED_VERSION}"
home="${VERAPDF_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/journal-archive/verapdf-$version}"
launcher="$home/verapdf"
stamp="$home/.installed"

if [ -x "$launcher" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
  echo "$launcher"
  exit 0
fi

for tool in java mvn; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "install-verapdf: '$tool' is not on PATH; veraPDF needs Java 11+ and Maven 3" >&2
    exit 1
  }
done

echo "install-verapdf: fetching veraPDF $version from Maven Central into $home" >&2
mkdir -p "$(dirname "$home")"
staging="$(mktemp -d "$home.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
chmod 755 "$staging"

cat >"$staging/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.journal-archive</groupId>
  <artifactId>verapdf-install</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.verapdf.apps</groupId>
      <artifactId>greenfield-apps</artifactId>
      <version>$version</version>
    </dependency>
  </dependencies>
</project>
EOF

if ! mvn -q -B -f "$staging/pom.xml" "$DEPENDENCY_PLUGIN:copy-dependencies" \
    -DincludeScope=runtime -DoutputDirectory="$staging/lib" >"$staging/mvn.log" 2>&1; then
  cat "$staging/mvn.log" >&2
  echo "install-verapdf: Maven could not fetch org.verapdf.apps:greenfield-apps:$version" >&2
  exit 1
fi

cat >"$staging/verapdf" <<'EOF'
#!/bin/sh
# veraPDF command line (installed by scripts/install-verapdf.sh). Extra JVM options: VERAPDF_JAVA_OPTS.
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck disable=SC2086
exec java ${VERAPDF_JAVA_OPTS:-} -Dapp.home="$here" -cp "$here/lib/*" MAIN_CLASS "$@"
EOF
sed -i "s/MAIN_CLASS/$MAIN_CLASS/" "$staging/verapdf"
chmod +x "$staging/verapdf"

if ! "$staging/verapdf" --version 2>&1 | grep -q "veraPDF $version"; then
  "$staging/verapdf" --version >&2 || true
  echo "install-verapdf: the fetched veraPDF does not start" >&2
  exit 1
fi
rm -f "$staging/pom.xml" "$staging/mvn.log"
echo "$version" >"$staging/.installed"

# A concurrent installer that finished first wins; anything else in the folder is a broken install.
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$version" ]; then
  rm -rf "$home"
  mv "$staging" "$home"
  trap - EXIT
fi
echo "install-verapdf: installed veraPDF $version" >&2
echo "$launcher"
