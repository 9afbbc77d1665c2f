#!/usr/bin/env bash
# count_tests_test.sh -- tools/dev/count_tests.sh counts the test cases that
# skipped a check with Go's tools, on the XML a real gtest binary writes
# (tests/interop/go_tool_test run without GENTRACE_GOTOOL) and on the older
# gtest layout, where properties are attributes of <testcase>.
set -euo pipefail

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

work=${TEST_TMPDIR:-$(mktemp -d)}/count_tests_test
rm -rf "$work"
logs=$work/testlogs
mkdir -p "$logs/tests/interop/go_tool_test" "$logs/tests/old_gtest"
touch -d '1 minute ago' "$work/stamp"

# A real gtest binary without Go: six cases skip (and record it), one runs.
# Its XML goes where Bazel would put it; none of this test's own files.
env -u GENTRACE_GOTOOL -u XML_OUTPUT_FILE -u TEST_PREMATURE_EXIT_FILE \
  tests/interop/go_tool_test \
  "--gtest_output=xml:$logs/tests/interop/go_tool_test/test.xml" \
  >"$work/go_tool_test.log" 2>&1 || fail "go_tool_test failed: $(cat "$work/go_tool_test.log")"
grep -q 'GO SKIP' "$work/go_tool_test.log" || fail "go_tool_test printed no GO SKIP line"

# Older gtest: properties as attributes. One case fails and skipped Go, one
# passes, one passes and skipped Go.
cat >"$logs/tests/old_gtest/test.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" failures="1" disabled="0" errors="0" time="0.1" name="AllTests">
  <testsuite name="Old" tests="3" failures="1" disabled="0" errors="0" time="0.1">
    <testcase name="FailsWithoutGo" status="run" result="completed" classname="Old" gentrace_go_check_skipped="ViewWithGo x">
      <failure message="x" type=""><![CDATA[<testcase name="NotACase" gentrace_go_check_skipped="y">]]></failure>
    </testcase>
    <testcase name="Passes" status="run" result="completed" classname="Old" />
    <testcase name="PassesWithoutGo" status="run" result="completed" classname="Old" gentrace_go_check_skipped="z" />
  </testsuite>
</testsuites>
EOF

cat >"$work/bazel.log" <<'EOF'
INFO: Elapsed time: 1.0s, Critical Path: 0.5s
//tests/interop:go_tool_test                                    PASSED in 0.4s
//tests/old_gtest                                               FAILED in 0.1s
EOF

out=$(tools/dev/count_tests.sh "$logs" "$work/stamp" "$work/bazel.log" 3)
printf '%s\n' "$out"

want_counts="COUNTS 2 8 0 8"
[[ $(tail -n 1 <<<"$out") == "$want_counts" ]] ||
  fail "counts: got '$(tail -n 1 <<<"$out")', want '$want_counts'"
for c in MinimalTraceIsOk MissingFrequencyIsError TruncatedLastGenerationIsPartial \
  LargeDataThroughPipes RawReaderMustReachTheEnd ReportsUsageErrorsAsExitCodes; do
  grep -qxF "  GO SKIPPED //tests/interop:go_tool_test GoToolTest.$c" <<<"$out" ||
    fail "no GO SKIPPED line for GoToolTest.$c"
done
grep -qxF "  GO SKIPPED //tests/old_gtest Old.FailsWithoutGo" <<<"$out" ||
  fail "no GO SKIPPED line for Old.FailsWithoutGo"
for c in FailsWithoutGo PassesWithoutGo; do
  grep -qxF "  FAILED //tests/old_gtest Old.$c" <<<"$out" ||
    fail "no FAILED line for Old.$c"
done
grep -q "NotACase\|WithoutEnvVarNothingRuns\|Old.Passes$" <<<"$out" &&
  fail "a case that skipped nothing was listed"
echo PASS
