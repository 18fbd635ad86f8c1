#!/usr/bin/env bash
# Render a synthetic journal with the project's renderer and turn chosen pages into PNG images,
# so a person can look at the layout. Everything goes to preview/ (git-ignored).
#
#   scripts/preview.sh [--profile 3u|3a|1b] [--size small|standard|large] [--pages 1-4]
set -euo pipefail
cd "$(dirname "$0")/.."

profile=3u
size=standard
pages=1-4
usage() { echo "usage: $0 [--profile 3u|3a|1b] [--size small|standard|large] [--pages N|N-M]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="${2:-}"; shift 2 ;;
    --size) size="${2:-}"; shift 2 ;;
    --pages) pages="${2:-}"; shift 2 ;;
    -h|--help) usage ;;
    *) usage ;;
  esac
done
case "$profile" in
  3u) pdf_profile="PDF/A-3u" ;; 3a) pdf_profile="PDF/A-3a" ;; 1b) pdf_profile="PDF/A-1b" ;; *) usage ;;
esac
case "$size" in small|standard|large) ;; *) usage ;; esac
if [[ "$pages" =~ ^([0-9]+)-([0-9]+)$ ]]; then
  first="${BASH_REMATCH[1]}"; last="${BASH_REMATCH[2]}"
elif [[ "$pages" =~ ^[0-9]+$ ]]; then
  first="$pages"; last="$pages"
else
  usage
fi

python=.venv/bin/python
[ -x "$python" ] || { echo "no $python: run scripts/test.sh or scripts/serve.sh once first" >&2; exit 1; }

if ! command -v pdftoppm >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # The package lists may be stale on a fresh machine; refresh them only when needed.
  $sudo apt-get install -y poppler-utils >&2 \
    || { $sudo apt-get update >&2 && $sudo apt-get install -y poppler-utils >&2; }
fi

mkdir -p preview
name="journal-$size-$profile"
export_file="preview/journal-$size.json"
pdf_file="preview/$name.pdf"
"$python" scripts/generate_journal.py --size "$size" -o "$export_file"
"$python" - "$export_file" "$pdf_file" "$pdf_profile" <<'PY'
import sys
from pathlib import Path

from archive_service.journal.parse import parse_export
from archive_service.render import DocumentInfo, SourceAttachment, TypstRenderer

export_path, pdf_path, profile = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
data = export_path.read_bytes()
parsed = parse_export(data, "application/json")
info = DocumentInfo(
    document_id="00000000-0000-4000-8000-000000000000",
    version=1,
    test_pki=True,
    verification_note="Перегляд макета: документ не підписано.",
    profile=profile,
)
with TypstRenderer(in_process=True) as renderer:
    rendered = renderer.render(
        parsed.journal, SourceAttachment(parsed.filename, parsed.media_type, data), info
    )
pdf_path.write_bytes(rendered.pdf)
PY

rm -f "preview/$name"-*.png
pdftoppm -png -r 80 -f "$first" -l "$last" "$pdf_file" "preview/$name"
realpath "$pdf_file"
ls "preview/$name"-*.png | xargs realpath
