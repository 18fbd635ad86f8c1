# Sourced by the scripts that need Debian packages (PostgreSQL, SoftHSM2, libfaketime).
# Usage: apt_install WHAT PACKAGE...   (WHAT names the tools in the progress line)
# Installs from the package lists the machine has; refreshes them once if that fails.

apt_install() {
  local what="$1"
  shift
  echo "== installing $what from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q "$@" >&2; then
    apt-get update -q >&2
    apt-get install -y -q "$@" >&2
  fi
}
