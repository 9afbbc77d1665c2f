#!/usr/bin/env bash
# cmake_sources_check.sh -- fails when CMakeLists.txt and the Bazel build
# disagree (run by `./dev test`; a few seconds):
#  1. sources: the .cc files of everything the CMake build covers in Bazel
#     (the transitive deps of the targets below, outside third_party/) must
#     be exactly the .cc files CMakeLists.txt lists. A new source in one of
#     those Bazel libraries, or a new library they depend on, fails here
#     until CMakeLists.txt lists it too; so does a stale CMake entry.
#  2. headers: every header CMakeLists.txt installs must exist, and each of
#     our own headers it #includes must be installed too (so the installed
#     tree compiles on its own).
# Prints the differences; exit 0 when none.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# What the CMake build builds: the tracer, the reader libraries and the
# gentrace tool (and with them base/, format/ and cpusample/).
targets=(//tracer:tracer //reader:reader //reader:dump //reader:validator
  //reader:gentrace_info //tools/gentrace:gentrace)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

expr="kind('source file', deps($(IFS=+; echo "${targets[*]}"))) except //third_party/..."
bazel query --noshow_progress "$expr" >"$work/query" 2>"$work/query.err" ||
  { cat "$work/query.err" >&2; die "bazel query failed"; }
grep -v '^@' "$work/query" | grep '\.cc$' |
  sed -e 's|^//||' -e 's|:|/|' | sort -u >"$work/bazel"

# The .cc paths CMakeLists.txt names (outside comments).
sed 's/#.*//' CMakeLists.txt | grep -oE '[A-Za-z0-9_./-]+\.cc\b' |
  sort -u >"$work/cmake"

status=0
if ! diff -u --label bazel --label CMakeLists.txt "$work/bazel" \
  "$work/cmake" >"$work/diff"; then
  echo "CMakeLists.txt and Bazel disagree on the sources of ${targets[*]}"
  echo "(- only in Bazel, + only in CMakeLists.txt):"
  tail -n +3 "$work/diff" | grep '^[-+]'
  status=1
fi

# Installed headers: the GENTRACE_*_HDRS lists.
sed 's/#.*//' CMakeLists.txt |
  awk '/set\(GENTRACE_[A-Z]+_HDRS/ {on = 1} on {print} on && /\)/ {on = 0}' |
  grep -oE '[A-Za-z0-9_./-]+\.h\b' | sort -u >"$work/hdrs"
while IFS= read -r h; do
  if [[ ! -f $h ]]; then
    echo "CMakeLists.txt installs $h, which does not exist"
    status=1
    continue
  fi
  while IFS= read -r inc; do
    [[ -f $inc ]] || continue  # a system or Abseil header
    grep -qxF "$inc" "$work/hdrs" || {
      echo "$h includes $inc, which CMakeLists.txt does not install"
      status=1
    }
  done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$h")
done <"$work/hdrs"

((status == 0)) &&
  echo "CMakeLists.txt matches Bazel: $(wc -l <"$work/cmake") sources," \
    "$(wc -l <"$work/hdrs") installed headers"
exit "$status"
