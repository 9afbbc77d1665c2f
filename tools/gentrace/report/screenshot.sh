#!/usr/bin/env bash
# screenshot.sh -- a PNG of a `gentrace report` page, drawn by headless
# Chromium (Debian's chromium package; ./dev deps installs it).
#
#   tools/gentrace/report/screenshot.sh OUT.html OUT.png [WIDTH,HEIGHT]
#
# WIDTH,HEIGHT is the window's size in pixels (1400,1600 by default); the
# PNG shows the top of the page that fits in it.
set -euo pipefail

if (($# < 2 || $# > 3)); then
  echo "usage: $0 REPORT.html OUT.png [WIDTH,HEIGHT]" >&2
  exit 2
fi
html=$1
png=$2
size=${3:-1400,1600}
if [[ ! -f $html ]]; then
  echo "$0: $html: no such file" >&2
  exit 1
fi
browser=
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null; then
    browser=$b
    break
  fi
done
if [[ -z $browser ]]; then
  echo "$0: chromium not found: install Debian's chromium (./dev deps)" >&2
  exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
case $png in
  /*) out=$png ;;
  *) out=$PWD/$png ;;
esac
rm -f "$out"
timeout 120 "$browser" --headless --disable-gpu --no-sandbox \
  --hide-scrollbars --user-data-dir="$profile" --window-size="$size" \
  --screenshot="$out" "file://$abs" >/dev/null 2>&1 || true
if [[ ! -s $out ]]; then
  echo "$0: $browser wrote no screenshot" >&2
  exit 1
fi
echo "$out"
