#!/usr/bin/env bash
# tests/go/build.sh [1.23|1.22]: builds gotool (tests/go/*.go), gentrace's
# bridge to the Go toolchain's own trace parser, and prints the binary's path.
#
# gotool imports internal/trace/..., which only packages inside GOROOT may
# import, so the sources are staged in
#   Go 1.23: $GOROOT/src/internal/trace/testdata/cmd/gentrace_gotool/
#   Go 1.22: $GOROOT/src/internal/trace/v2/testdata/cmd/gentrace_gotool/
#            (imports rewritten: internal/trace -> internal/trace/v2)
# and built from $GOROOT/src. That needs write access to GOROOT (root here).
#
# The binary is ${GENTRACE_GO_CACHE:-$HOME/.cache/gentrace-go}/gotool-<ver>.
# It is rebuilt only when the sources (or this script, or the toolchain)
# changed: a stamp next to it holds their checksum. Content rather than mtime,
# because fresh clones share the cache and all look "newer".
#
# stdout: the binary path, nothing else. stderr: build diagnostics.
# Exit: 0 ok, 1 build failed, 2 usage, 3 that Go toolchain is not installed.
# GOROOT_123 / GOROOT_122 override /usr/lib/go-1.23 and /usr/lib/go-1.22.
set -euo pipefail

ver="${1:-1.23}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
case "$ver" in
  1.23)
    goroot="${GOROOT_123:-/usr/lib/go-1.23}"
    tracepkg="internal/trace"
    ;;
  1.22)
    goroot="${GOROOT_122:-/usr/lib/go-1.22}"
    tracepkg="internal/trace/v2"
    ;;
  -h|--help)
    sed -n '2,19p' "$0"; exit 0 ;;
  *)
    echo "usage: tests/go/build.sh [1.23|1.22]" >&2; exit 2 ;;
esac

if [[ ! -x "$goroot/bin/go" || ! -f "$goroot/src/$tracepkg/reader.go" ]]; then
  echo "build.sh: Go $ver with sources not found at $goroot" \
       "(Debian: apt-get install golang-$ver-go golang-$ver-src)" >&2
  exit 3
fi

cache="${GENTRACE_GO_CACHE:-${HOME:-/tmp}/.cache/gentrace-go}"
mkdir -p "$cache"
bin="$cache/gotool-$ver"
pkgdir="$tracepkg/testdata/cmd/gentrace_gotool"

# 1.22's parser is the same API under internal/trace/v2; the differences that
# remain are handled by the go1.23 build tag (experimental_go12x.go).
rewrite() {
  if [[ "$ver" == 1.22 ]]; then
    sed -e 's#"internal/trace"#"internal/trace/v2"#' \
        -e 's#"internal/trace/\(raw\|testtrace\)"#"internal/trace/v2/\1"#'
  else
    cat
  fi
}

sources=("$here"/*.go)
stamp="$( { cat "${sources[@]}" "$here/build.sh"; cat "$goroot/VERSION" 2>/dev/null || true; } \
          | sha256sum | cut -d' ' -f1)"

# One build at a time per version: builds share the staging directory.
exec 9>"$cache/gotool-$ver.lock"
flock 9

if [[ ! -x "$bin" || "$(cat "$bin.stamp" 2>/dev/null)" != "$stamp" ]]; then
  echo "build.sh: building gotool against $("$goroot/bin/go" version 2>/dev/null || echo "Go $ver")" >&2
  stage="$goroot/src/$pkgdir"
  if ! { rm -rf "$stage" && mkdir -p "$stage"; } 2>/dev/null; then
    echo "build.sh: cannot write $stage (GOROOT must be writable; run as root or set GOROOT_${ver/./})" >&2
    exit 1
  fi
  for f in "${sources[@]}"; do
    rewrite < "$f" > "$stage/$(basename "$f")"
  done
  tmp="$bin.tmp.$$"
  if ! (cd "$goroot/src" &&
        env GOROOT="$goroot" GOTOOLCHAIN=local GOFLAGS= GOWORK=off GOENV=off \
            GOOS= GOARCH= CGO_ENABLED=0 \
            "$goroot/bin/go" build -o "$tmp" "./$pkgdir") >&2; then
    rm -f "$tmp"
    echo "build.sh: go build failed (sources staged in $stage)" >&2
    exit 1
  fi
  mv -f "$tmp" "$bin"
  echo "$stamp" > "$bin.stamp"
fi
echo "$bin"
