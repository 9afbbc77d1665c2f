#!/usr/bin/env bash
# fuzz.sh -- `./dev fuzz [SECONDS] [TARGET...]`: build every cc_binary
# tagged "fuzz" under the targets (default //...) with --config=fuzz (clang
# 14, libFuzzer + ASan) and run each for SECONDS (default 60).
#
# Per fuzzer, by target name: the corpus grows in .fuzz/<name>/corpus (kept
# between runs), starting from the seeds in tests/fuzz_corpus/<name>/ when
# that exists (read, never written); crash, leak, timeout and OOM inputs go to
# .fuzz/<name>/artifacts/, libFuzzer's output to .fuzz/<name>/fuzz.log.
# Reports runs, time and any crash; exits non-zero if any fuzzer found one.
#
# --config=fuzz sets --action_env=CC=clang, which Bazel 4.2.3 also hands to
# the C++ toolchain autoconfiguration, so @local_config_cc is regenerated for
# clang (and back for gcc on the next plain build); --platform_suffix=-fuzz
# keeps the outputs apart. See docs/BUILDING.md.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

seconds=60
if [[ ${1:-} =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
patterns=("$@")
((${#patterns[@]} > 0)) || patterns=(//...)

warn_foreign_symlinks
mapfile -t fuzzers < <(tagged_binaries fuzz "${patterns[@]}")
if ((${#fuzzers[@]} == 0)); then
  echo "no fuzz targets yet (cc_binary tagged \"fuzz\" under ${patterns[*]})"
  exit 0
fi

bazel build --config=fuzz -- "${fuzzers[@]}"
bin=$(bazel info --config=fuzz bazel-bin 2>/dev/null)

crashed=0
report=()
for t in "${fuzzers[@]}"; do
  name=${t##*:}
  dir=.fuzz/$name
  mkdir -p "$dir/corpus" "$dir/artifacts"
  seeds=()
  [[ -d tests/fuzz_corpus/$name ]] && seeds=("tests/fuzz_corpus/$name")
  say "fuzz $t for ${seconds}s (log: $dir/fuzz.log)"
  start=$(date +%s)
  rc=0
  # -timeout: one input running this long is reported as a hang (a crash).
  timeout --kill-after=10 $((seconds + 120)) "$bin/$(label_path "$t")" \
    -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" "${seeds[@]}" \
    >"$dir/fuzz.log" 2>&1 || rc=$?
  elapsed=$(($(date +%s) - start))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/fuzz.log" |
    tail -n 1)
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$dir/fuzz.log" |
    tail -n 1)
  line="$t: ${runs:-?} runs in ${elapsed}s"
  if [[ -n $artifact ]]; then
    crashed=1
    line+=", CRASH: $artifact"
    line+=$'\n'"  $(grep -m 1 -E '^SUMMARY: |ERROR: ' "$dir/fuzz.log" || true)"
    line+=$'\n'"  reproduce: $bin/$(label_path "$t") $artifact"
  elif ((rc != 0)); then
    crashed=1
    line+=", FAILED (exit $rc, no crash input; see $dir/fuzz.log)"
  else
    line+=", no crash ($(find "$dir/corpus" -type f | wc -l) corpus files)"
  fi
  report+=("$line")
done

echo
say "fuzz summary"
printf '%s\n' "${report[@]}"
exit "$crashed"
