#!/usr/bin/env bash
# Install the ETSI TS 119 102-2 validation report schema (and the schemas it imports) into a cache
# folder, from the jars the EU DSS project publishes on Maven Central. Needs only Java and Maven.
# Idempotent: when the pinned version is already installed it only prints the folder.
#
# The schemas are not vendored into the project: the tests (tests/etsi_schema.py) load them from
# this folder. Each jar is unpacked into a folder named after its artifact:
#   specs-validation-report/xsd/TS119102-2-v122.xsd   the v1.2.1-namespace report schema
#   specs-xmldsig/xsd/xmldsig-core-schema.xsd, xml.xsd
#   specs-xades/xsd/XAdES.xsd
#   specs-trusted-list-v211/xsd/ts_119612v020101_xsd.xsd
#
# Prints the folder's absolute path on stdout (progress goes to stderr), so callers can do
#   export ETSI_XSD_DIR="$(bash scripts/install-etsi-xsd.sh)"
#
# Environment:
#   ETSI_XSD_HOME     install folder (default ${XDG_CACHE_HOME:-$HOME/.cache}/journal-archive/etsi-xsd-<version>)
#   ETSI_XSD_VERSION  override the pinned DSS release (for trying an upgrade; tests are proven on the pin)
set -euo pipefail

# The DSS release whose specs-* jars hold the schemas (eu.europa.ec.joinup.sd-dss, 6.4).
PINNED_VERSION=6.4
GROUP_ID=eu.europa.ec.joinup.sd-dss
ARTIFACTS="specs-validation-report specs-xmldsig specs-xades specs-trusted-list-v211"
# Maven's dependency plugin, pinned too so the install does not change under us.
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1
# Every file the tests load: the main schema and what its imports resolve to.
REQUIRED_FILES="specs-validation-report/xsd/TS119102-2-v122.xsd
specs-xmldsig/xsd/xmldsig-core-schema.xsd
specs-xmldsig/xsd/xml.xsd
specs-xades/xsd/XAdES.xsd
specs-trusted-list-v211/xsd/ts_119612v020101_xsd.xsd"

version="${ETSI_XSD_VERSION:-$PINNED_VERSION}"
home="${ETSI_XSD_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/journal-archive/etsi-xsd-$version}"
stamp="$home/.installed"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ]; then
  echo "$home"
  exit 0
fi

for tool in java mvn; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "install-etsi-xsd: '$tool' is not on PATH; fetching the schemas needs Java and Maven 3" >&2
    exit 1
  }
done

echo "install-etsi-xsd: fetching the DSS $version schema jars from Maven Central into $home" >&2
mkdir -p "$(dirname "$home")"
staging="$(mktemp -d "$home.staging.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
chmod 755 "$staging"

dependencies=""
for artifact in $ARTIFACTS; do
  dependencies="$dependencies
    <dependency>
      <groupId>$GROUP_ID</groupId>
      <artifactId>$artifact</artifactId>
      <version>$version</version>
    </dependency>"
done
cat >"$staging/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.journal-archive</groupId>
  <artifactId>etsi-xsd-install</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>$dependencies
  </dependencies>
</project>
EOF

# Only the four jars (not DSS's JAXB runtime they depend on), only their xsd/ folder.
if ! mvn -q -B -f "$staging/pom.xml" "$DEPENDENCY_PLUGIN:unpack-dependencies" \
    -DexcludeTransitive=true -Dmdep.useSubDirectoryPerArtifact=true -Dmdep.stripVersion=true \
    -Dmdep.unpack.includes='xsd/**' -DoutputDirectory="$staging/unpacked" \
    >"$staging/mvn.log" 2>&1; then
  cat "$staging/mvn.log" >&2
  echo "install-etsi-xsd: Maven could not fetch $GROUP_ID:{${ARTIFACTS// /,}}:$version" >&2
  exit 1
fi
for artifact in $ARTIFACTS; do
  # The plugin names each folder <artifactId>-<type>.
  mv "$staging/unpacked/$artifact-jar" "$staging/$artifact"
done
rm -rf "$staging/unpacked" "$staging/target" "$staging/pom.xml" "$staging/mvn.log"

missing=""
while IFS= read -r file; do
  [ -s "$staging/$file" ] || missing="$missing $file"
done <<<"$REQUIRED_FILES"
if [ -n "$missing" ]; then
  echo "install-etsi-xsd: the DSS $version jars lack:$missing" >&2
  exit 1
fi
echo "$version" >"$staging/.installed"

# A concurrent installer that finished first wins; anything else in the folder is a broken install.
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$version" ]; then
  rm -rf "$home"
  mv "$staging" "$home"
  trap - EXIT
fi
echo "install-etsi-xsd: installed the ETSI schemas from DSS $version" >&2
echo "$home"
