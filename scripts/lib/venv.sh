# Sourced by the entry scripts: use the active virtualenv or create ./.venv, and install the
# project (editable) with the given extras when pyproject.toml changed since the last install.
# Usage: ensure_venv "test"   (extras, comma-separated; may be empty)

ensure_venv() {
  local extras="${1:-}"
  if [ -n "${VIRTUAL_ENV:-}" ]; then
    PY="$VIRTUAL_ENV/bin/python"
  else
    if [ ! -x .venv/bin/python ]; then
      local base="${PYTHON:-python3}"
      "$base" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
        echo "journal-archive needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
        exit 1
      }
      echo "creating virtualenv .venv" >&2
      "$base" -m venv .venv
    fi
    PY="$PWD/.venv/bin/python"
  fi
  local spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  local stamp
  stamp="$(dirname "$PY")/.journal-archive-installed"
  local want
  want="$(sha256sum pyproject.toml | cut -c1-64) $extras"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    # The stamp is written only once the install worked and the package imports, so a failed or
    # incomplete install (say, an undeclared dependency) is tried again on the next run.
    rm -f "$stamp"
    echo "installing journal-archive $spec into $(dirname "$(dirname "$PY")")" >&2
    "$PY" -m pip install --quiet --upgrade pip || {
      echo "ensure_venv: upgrading pip failed" >&2
      exit 1
    }
    "$PY" -m pip install --quiet -e "$spec" || {
      echo "ensure_venv: pip install -e '$spec' failed" >&2
      exit 1
    }
    if ! "$PY" -c 'import archive_service.cli, archive_service.factory, archive_service.serving' \
      || ! "$(dirname "$PY")/archive-service" --help >/dev/null; then
      echo "ensure_venv: journal-archive installed but does not import (see above);" \
        "is a runtime dependency missing from pyproject.toml?" >&2
      exit 1
    fi
    echo "$want" > "$stamp"
  fi
  export PATH="$(dirname "$PY"):$PATH"
}
