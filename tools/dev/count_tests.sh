#!/usr/bin/env bash
# count_tests.sh -- count the test cases of one `bazel test` pass.
#
#   count_tests.sh TESTLOGS STAMP BAZEL_LOG BAZEL_EXIT
#
# TESTLOGS is the pass's testlogs directory (`bazel info bazel-testlogs` with
# the pass's options), STAMP a file touched just before the pass started,
# BAZEL_LOG everything `bazel test` printed and BAZEL_EXIT its exit code
# (paths absolute: the script works from the repository root).
#
# Prints one "  FAILED <label> <case>" line per failed case, one
# "  GO SKIPPED <label> <case>" line per case that skipped a check with Go's
# tools, then
#   COUNTS <passed> <failed> <skipped> <go_skipped>
#
# Rules (docs/BUILDING.md, "How ./dev test counts"):
#  1. Every test.xml under TESTLOGS newer than STAMP was written by this pass
#     and is counted case by case (tools/dev/test_xml.awk). Older files are
#     left from earlier runs and never count -- except the XML of a target
#     Bazel reports as "(cached) PASSED": that file is the result this pass
#     reused, so it counts.
#  2. Bazel's own one-testcase XML (the test wrote none: it crashed, timed out
#     or is not a gtest) counts as 1 passed case if it records no error, else
#     as the number of cases the test log announced ("Running N tests"), or
#     1, all failed.
#  3. A target in Bazel's summary with no counted XML (failed to build, no
#     status) counts as failed in the same way.
#  4. A target Bazel reports failed whose XML shows no failed case (e.g. a
#     sanitizer report at exit, after gtest wrote its XML) adds 1 failed case.
#  5. A failed build with nothing counted failed yet adds 1 failed case.
#  6. A case that skipped a check with Go's tools (it carries the test
#     property gentrace_go_check_skipped: tests/interop/go_tool.h) counts as
#     failed, and in <go_skipped> too (which says why).
set -euo pipefail

testlogs=$1 stamp=$2 log=$3 bazel_exit=$4
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

passed=0 failed=0 skipped=0 go_skipped=0
declare -A status=() cached=() labels=() target_failed=() counted=()

# Bazel's per-target summary: the lines after the last "Elapsed time" line,
# "<label>  [(cached) ]STATUS[ in 1.2s]". Test output printed earlier in the
# log (--test_output=errors) cannot be mistaken for it.
while IFS=$'\t' read -r label is_cached st; do
  dir=$(label_path "$label")
  status[$dir]=$st
  cached[$dir]=$is_cached
  labels[$dir]=$label
done < <(awk '
  /^INFO: Elapsed time:/ { n = 0; next }
  /^(\/\/|@)[^ ]+ +(\(cached\) )?(PASSED|FLAKY|FAILED|TIMEOUT|NO STATUS|INCOMPLETE|REMOTE FAILURE|TOOL HALTED|SKIPPED)/ {
    c = index($0, "(cached) ") ? 1 : 0
    rest = $0
    sub(/^[^ ]+ +/, "", rest)
    sub(/^\(cached\) /, "", rest)
    sub(/( in |,).*$/, "", rest)
    line[++n] = $1 "\t" c "\t" rest
  }
  END { for (i = 1; i <= n; i++) print line[i] }' "$log")

# target_dir XML: the testlogs-relative directory of the target that wrote
# XML (shard_N_of_M / run_N_of_M subdirectories belong to their target).
target_dir() {
  local d=${1%/test.xml}
  d=${d#"$testlogs"/}
  [[ ${d##*/} =~ ^(shard|run)_[0-9]+_of_[0-9]+ ]] && d=${d%/*}
  printf '%s\n' "$d"
}

# announced_cases DIR: cases the test log of DIR announced, else 1.
announced_cases() {
  local n=""
  if [[ -f $1/test.log ]]; then
    n=$(sed -n 's/^\[==========\] Running \([0-9][0-9]*\) tests\{0,1\} .*/\1/p' \
      "$1/test.log" | head -n 1)
  fi
  printf '%s\n' "${n:-1}"
}

fail_line() { printf '  FAILED %s %s\n' "$1" "$2"; }
go_skip_line() { printf '  GO SKIPPED %s %s\n' "$1" "$2"; }

# The XML files of this pass: fresh ones, plus those of cached targets.
xmls=()
if [[ -d $testlogs ]]; then
  while IFS= read -r f; do xmls+=("$f"); done < <(
    find "$testlogs" -name test.xml -newer "$stamp" \
      -not -path '*/test_attempts/*' | sort)
fi
for dir in "${!cached[@]}"; do
  [[ ${cached[$dir]} == 1 ]] || continue
  for f in "$testlogs/$dir/test.xml" "$testlogs/$dir"/shard_*_of_*/test.xml \
    "$testlogs/$dir"/run_*_of_*/test.xml; do
    [[ -f $f && ! $f -nt $stamp ]] && xmls+=("$f")
  done
done

for f in "${xmls[@]}"; do
  dir=$(target_dir "$f")
  label=${labels[$dir]:-//$dir}
  counted[$dir]=1
  fails=() go_skips=() counts=""
  while IFS= read -r line; do
    case $line in
      "FAIL "*) fails+=("${line#FAIL }") ;;
      "GOSKIP "*) go_skips+=("${line#GOSKIP }") ;;
      COUNT*) counts=$line ;;
    esac
  done < <(awk -f "$ROOT/tools/dev/test_xml.awk" "$f")
  # An XML the parser could not read counts as one failed case.
  read -r _ kind p fl s g <<<"${counts:-COUNT other 0 1 0 0}"
  if [[ $kind != gtest ]] && ((fl > 0)); then
    # Bazel's stand-in XML for a test that wrote none and failed.
    fl=$(announced_cases "${f%/test.xml}")
    p=0 s=0
    fails=("(${status[$dir]:-FAILED}, no gtest result)")
  fi
  for c in "${fails[@]}"; do fail_line "$label" "$c"; done
  for c in "${go_skips[@]}"; do go_skip_line "$label" "$c"; done
  ((passed += p, failed += fl, skipped += s, go_skipped += ${g:-0})) || true
  target_failed[$dir]=$((${target_failed[$dir]:-0} + fl))
done

# Sorted, so the failure lines come out in a stable order.
for dir in $(printf '%s\n' "${!status[@]}" | sort); do
  st=${status[$dir]}
  case $st in
    PASSED | FLAKY) ok=1 ;;
    SKIPPED) ((skipped += 1)); continue ;;
    *) ok=0 ;;
  esac
  if [[ -z ${counted[$dir]:-} ]]; then
    # No result file at all: it failed to build, or was never run.
    n=1
    [[ $ok == 0 && -f $testlogs/$dir/test.log &&
      $testlogs/$dir/test.log -nt $stamp ]] &&
      n=$(announced_cases "$testlogs/$dir")
    fail_line "${labels[$dir]}" "($st, no test.xml)"
    ((failed += n)) || true
  elif [[ $ok == 0 && ${target_failed[$dir]:-0} == 0 ]]; then
    fail_line "${labels[$dir]}" "($st after all its cases passed)"
    ((failed += 1)) || true
  fi
done

# Exit 0: all passed; 3: some test failed; 4: no tests. Anything else means
# the build (or Bazel) failed.
case $bazel_exit in
  0 | 3 | 4) ;;
  *)
    if ((failed == 0)); then
      fail_line "(build)" "(bazel exited with $bazel_exit)"
      failed=1
    fi
    ;;
esac

echo "COUNTS $passed $failed $skipped $go_skipped"
