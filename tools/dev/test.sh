#!/usr/bin/env bash
# test.sh -- `./dev test [--fast] [PATTERN...]`: install what is missing,
# build the Go interop tool, then run the test passes
#   default  bazel test //...
#   tsan     bazel test --config=tsan     over tests tagged "tsan"
#   asan     bazel test --config=sanitize over tests tagged "asan" (ASan+UBSan)
# (--fast: only the first), and, when the patterns are the default //...,
# two script tests of the CMake build:
#   cmake_sources  tools/dev/cmake_sources_check.sh (CMakeLists.txt vs Bazel)
#   install        tools/dev/install_test.sh (./dev install into a temporary
#                  prefix, the examples built and run against it)
# count the test cases of each pass from their XML
# results (tools/dev/count_tests.sh) and end with the line
#   N passed, N failed
# (a test case that left out a check with Go's tools counts as failed).
# where K counts the test cases that left out a check with Go's tools (Go
# not available). Exits non-zero when anything failed, including a build,
# and when K > 0: a run without Go's checks is not a green run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

fast=0
patterns=()
for arg in "$@"; do
  case $arg in
    --fast) fast=1 ;;
    -h | --help)
      echo "usage: ./dev test [--fast] [bazel target patterns...]"
      exit 0
      ;;
    --*) die "test: unknown option $arg" ;;
    *) patterns+=("$arg") ;;
  esac
done
((${#patterns[@]} > 0)) || patterns=(//...)

"$ROOT/tools/dev/deps.sh"
warn_foreign_symlinks

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0 failed=0 skipped=0 go_skipped=0
summary=()

# Tests that check traces with Go's own parser find it through these.
test_env=(--test_env=GENTRACE_GOROOT=/usr/lib/go-1.23)
if [[ -f tests/go/build.sh ]]; then
  say "building the Go interop tool (tests/go/build.sh)"
  if gotool=$(bash tests/go/build.sh | tail -n 1) && [[ -x $gotool ]]; then
    say "Go interop tool: $gotool"
    test_env+=("--test_env=GENTRACE_GOTOOL=$gotool")
  else
    gotool=""
    summary+=("go tool: tests/go/build.sh failed" \
      "  FAILED tests/go/build.sh (see its output above)")
    ((failed += 1))
  fi
else
  say "note: tests/go/build.sh does not exist yet; GENTRACE_GOTOOL is not set"
fi

# run_pass NAME TAG CONFIG_FLAGS...: one `bazel test` over the patterns, with
# the config flags; TAG, when not empty, keeps only the tests tagged so.
run_pass() {
  local name=$1 tag=$2 testlogs rc=0 line counts=""
  shift 2
  local config=("$@") flags=(--keep_going --test_summary=short "${test_env[@]}")
  [[ -z $tag ]] || flags+=(--build_tests_only "--test_tag_filters=$tag")

  if ! testlogs=$(bazel info "${config[@]}" bazel-testlogs 2>"$work/info.err")
  then
    cat "$work/info.err" >&2
    die "bazel info failed"
  fi
  say "pass $name: bazel test ${config[*]:+${config[*]} }${flags[*]} -- ${patterns[*]}"
  touch "$work/stamp"
  bazel test "${config[@]}" "${flags[@]}" -- "${patterns[@]}" 2>&1 |
    tee "$work/$name.log" || rc=${PIPESTATUS[0]}

  local details=()
  while IFS= read -r line; do
    case $line in
      COUNTS*) counts=$line ;;
      *) details+=("$line") ;;
    esac
  done < <("$ROOT/tools/dev/count_tests.sh" "$testlogs" "$work/stamp" \
    "$work/$name.log" "$rc")
  read -r _ p f s g <<<"${counts:-COUNTS 0 1 0 0}"
  ((passed += p, failed += f, skipped += s, go_skipped += g)) || true

  line="pass $name: $p passed, $f failed ($g of them left out Go's checks), $s skipped"
  if ((rc == 4)); then
    line+=" (no tests${tag:+ tagged $tag})"
  fi
  summary+=("$line" "${details[@]}")
}

# run_script NAME CMD...: a test that is a script outside Bazel; counts as
# one test case (exit 3: passed but left out Go's checks).
run_script() {
  local name=$1 rc=0
  shift
  say "script test $name: $*"
  "$@" || rc=$?
  case $rc in
    0) ((passed += 1)); summary+=("script $name: passed") ;;
    3)
      ((failed += 1, go_skipped += 1))
      summary+=("script $name: left out Go's checks" "  FAILED $*")
      ;;
    *) ((failed += 1)); summary+=("script $name: failed" "  FAILED $*") ;;
  esac
}

run_pass default ""
if [[ ${patterns[*]} == //... ]]; then
  run_script cmake_sources "$ROOT/tools/dev/cmake_sources_check.sh"
  run_script install env "GENTRACE_GOTOOL=${gotool:-}" \
    "$ROOT/tools/dev/install_test.sh"
fi
if ((fast == 0)); then
  run_pass tsan tsan --config=tsan
  run_pass asan asan --config=sanitize
fi

echo
say "summary"
printf '%s\n' "${summary[@]}"
((skipped == 0)) || echo "$skipped skipped"
((go_skipped == 0)) ||
  echo "not green: $go_skipped test cases left out their checks with Go's" \
    "tools (is Go installed? ./dev deps installs it)"
echo "$passed passed, $failed failed"
((failed == 0))
